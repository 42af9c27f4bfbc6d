#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (committed).

Alerts come from tests/fixtures/alerts (the same alerts as
/work/shared/wazuh/alerts); everything else is written here, modelled on the
fixtures of sync/tests (opencti_server.rs, misp_server.rs) and the STIX 2.1
patterns OpenCTI and MISP produce. Re-run from the repository root:
`python3 fuzz/make_seeds.py`.
"""
import json
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def target(name):
    d = os.path.join(CORPUS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(d, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- stix_pattern ---------------------------------------------------------
PATTERNS = [
    "[ipv4-addr:value = '198.51.100.23']",
    "[ipv4-addr:value ISSUBSET '203.0.113.0/24']",
    "[ipv6-addr:value = '2001:db8:bad::10']",
    "[domain-name:value = 'evil.example']",
    "[url:value = 'http://evil.example/payload.exe']",
    "[email-addr:value = 'phish@evil.example']",
    "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
    "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' OR file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
    "[file:name = 'evil.exe' AND file:size > 1024]",
    "[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]",
    "[domain-name:value LIKE '%.evil.example']",
    "[url:value LIKE 'http://evil.example/%']",
    "[user-agent:value = 'Mozilla/5.0 (EvilBot)']",
    "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\Evil']",
    "[mutex:name = 'Global\\\\EvilMutex']",
    "[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2', '203.0.113.9')]",
    "[domain-name:value MATCHES '^evil[0-9]+\\\\.example$']",
    "[file:hashes.'SHA-256' = 'aa'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.3'] WITHIN 300 SECONDS",
    "([ipv4-addr:value = '198.51.100.4'] OR [domain-name:value = 'a.example']) AND [url:value = 'http://b.example/']",
    "[x509-certificate:hashes.'SHA-1' = '0123456789abcdef0123456789abcdef01234567']",
    "[file:extensions.'windows-pebinary-ext'.imphash = 'f34d5f2d4577ed6d9ceec516c1f5a744']",
    "[email-message:from_ref.value = 'a@evil.example' AND email-message:to_refs[*].value = 'b@victim.example']",
    "[process:command_line LIKE '%powershell -enc%'] REPEATS 5 TIMES",
    "[ipv4-addr:value = '198.51.100.5'] START t'2024-01-01T00:00:00Z' STOP t'2024-02-01T00:00:00.123Z'",
    "[artifact:payload_bin = b'aGVsbG8=' AND artifact:mime_type NOT = 'text/plain']",
    "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'curl/8.0']",
    "[x-opencti-hostname:value = 'srv01.evil.example']",
    "[file:size >= 10 AND file:size <= 2.5e3 AND file:name NOT LIKE '%.tmp' AND file:parent_directory_ref EXISTS]",
    "[a:b ISSUPERSET '10.0.0.0/8' OR a:c = true OR a:d != -12]",
    "[ipv4-addr:value = '198.51.100.6'",
]


# --- normalize (first byte: selector % 18) ---------------------------------
NORMALIZE = [
    (0, " 192.0.2.1 "), (0, "198.51.100[.]7"), (1, "10.1.2.3/8"), (1, "[2001:DB8::1]"),
    (1, "::ffff:192.0.2.1"), (2, "192.168.1.0/24"), (3, "fe80::1%eth0"), (3, "2001:0db8:0000:0000:0000:0000:0000:0001"),
    (4, "Evil.Example."), (4, "bücher.example"), (4, "xn--bcher-kva.example"), (4, "evil[.]example"),
    (5, "hxxp://evil[.]example/a/../b?c=d#e"), (5, "evil.example:8080/x"), (5, "https://[2001:db8::1]:443/"),
    (5, "HTTP://User:Pass@EVIL.example/%7e"), (6, "A.Person@Evil.Example"), (6, "x[@]evil.example"),
    (7, "D41D8CD98F00B204E9800998ECF8427E"), (8, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    (9, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (10, "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
    (11, "f34d5f2d4577ed6d9ceec516c1f5a744"), (12, "3:AbC:dEf"), (13, "C:\\Temp\\Evil.EXE"),
    (14, "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"), (15, " Mozilla/5.0 (X11) "),
    (16, "Global\\M"), (17, "hxxps[:]//evil[.]example/login"), (17, "1.2.3.4/32"),
]


# --- cdb_roundtrip (0xFE between records, 0xFF between fields) ------------
def cdb_input(opts, records):
    out = bytearray([opts])
    for i, (source, label, score, keys) in enumerate(records):
        if i:
            out.append(0xFE)
        fields = [source.encode(), label.encode(), score.encode()]
        for sel, key in keys:
            fields.append(bytes([sel]) + key.encode())
        out += b"\xff".join(fields)
    return bytes(out)


# kind index in Kind::ALL: ipv4 0, ipv6 1, domain 2, url 3, email 4, md5 5,
# sha1 6, sha256 7, sha512 8, imphash 9, hash 10, filename 11, regkey 12,
# user_agent 13, mutex 14; method: + 15 cidr, + 30 substring, + 45 prefix.
CDB = [
    (0, [("opencti", "c2", "80", [(0, "198.51.100.23"), (1, "2001:db8:bad::10"), (2, "evil.example")])]),
    (1, [("misp", "emotet", "90", [(0, "198.51.100.24"), (2, "evil.example"), (7, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")])]),
    (0, [("feed", "", "", [(15, "203.0.113.0/24"), (15, "10.0.0.0/8"), (15, "172.16.0.0/12"), (16, "2001:db8::/32")])]),
    (3, [("feed", "", "", [(15, "192.168.0.0/28"), (15, "0.0.0.0/0")])]),
    (0, [("odd \"source\": x,y\tz", "fam ily", "-5", [(3, "http://evil.example:8080/a?b=c#d"), (4, "a@evil.example")])]),
    (0, [("s", "", "", [(2, 'quo"te.example'), (2, "line\nbreak.example"), (2, ""), (2, "nul\x00.example")])]),
    (0, [("s", "", "", [(32, "evil"), (47, "http://evil"), (11, "evil.exe"), (12, "hkey_local_machine\\software")])]),
    (1, [("a", "l1", "1", [(0, "198.51.100.1")]), ("b", "l2", "2", [(0, "198.51.100.1")]),
         ("c", "l3", "3", [(0, "198.51.100.1")]), ("d", "", "", [(0, "198.51.100.1")]), ("e", "", "", [(0, "198.51.100.1")])]),
    (0, [("x" * 300, "y" * 100, "100", [(2, "long.example"), (6, "da39a3ee5e6b4b0d3255bfef95601890afd80709")])]),
    (0, [("src", "", "", [(1, "::ffff:192.0.2.1"), (1, "fe80::1"), (2, "évil.example"), (13, "Mozilla/5.0 (a:b)")])]),
]


# --- opencti_decode --------------------------------------------------------
def indicator(id_, pattern, **over):
    n = {
        "__typename": "Indicator", "id": id_, "standard_id": f"indicator--{id_}",
        "entity_type": "Indicator", "name": pattern, "description": None,
        "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
        "valid_from": "2024-01-01T00:00:00.000Z", "valid_until": None, "revoked": False,
        "x_opencti_score": 80, "x_opencti_detection": True,
        "x_opencti_main_observable_type": "IPv4-Addr", "indicator_types": ["malicious-activity"],
        "confidence": 90, "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z", "created_at": "2024-01-01T00:00:00.000Z",
        "updated_at": "2024-01-02T00:00:00.000Z",
        "objectLabel": [{"__typename": "Label", "id": "l1", "value": "c2", "color": "#f00"}],
        "objectMarking": [{"__typename": "MarkingDefinition", "id": "m1",
                           "standard_id": "marking-definition--m1", "definition_type": "TLP",
                           "definition": "TLP:AMBER", "x_opencti_order": 3}],
        "createdBy": {"__typename": "Organization", "id": "org1", "name": "ACME CERT",
                      "entity_type": "Organization"},
        "killChainPhases": [],
    }
    n.update(over)
    return n


def observable(id_, entity_type, value, **over):
    n = {
        "__typename": entity_type.replace("-", ""), "id": id_,
        "standard_id": f"{entity_type.lower()}--{id_}", "entity_type": entity_type,
        "observable_value": value, "x_opencti_score": 50, "x_opencti_description": None,
        "created_at": None, "updated_at": "2024-01-03T00:00:00.000Z",
        "objectLabel": [], "objectMarking": [], "createdBy": None,
    }
    n.update(over)
    return n


def relationship(id_, rel, frm, to):
    return {
        "__typename": "StixCoreRelationship", "id": id_,
        "standard_id": f"relationship--{id_}", "entity_type": "stix-core-relationship",
        "relationship_type": rel, "fromId": frm[0], "fromType": frm[1],
        "toId": to[0], "toType": to[1], "confidence": 80, "revoked": False,
        "start_time": None, "stop_time": None, "created_at": None,
        "updated_at": "2024-01-04T00:00:00.000Z",
    }


def page(root, nodes, has_next=False, cursor="YXJyYXljb25uZWN0aW9uOjE=", count=None):
    return {"data": {root: {
        "edges": [{"node": n, "cursor": cursor} for n in nodes],
        "pageInfo": {"endCursor": cursor, "hasNextPage": has_next,
                     "globalCount": len(nodes) if count is None else count},
    }}}


OPENCTI = [
    page("indicators", [indicator("i1", p) for p in PATTERNS[:4]]),
    page("indicators", [indicator("i2", PATTERNS[6], x_opencti_main_observable_type="StixFile"),
                        indicator("i3", "rule x { condition: true }", pattern_type="yara"),
                        indicator("i4", PATTERNS[3], revoked=True, x_opencti_detection=False,
                                  valid_until="2024-06-01T00:00:00.000Z")], has_next=True, count=10),
    page("indicators", [indicator("i5", PATTERNS[10], x_opencti_score=10,
                                  objectLabel={"edges": [{"node": {"id": "l", "value": "benign"}}]},
                                  objectMarking={"edges": [{"node": {"definition": "TLP:RED"}}]})]),
    page("stixCyberObservables", [observable("o1", "IPv4-Addr", "198.51.100.23"),
                                  observable("o2", "Domain-Name", "evil.example"),
                                  observable("o3", "Url", "http://evil.example/x")]),
    page("stixCyberObservables", [observable("o4", "StixFile", "dropper.exe", name="dropper.exe",
                                             hashes=[{"__typename": "Hash", "algorithm": "SHA-256",
                                                      "hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
                                                     {"algorithm": "MD5", "hash": "d41d8cd98f00b204e9800998ecf8427e"}]),
                                  observable("o5", "Email-Addr", "a@evil.example"),
                                  observable("o6", "Windows-Registry-Key", "HKLM\\Software\\Evil", attribute_key="HKLM\\Software\\Evil"),
                                  observable("o7", "Mutex", "Global\\M", name="Global\\M"),
                                  observable("o8", "Autonomous-System", "AS64496", number=64496)]),
    page("stixCoreRelationships", [relationship("r1", "based-on", ("i1", "Indicator"), ("o1", "IPv4-Addr")),
                                   relationship("r2", "resolves-to", ("o2", "Domain-Name"), ("o1", "IPv4-Addr")),
                                   relationship("r3", "uses", ("i1", "Indicator"), ("m1", "Malware"))]),
    page("indicators", []),
    {"data": {"indicators": None}},
    {"errors": [{"message": "You must be logged in to do this.", "path": ["indicators"],
                 "extensions": {"code": "AUTH_REQUIRED"}, "name": "AUTH_REQUIRED"}], "data": None},
    {"errors": [{"name": "DATABASE_ERROR", "message": "Elastic down", "data": {"http_status": 500}}]},
    {"data": {"about": {"version": "6.9.28"}}},
]


# --- misp_decode -----------------------------------------------------------
def attribute(id_, type_, value, category="Network activity", to_ids=True, deleted=False, tags=(), **over):
    a = {
        "id": str(id_), "event_id": "7", "object_id": "0", "object_relation": None,
        "category": category, "type": type_, "to_ids": to_ids, "uuid": f"5f0c{id_:04d}-aaaa-bbbb-cccc-000000000000",
        "timestamp": "1709251200", "distribution": "5", "sharing_group_id": "0",
        "comment": "", "deleted": deleted, "disable_correlation": False,
        "first_seen": None, "last_seen": None, "value": value, "event_uuid": "5f0c0000-eeee-eeee-eeee-000000000007",
        "Event": {"id": "7", "uuid": "5f0c0000-eeee-eeee-eeee-000000000007", "info": "Emotet wave",
                  "orgc_id": "1", "org_id": "1", "threat_level_id": "1", "published": True,
                  "timestamp": "1709251200", "distribution": "1",
                  "Orgc": {"id": "1", "name": "CIRCL", "uuid": "o"}},
        "Tag": [{"id": "1", "name": t, "colour": "#fff"} for t in tags],
    }
    a.update(over)
    return a


def rest(attrs):
    return {"response": {"Attribute": attrs}}


MISP = [
    rest([attribute(1, "ip-dst", "198.51.100.23", tags=["tlp:green"]),
          attribute(2, "domain", "evil.example"),
          attribute(3, "url", "hxxp://evil[.]example/a"),
          attribute(4, "sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", category="Payload delivery")]),
    rest([attribute(5, "ip-dst|port", "198.51.100.24|443"),
          attribute(6, "domain|ip", "evil.example|198.51.100.25"),
          attribute(7, "filename|sha256", "evil.exe|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
          attribute(8, "email-src", "a@evil.example", to_ids=0),
          attribute(9, "regkey|value", "HKLM\\Software\\Evil|1"),
          attribute(10, "text", "not matchable")]),
    rest([attribute(11, "ip-src", "203.0.113.0/24", deleted=True),
          attribute(12, "hostname", "srv.evil.example", tags=["false-positive"]),
          attribute(13, "user-agent", "Mozilla/5.0 (EvilBot)", decay_score=[{"score": 12.5, "decayed": False}]),
          attribute(14, "md5", "d41d8cd98f00b204e9800998ecf8427e", uuid=""),
          attribute(15, "mutex", "Global\\M", timestamp=1709251300, to_ids="1")]),
    {"response": []},
    {"response": {"Attribute": None}},
    {"response": {"Attribute": {}}},
    [{"Event": {"id": "7", "uuid": "5f0c0000-eeee-eeee-eeee-000000000007", "timestamp": "1709251200", "published": True}},
     {"id": 8, "uuid": "5f0c0000-eeee-eeee-eeee-000000000008", "timestamp": 1709251201, "published": 0}],
    {"response": [{"id": "9", "uuid": "u9", "timestamp": "1"}]},
    {"name": "Not Found", "message": "Not Found", "url": "/attributes/restSearch"},
]


def main():
    d = target("stix_pattern")
    for i, p in enumerate(PATTERNS):
        write(d, f"pattern-{i:02d}", p)

    d = target("alert_extract")
    alerts = os.path.join(ROOT, "tests", "fixtures", "alerts")
    for name in sorted(os.listdir(alerts)):
        if name.endswith(".json"):
            shutil.copy(os.path.join(alerts, name), os.path.join(d, name))

    d = target("normalize")
    for i, (sel, value) in enumerate(NORMALIZE):
        write(d, f"value-{i:02d}", bytes([sel]) + value.encode())

    d = target("cdb_roundtrip")
    for i, (opts, records) in enumerate(CDB):
        write(d, f"export-{i:02d}", cdb_input(opts, records))

    d = target("opencti_decode")
    for i, body in enumerate(OPENCTI):
        write(d, f"reply-{i:02d}.json", json.dumps(body))

    d = target("misp_decode")
    for i, body in enumerate(MISP):
        write(d, f"reply-{i:02d}.json", json.dumps(body))


if __name__ == "__main__":
    main()
