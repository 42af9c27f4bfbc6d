#!/usr/bin/env python3
"""Writes cases.json for matcher/tests/stix_differential.rs: single-value
verdicts of OASIS's reference matcher, stix2-matcher, on STIX patterns.

Run by hand (not by the tests or CI), in a virtualenv:

    python3 -m venv /tmp/smenv
    /tmp/smenv/bin/pip install stix2-matcher==3.0.0 pytest
    /tmp/smenv/bin/python matcher/tests/stix2_matcher/generate.py > matcher/tests/stix2_matcher/cases.json

Two sets of cases, each a (pattern, observed object, verdict) triple, where
the observation is one object holding one value, which is what one alert
field gives intelmatch:

- "suite": the patterns of stix2-matcher's own v2.1 tests on its string and
  IP test properties, moved onto object paths intelmatch indexes
  (`test:string` becomes `mutex:name`, `test:ip` becomes `ipv4-addr:value`)
  and judged against the same value as in its tests;
- "own": patterns on every kind intelmatch indexes, including the shapes of
  issue 23 point 10 (LIKE case, LIKE on addresses, bad dates, qualifiers).

Only the verdicts are kept; nothing of stix2-matcher's code is.
"""

import importlib
import json
import pkgutil
import sys

from stix2matcher.matcher import match
import stix2matcher.test.v21 as suite

SCO = {
    "ipv4-addr:value": lambda v: {"type": "ipv4-addr", "value": v},
    "ipv6-addr:value": lambda v: {"type": "ipv6-addr", "value": v},
    "domain-name:value": lambda v: {"type": "domain-name", "value": v},
    "url:value": lambda v: {"type": "url", "value": v},
    "email-addr:value": lambda v: {"type": "email-addr", "value": v},
    "mutex:name": lambda v: {"type": "mutex", "name": v},
    "file:name": lambda v: {"type": "file", "name": v},
    "file:hashes.MD5": lambda v: {"type": "file", "hashes": {"MD5": v}},
    "file:hashes.'SHA-256'": lambda v: {"type": "file", "hashes": {"SHA-256": v}},
}

KIND = {
    "ipv4-addr:value": "ipv4",
    "ipv6-addr:value": "ipv6",
    "domain-name:value": "domain",
    "url:value": "url",
    "email-addr:value": "email",
    "mutex:name": "mutex",
    "file:name": "filename",
    "file:hashes.MD5": "md5",
    "file:hashes.'SHA-256'": "sha256",
}

# From the suite's observation: the values its string and IP properties hold.
SUITE_PATHS = {"test:string": ("mutex:name", "hello"), "test:ip": ("ipv4-addr:value", "11.22.33.44")}


def observation(path, value):
    obj = dict(SCO[path](value), id=SCO[path](value)["type"] + "--9c61d8ff-21ca-489a-accd-7356c2ea0a7b")
    return [{
        "type": "bundle",
        "id": "bundle--c2a23389-17c9-4247-8aa2-d2ffde3de334",
        "objects": [
            {
                "id": "observed-data--647947aa-4cc3-43a3-a42f-2c670986d777",
                "type": "observed-data",
                "spec_version": "2.1",
                "number_observed": 1,
                "first_observed": "2024-01-01T00:00:00Z",
                "last_observed": "2024-01-01T00:00:00Z",
                "object_refs": [obj["id"]],
            },
            obj,
        ],
    }]


def verdict(pattern, path, value):
    try:
        return bool(match(pattern, observation(path, value), stix_version="2.1"))
    except Exception as e:  # the reference refuses the pattern
        return "error: " + type(e).__name__


def suite_patterns():
    for info in pkgutil.iter_modules(suite.__path__):
        module = importlib.import_module(f"{suite.__name__}.{info.name}")
        for name in dir(module):
            for mark in getattr(getattr(module, name), "pytestmark", []):
                if mark.name != "parametrize" or "pattern" not in mark.args[0]:
                    continue
                for row in mark.args[1]:
                    pattern = row if isinstance(row, str) else row[0]
                    if isinstance(pattern, str):
                        yield info.name, pattern


def own_cases():
    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    rows = [
        ("[ipv4-addr:value = '198.51.100.7']", "ipv4-addr:value", ["198.51.100.7", "198.51.100.8"]),
        ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "ipv4-addr:value", ["198.51.100.7", "198.51.101.7"]),
        ("[ipv4-addr:value LIKE '45.77.12.%']", "ipv4-addr:value", ["45.77.12.9", "45.77.13.9", "45.77.120.9"]),
        ("[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')]", "ipv4-addr:value", ["198.51.100.2", "198.51.100.3"]),
        ("[ipv6-addr:value = '2001:db8::1']", "ipv6-addr:value", ["2001:db8::1", "2001:db8::2"]),
        ("[ipv6-addr:value ISSUBSET '2001:db8::/32']", "ipv6-addr:value", ["2001:db8:ff::1", "2001:db9::1"]),
        ("[domain-name:value = 'evil.example']", "domain-name:value", ["evil.example", "good.example"]),
        ("[domain-name:value LIKE '%.evil.example']", "domain-name:value", ["a.evil.example", "evil.example.org"]),
        ("[url:value = 'http://evil.example/a']", "url:value", ["http://evil.example/a", "http://evil.example/b"]),
        ("[url:value LIKE '%Payload%']", "url:value", ["http://x.example/Payload.bin", "http://x.example/other.bin"]),
        ("[url:value LIKE 'http://evil.example/%']", "url:value", ["http://evil.example/x", "http://good.example/x"]),
        ("[email-addr:value = 'phish@evil.example']", "email-addr:value", ["phish@evil.example", "ok@evil.example"]),
        ("[mutex:name LIKE '%Global\\\\Evil%']", "mutex:name", ["Global\\EvilMutex", "Global\\Other"]),
        ("[mutex:name = 'Global\\\\EvilMutex']", "mutex:name", ["Global\\EvilMutex", "Global\\evilmutex"]),
        ("[file:name = 'invoice.exe']", "file:name", ["invoice.exe", "invoice.pdf"]),
        (f"[file:hashes.MD5 = '{md5}']", "file:hashes.MD5", [md5, "0" * 32]),
        (f"[file:hashes.'SHA-256' = '{sha}']", "file:hashes.'SHA-256'", [sha, "0" * 64]),
        (f"[file:hashes.MD5 = '{md5}' OR file:name = 'x.exe']", "file:hashes.MD5", [md5]),
        (f"[file:hashes.MD5 = '{md5}' AND file:name = 'x.exe']", "file:hashes.MD5", [md5]),
        (f"[file:hashes.MD5 = '{md5}' AND file:created = t'2023-02-29T00:00:00Z']", "file:hashes.MD5", [md5]),
        ("[domain-name:value = 'evil.example'] OR [ipv4-addr:value = '198.51.100.7']", "ipv4-addr:value", ["198.51.100.7"]),
        ("[domain-name:value = 'evil.example'] AND [ipv4-addr:value = '198.51.100.7']", "ipv4-addr:value", ["198.51.100.7"]),
        ("[domain-name:value = 'evil.example'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7']", "ipv4-addr:value", ["198.51.100.7"]),
        ("[ipv4-addr:value = '198.51.100.7'] WITHIN 300 SECONDS", "ipv4-addr:value", ["198.51.100.7"]),
        ("[ipv4-addr:value = '198.51.100.7'] REPEATS 1 TIMES", "ipv4-addr:value", ["198.51.100.7"]),
        ("[ipv4-addr:value = '198.51.100.7'] REPEATS 2 TIMES", "ipv4-addr:value", ["198.51.100.7"]),
        ("[ipv4-addr:value != '198.51.100.7']", "ipv4-addr:value", ["198.51.100.8"]),
        ("[ipv4-addr:value NOT ISSUBSET '198.51.100.0/24']", "ipv4-addr:value", ["198.51.101.7"]),
    ]
    for pattern, path, values in rows:
        for v in values:
            yield pattern, path, v


def main():
    cases = []
    seen = set()
    for module, pattern in suite_patterns():
        for test_path, (path, value) in SUITE_PATHS.items():
            if test_path + " " not in pattern and test_path + "]" not in pattern:
                continue
            moved = pattern.replace(test_path, path)
            if "test:" in moved or (moved, value) in seen:
                continue
            seen.add((moved, value))
            cases.append({"origin": f"stix2-matcher test/v21/{module}", "pattern": moved,
                          "kind": KIND[path], "value": value, "verdict": verdict(moved, path, value)})
    for pattern, path, value in own_cases():
        cases.append({"origin": "own", "pattern": pattern, "kind": KIND[path], "value": value,
                      "verdict": verdict(pattern, path, value)})
    json.dump(cases, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
