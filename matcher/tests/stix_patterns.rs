//! Table tests for the STIX pattern parser and compiler: every operator,
//! literal type, path form and qualifier, the patterns OpenCTI generates and
//! the shapes connectors import, plus invalid patterns with the error each
//! must produce. Values use documentation ranges and `.example` names.

use matcher::stix::{self, Compiled, PatternError, MAX_DEPTH, MAX_PATTERN_LEN};
use matcher::{KeyMethod, Kind, MatchKey};

const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
const SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
const SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn sha512() -> String {
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce".repeat(2)
}

enum Want {
    /// Keys as `kind[/method] key`, the partial flag, a substring that some
    /// skipped reason must contain (empty: no reasons at all), regex count.
    Keys {
        keys: Vec<String>,
        partial: bool,
        skipped: &'static str,
        regexes: usize,
    },
    Unsupported(&'static str),
    Invalid(&'static str),
}

struct Row {
    pattern: String,
    want: Want,
}

fn full(pattern: impl Into<String>, keys: &[&str]) -> Row {
    Row {
        pattern: pattern.into(),
        want: Want::Keys {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            partial: false,
            skipped: "",
            regexes: 0,
        },
    }
}

fn part(pattern: impl Into<String>, keys: &[&str]) -> Row {
    Row {
        pattern: pattern.into(),
        want: Want::Keys {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            partial: true,
            skipped: "",
            regexes: 0,
        },
    }
}

fn skip(pattern: impl Into<String>, keys: &[&str], partial: bool, skipped: &'static str) -> Row {
    Row {
        pattern: pattern.into(),
        want: Want::Keys {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            partial,
            skipped,
            regexes: 0,
        },
    }
}

fn regex(pattern: impl Into<String>, keys: &[&str], regexes: usize) -> Row {
    Row {
        pattern: pattern.into(),
        want: Want::Keys {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            // Each regex row ORs the regex with an indexable branch, which
            // satisfies the pattern alone.
            partial: false,
            skipped: "MATCHES",
            regexes,
        },
    }
}

fn unsup(pattern: impl Into<String>, reason: &'static str) -> Row {
    Row {
        pattern: pattern.into(),
        want: Want::Unsupported(reason),
    }
}

fn invalid(pattern: impl Into<String>, message: &'static str) -> Row {
    Row {
        pattern: pattern.into(),
        want: Want::Invalid(message),
    }
}

fn key(spec: &str) -> MatchKey {
    let (kind, value) = spec.split_once(' ').expect("`kind key`");
    let (kind, method) = kind.split_once('/').unwrap_or((kind, "exact"));
    MatchKey::new(
        kind.parse::<Kind>().unwrap(),
        value,
        KeyMethod::parse(method).unwrap(),
    )
}

fn valid_rows() -> Vec<Row> {
    let sha512 = sha512();
    vec![
        // ---- patterns OpenCTI generates from observables (opencti.md §11.2) ----
        full("[ipv4-addr:value = '198.51.100.1']", &["ipv4 198.51.100.1"]),
        full("[ipv4-addr:value = '198.51.100.0/24']", &["ipv4/cidr 198.51.100.0/24"]),
        full("[ipv6-addr:value = '2001:db8::1']", &["ipv6 2001:db8::1"]),
        full("[ipv6-addr:value = '2001:db8::/32']", &["ipv6/cidr 2001:db8::/32"]),
        full("[ipv6-addr:value = '::ffff:198.51.100.9']", &["ipv4 198.51.100.9"]),
        full("[domain-name:value = 'evil.example']", &["domain evil.example"]),
        full("[domain-name:value = 'EVIL.Example']", &["domain evil.example"]),
        full("[hostname:value = 'host.evil.example']", &["domain host.evil.example"]),
        full("[url:value = 'http://evil.example/path']", &["url http://evil.example/path"]),
        full("[email-addr:value = 'bad@evil.example']", &["email bad@evil.example"]),
        full(format!("[file:hashes.'SHA-256' = '{SHA256}']"), &[&format!("sha256 {SHA256}")]),
        full(format!("[file:hashes.MD5 = '{}']", MD5.to_uppercase()), &[&format!("md5 {MD5}")]),
        full(format!("[file:hashes.'SHA-1' = '{SHA1}']"), &[&format!("sha1 {SHA1}")]),
        full(format!("[file:hashes.'SHA-512' = '{sha512}']"), &[&format!("sha512 {sha512}")]),
        full("[file:name = 'invoice.exe']", &["filename invoice.exe"]),
        full(format!("[x509-certificate:hashes.'SHA-256' = '{SHA256}']"), &[&format!("hash {SHA256}")]),
        unsup("[x509-certificate:subject = 'CN=evil.example']", "x509-certificate:subject is not matchable"),
        unsup("[x509-certificate:issuer = 'CN=evil.example']", "is not matchable"),
        unsup("[file:created = t'2021-02-29T00:00:00Z']", "file:created is not matchable"),
        unsup("[file:name = t'2020-13-01T00:00:00Z']", "needs a string literal, got invalid timestamp"),
        full(r"[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\Software\\Evil']", &[r"regkey hkey_local_machine\software\evil"]),
        unsup("[windows-registry-value-type:name = 'Run']", "windows-registry-value-type:name is not matchable"),
        full(r"[mutex:name = 'Global\\EvilMutex']", &[r"mutex Global\EvilMutex"]),
        unsup("[process:command_line = 'evil.exe -x']", "process:command_line is not matchable"),
        unsup("[user-account:account_login = 'admin']", "user-account:account_login is not matchable"),
        full("[user-agent:value = 'EvilBot/1.0']", &["user_agent EvilBot/1.0"]),
        unsup("[cryptocurrency-wallet:value = '1BoatSLRHtKNngkdXEeobR76b53LETtpyT']", "not matchable"),
        unsup("[network-traffic:dst_port = 443]", "network-traffic:dst_port is not matchable"),
        unsup("[autonomous-system:number = 64500]", "autonomous-system:number is not matchable"),
        full("[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'evil.example']", &["ipv4 198.51.100.1", "domain evil.example"]),
        full(format!("[file:hashes.MD5 = '{MD5}' OR file:hashes.'SHA-256' = '{SHA256}']"), &[&format!("md5 {MD5}"), &format!("sha256 {SHA256}")]),
        // ---- connector-imported shapes ----
        full("[network-traffic:dst_ref.value = '203.0.113.5']", &["ipv4 203.0.113.5"]),
        full("[network-traffic:src_ref.value = '2001:db8::5']", &["ipv6 2001:db8::5"]),
        full("[network-traffic:dst_ref.value = 'c2.evil.example']", &["domain c2.evil.example"]),
        full("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", &["ipv4/cidr 198.51.100.0/24"]),
        full("[ipv4-addr:value ISSUBSET '198.51.100.77/24']", &["ipv4/cidr 198.51.100.0/24"]),
        full("[ipv6-addr:value ISSUBSET '2001:db8:dead:beef::/64']", &["ipv6/cidr 2001:db8:dead:beef::/64"]),
        full("[network-traffic:dst_ref.value ISSUBSET '203.0.113.0/24']", &["ipv4/cidr 203.0.113.0/24"]),
        full("[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']", &["ipv6/cidr 2001:db8:dead:beef::/64"]),
        full("[url:value LIKE '%evil%']", &["url/substring evil"]),
        full("[url:value LIKE '%EVIL.example/Gate%']", &["url/substring evil.example/gate"]),
        full("[url:value LIKE 'http://evil.example/%']", &["url/prefix http://evil.example/"]),
        full("[domain-name:value LIKE 'evil.%']", &["domain/prefix evil."]),
        full("[url:value LIKE 'http://evil.example/path']", &["url http://evil.example/path"]),
        unsup("[file:name MATCHES '^a.*$']", "`MATCHES` on file:name is kept as a regex"),
        full("[ipv4-addr:value = '203.0.113.33/32']", &["ipv4 203.0.113.33"]),
        // ---- operators ----
        full("[ipv4-addr:value == '198.51.100.1']", &["ipv4 198.51.100.1"]),
        unsup("[ipv4-addr:value != '198.51.100.1']", "`!=` cannot be indexed (ipv4-addr:value)"),
        unsup("[ipv4-addr:value <> '198.51.100.1']", "`!=` cannot be indexed"),
        unsup("[ipv4-addr:value > '198.51.100.1']", "`>` cannot be indexed"),
        unsup("[ipv4-addr:value < '198.51.100.1']", "`<` cannot be indexed"),
        unsup("[domain-name:value >= 'a']", "`>=` cannot be indexed"),
        unsup("[domain-name:value <= 'z']", "`<=` cannot be indexed"),
        unsup("[file:size < 100]", "file:size is not matchable"),
        full("[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')]", &["ipv4 198.51.100.1", "ipv4 198.51.100.2"]),
        full("[domain-name:value IN ('a.evil.example', 'A.EVIL.example')]", &["domain a.evil.example"]),
        full("[ipv4-addr:value IN ('198.51.100.0/25', '203.0.113.1')]", &["ipv4/cidr 198.51.100.0/25", "ipv4 203.0.113.1"]),
        skip("[ipv4-addr:value IN ('198.51.100.1', 7)]", &["ipv4 198.51.100.1"], false, "needs a string literal, got integer 7"),
        unsup("[domain-name:value IN ()]", "empty `IN ()`"),
        unsup("[ipv4-addr:value NOT IN ('198.51.100.1')]", "`NOT IN` cannot be indexed"),
        unsup("[ipv4-addr:value NOT = '198.51.100.1']", "`NOT =` cannot be indexed"),
        unsup("[url:value NOT LIKE '%evil%']", "`NOT LIKE` cannot be indexed"),
        unsup("[ipv4-addr:value NOT ISSUBSET '198.51.100.0/24']", "`NOT ISSUBSET` cannot be indexed"),
        unsup("[ipv4-addr:value ISSUPERSET '198.51.100.1']", "`ISSUPERSET` cannot be indexed"),
        unsup("[domain-name:value ISSUBSET 'evil.example']", "`ISSUBSET` only applies to IP addresses"),
        unsup("[EXISTS file:name]", "`EXISTS` cannot be indexed (file:name)"),
        unsup("[NOT EXISTS file:name]", "`NOT EXISTS` cannot be indexed"),
        unsup("[url:value NOT MATCHES 'evil']", "`NOT MATCHES` cannot be indexed"),
        regex("[url:value MATCHES 'evil' OR url:value = 'http://evil.example/']", &["url http://evil.example/"], 1),
        regex(r"[file:name MATCHES '^a.*\\.exe$' OR file:name MATCHES '^b' OR file:name MATCHES '^b' OR file:name = 'c.exe']", &["filename c.exe"], 2),
        unsup("[url:value LIKE '%ev_l%']", "`LIKE` wildcard `_` cannot be indexed"),
        unsup("[url:value LIKE 'http://%/gate.php']", "inner `%`"),
        unsup("[url:value LIKE '%/gate.php']", "suffix"),
        unsup("[url:value LIKE '%']", "matches any value"),
        // ---- literal types ----
        unsup("[ipv4-addr:value = 3325256705]", "ipv4-addr:value needs a string literal, got integer 3325256705"),
        unsup("[file:name = true]", "got boolean true"),
        unsup(format!("[file:hashes.MD5 = h'{MD5}']"), "got hex"),
        unsup("[file:name = b'aGVsbG8=']", "got binary b'aGVsbG8='"),
        unsup("[file:name = 1.5]", "got float 1.5"),
        unsup("[file:name = -2.5]", "got float -2.5"),
        unsup("[file:name = t'2020-01-01T00:00:00Z']", "got timestamp t'2020-01-01T00:00:00Z'"),
        unsup("[file:created = t'2016-03-17T19:00:00.000Z']", "file:created is not matchable"),
        unsup("[file:size = -5]", "file:size is not matchable"),
        unsup("[file:size = +5]", "file:size is not matchable"),
        full(r"[file:name = 'it\'s.exe']", &["filename it's.exe"]),
        // A path stays whole: never cut down to its base name.
        full(r"[file:name = 'back\\slash.exe']", &[r"filename back\slash.exe"]),
        full("[file:name = 'caf\u{e9}.exe']", &["filename caf\u{e9}.exe"]),
        skip("[ipv4-addr:value = 'not-an-ip' OR ipv4-addr:value = '198.51.100.1']", &["ipv4 198.51.100.1"], false, "ipv4-addr:value: invalid ipv4 `not-an-ip`"),
        unsup("[file:hashes.'SHA-256' = 'abc']", "file:hashes.'SHA-256': invalid sha256 `abc`"),
        // ---- path forms ----
        full("[email-message:from_ref.value = 'bad@evil.example']", &["email bad@evil.example"]),
        full("[email-message:sender_ref.value = 'bad@evil.example']", &["email bad@evil.example"]),
        full("[email-message:to_refs[*].value = 'victim@corp.example']", &["email victim@corp.example"]),
        full("[email-message:cc_refs[0].value = 'victim@corp.example']", &["email victim@corp.example"]),
        full("[email-message:bcc_refs[-1].value = 'victim@corp.example']", &["email victim@corp.example"]),
        unsup("[email-message:to_refs[*].display_name = 'Victim']", "email-message:to_refs[*].display_name is not matchable"),
        unsup("[email-message:subject = 'Invoice']", "not matchable"),
        full("[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'EvilBot/2.0']", &["user_agent EvilBot/2.0"]),
        full("[network-traffic:extensions.'http-request-ext'.request_header.'user-agent' = 'EvilBot/2.0']", &["user_agent EvilBot/2.0"]),
        unsup("[network-traffic:extensions.'http-request-ext'.request_header.'Host' = 'evil.example']", "not matchable"),
        full(format!("[file:extensions.'windows-pebinary-ext'.imphash = '{MD5}']"), &[&format!("imphash {MD5}")]),
        full(format!("[artifact:hashes.'SHA-256' = '{SHA256}']"), &[&format!("sha256 {SHA256}")]),
        full(format!("[file:hashes.'SHA3-256' = '{SHA256}']"), &[&format!("hash {SHA256}")]),
        full(format!("[file:hashes.sha256 = '{SHA256}']"), &[&format!("sha256 {SHA256}")]),
        full(format!("[file:hashes.SHA256 = '{SHA256}']"), &[&format!("sha256 {SHA256}")]),
        full(format!("[file:hashes.'sha-1' = '{SHA1}']"), &[&format!("sha1 {SHA1}")]),
        full(format!("[file:hashes.'MD5' = '{MD5}']"), &[&format!("md5 {MD5}")]),
        full(format!("[file:'hashes'.'MD5' = '{MD5}']"), &[&format!("md5 {MD5}")]),
        unsup("[x-custom-thing:value = 'x']", "x-custom-thing:value is not matchable"),
        unsup(r"[file:parent_directory_ref.path = 'C:\\Temp']", "file:parent_directory_ref.path is not matchable"),
        unsup("[process:extensions.'windows-process-ext'.aslr_enabled = true]", "process:extensions.'windows-process-ext'.aslr_enabled is not matchable"),
        unsup("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]", "sections[*].entropy is not matchable"),
        unsup("[domain-name:resolves_to_refs[*].value = '198.51.100.1']", "not matchable"),
        // ---- qualifiers, observation operators, precedence, partial ----
        full("[ipv4-addr:value = '198.51.100.1'] WITHIN 300 SECONDS", &["ipv4 198.51.100.1"]),
        full("[ipv4-addr:value = '198.51.100.1'] WITHIN 1.5 SECONDS", &["ipv4 198.51.100.1"]),
        part("[ipv4-addr:value = '198.51.100.1'] REPEATS 5 TIMES", &["ipv4 198.51.100.1"]),
        part("[ipv4-addr:value = '198.51.100.1'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00.5Z'", &["ipv4 198.51.100.1"]),
        part("[ipv4-addr:value = '198.51.100.1'] REPEATS 5 TIMES WITHIN 1800 SECONDS", &["ipv4 198.51.100.1"]),
        part("[ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'evil.example']", &["ipv4 198.51.100.1", "domain evil.example"]),
        full("[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'evil.example']", &["ipv4 198.51.100.1", "domain evil.example"]),
        part("[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = 'evil.example']", &["ipv4 198.51.100.1", "domain evil.example"]),
        full("([ipv4-addr:value = '198.51.100.1'])", &["ipv4 198.51.100.1"]),
        full("[(ipv4-addr:value = '198.51.100.1')]", &["ipv4 198.51.100.1"]),
        full("((([((ipv4-addr:value = '198.51.100.1'))])))", &["ipv4 198.51.100.1"]),
        part("[ipv4-addr:value = '198.51.100.1' AND ipv4-addr:value = '198.51.100.2']", &["ipv4 198.51.100.1", "ipv4 198.51.100.2"]),
        part("([ipv4-addr:value = '198.51.100.1'] OR [ipv4-addr:value = '198.51.100.2']) AND [domain-name:value = 'evil.example'] WITHIN 10 SECONDS", &["ipv4 198.51.100.1", "ipv4 198.51.100.2", "domain evil.example"]),
        skip(format!("[file:hashes.MD5 = '{MD5}' AND file:size > 1000] FOLLOWEDBY [network-traffic:dst_port = 443] REPEATS 2 TIMES"), &[&format!("md5 {MD5}")], true, "network-traffic:dst_port is not matchable"),
        skip("[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\\\Windows\\\\System32']", &["filename foo.dll"], true, "file:parent_directory_ref.path is not matchable"),
        skip("[domain-name:value = 'www.evil.example' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']", &["domain www.evil.example"], true, "resolves_to_refs"),
        skip("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']", &["ipv4 203.0.113.33"], true, "network-traffic:dst_ref.type is not matchable"),
        full(r"[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']", &[r"regkey hkey_current_user\software\cryptolocker\files", r"regkey hkey_current_user\software\microsoft\currentversion\run\cryptolocker_0388"]),
        full("[url:value = 'http://evil.example/b' OR url:value = 'http://evil.example/a'] OR [url:value = 'http://evil.example/b']", &["url http://evil.example/b", "url http://evil.example/a"]),
        unsup("[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008']", "user-account:account_type is not matchable; user-account:user_id is not matchable; user-account:account_login is not matchable"),
        unsup(r"[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']", "artifact:payload_bin is kept as a regex"),
        unsup("[network-traffic:src_port = 37020 AND network-traffic:dst_port = 8080] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'", "network-traffic:src_port is not matchable"),
        unsup(r"[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']", "`MATCHES` on email-message:from_ref.value"),
        // ---- layout: whitespace, comments, keyword-named properties ----
        full("  [ ipv4-addr:value   =  '198.51.100.1' ]  /* trailing comment */", &["ipv4 198.51.100.1"]),
        full("[ipv4-addr:value // line comment\n = '198.51.100.1']", &["ipv4 198.51.100.1"]),
        full("\t[ipv4-addr:value\u{a0}=\u{2003}'198.51.100.1']\r\n", &["ipv4 198.51.100.1"]),
        full("[ipv4-addr:value='198.51.100.1']", &["ipv4 198.51.100.1"]),
        unsup("[x-thing:AND = 'x' OR x-thing:WITHIN = 'y']", "x-thing:AND is not matchable"),
    ]
}

fn invalid_rows() -> Vec<Row> {
    vec![
        invalid("", "empty pattern"),
        invalid("   \n\t", "empty pattern"),
        invalid("/* only a comment */", "empty pattern"),
        invalid("[file:name = 'abc]", "unterminated string literal"),
        invalid(r"[file:name = 'abc\']", "unterminated string literal"),
        invalid(
            "[file:name = 'abc'",
            "expected `AND`, `OR` or `]`, found end of pattern",
        ),
        invalid(
            "file:name = 'abc'",
            "expected an observation `[...]` or `(`",
        ),
        invalid(
            "[file:name = 'abc']]",
            "unexpected `]` after a complete observation expression",
        ),
        invalid("[]", "empty observation `[]`"),
        invalid(
            "[file:name CONTAINS 'x']",
            "expected a comparison operator after `file:name`, found `CONTAINS`",
        ),
        invalid("[file:name ~ 'x']", "unexpected character `~`"),
        invalid("[file:name = 'x'] junk", "unexpected `junk`"),
        invalid("[file:name = 'x'] [file:name = 'y']", "unexpected `[`"),
        invalid(
            "[file:name = 'x'] and [file:name = 'y']",
            "keywords are case-sensitive: write `AND`",
        ),
        invalid(
            "[file:name = 'x' or file:name = 'y']",
            "keywords are case-sensitive: write `OR`",
        ),
        invalid("[file:name like 'x%']", "write `LIKE`"),
        invalid("[file:name = True]", "booleans are written `true`"),
        // A bad date in a qualifier invalidates the pattern (in a comparison
        // it costs only that comparison: see the valid rows).
        invalid(
            "[file:name = 'x'] START t'2020-13-01T00:00:00Z' STOP t'2030-01-01T00:00:00Z'",
            "invalid timestamp",
        ),
        // A bad date in a qualifier invalidates the pattern (in a comparison
        // it costs only that comparison: see the valid rows).
        invalid(
            "[file:name = 'x'] START t'2020-01-01T00:00:00' STOP t'2030-01-01T00:00:00Z'",
            "invalid timestamp",
        ),
        // A bad date in a qualifier invalidates the pattern (in a comparison
        // it costs only that comparison: see the valid rows).
        invalid(
            "[file:name = 'x'] START t'2021-02-29T00:00:00Z' STOP t'2030-01-01T00:00:00Z'",
            "invalid timestamp",
        ),
        // A bad date in a qualifier invalidates the pattern (in a comparison
        // it costs only that comparison: see the valid rows).
        invalid(
            "[file:name = 'x'] START t'2020-01-01T00:00:00+02:00' STOP t'2030-01-01T00:00:00Z'",
            "invalid timestamp",
        ),
        invalid(
            "[file:name = 'x'] START '2020-01-01T00:00:00Z' STOP '2020-02-01T00:00:00Z'",
            "expected a timestamp literal t'...' after `START`",
        ),
        invalid(
            "[file:name = 'x'] START t'2020-02-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'",
            "is not later than START",
        ),
        invalid(
            "[file:name = 'x'] START t'2020-02-01T00:00:00Z'",
            "expected `STOP`",
        ),
        invalid(
            "[file:name = 'x'] WITHIN 5",
            "expected `SECONDS` after `WITHIN n`",
        ),
        invalid("[file:name = 'x'] WITHIN 5 seconds", "write `SECONDS`"),
        invalid(
            "[file:name = 'x'] WITHIN -5 SECONDS",
            "expected a positive number of seconds",
        ),
        invalid(
            "[file:name = 'x'] WITHIN 0 SECONDS",
            "expected a positive number of seconds",
        ),
        invalid(
            "[file:name = 'x'] REPEATS 1.5 TIMES",
            "expected a positive integer after `REPEATS`",
        ),
        invalid(
            "[file:name = 'x'] REPEATS 0 TIMES",
            "expected a positive integer after `REPEATS`",
        ),
        invalid("[file:name = 'x'] REPEATS 2", "expected `TIMES`"),
        invalid(
            "[file:name = 'x'] WITHIN 5 SECONDS SECONDS",
            "unexpected `SECONDS`",
        ),
        invalid(r"[file:name = 'a\qb']", r"invalid escape `\q`"),
        invalid("[file = 'x']", "expected `:` after object type `file`"),
        invalid("[File:name = 'x']", "invalid object type `File`"),
        invalid("[x_custom:name = 'x']", "invalid object type `x_custom`"),
        invalid("[:name = 'x']", "expected a comparison"),
        invalid("[file: = 'x']", "expected a property name after `file:`"),
        invalid(
            "[file:hashes.SHA-256 = 'x']",
            "contains `-`: quote it as 'SHA-256'",
        ),
        invalid("[file:hashes. = 'x']", "expected a property name after `.`"),
        invalid(
            "[file:name LIKE 5]",
            "expected a string literal after `LIKE`",
        ),
        invalid(
            "[file:name MATCHES h'00']",
            "expected a string literal after `MATCHES`",
        ),
        invalid(
            "[ipv4-addr:value ISSUBSET 10]",
            "expected a string literal after `ISSUBSET`",
        ),
        invalid("[file:size < true]", "booleans are not ordered"),
        invalid("[file:name IN 'x']", "expected `(` starting the `IN` list"),
        invalid(
            "[file:name IN ('a', )]",
            "expected a literal after `IN`, found `)`",
        ),
        invalid(
            "[file:name IN ('a' 'b')]",
            "expected `,` or `)` in the `IN` list",
        ),
        invalid(
            "[file:name IN ('a'",
            "expected `,` or `)` in the `IN` list, found end of pattern",
        ),
        invalid("[file:name = 'x' AND]", "expected a comparison"),
        invalid("[file:name =]", "expected a literal after `=`, found `]`"),
        invalid("[file:x[a] = 1]", "expected a list index or `*`"),
        invalid("[file:x[0 = 1]", "expected `]` closing the list index"),
        invalid("[file:name = h'abc']", "invalid hex literal"),
        invalid("[file:name = b'abc']", "invalid binary literal"),
        invalid("[file:size = 007]", "leading zero"),
        invalid("[file:size = 99999999999999999999]", "out of range"),
        invalid("[file:size = 1.]", "expected a digit after `.`"),
        invalid("[file:name = 'x'] /* open", "unterminated comment"),
        invalid(
            "[file:name = 'x' WITHIN 5 SECONDS]",
            "expected `AND`, `OR` or `]`, found `WITHIN`",
        ),
        invalid(
            "[file:name = 'x'] FOLLOWEDBY",
            "expected an observation `[...]` or `(`, found end of pattern",
        ),
        invalid(
            "[file:name = 'x'] OR OR [file:name = 'y']",
            "expected an observation",
        ),
        invalid(
            "([file:name = 'x']",
            "a qualifier or `)`, found end of pattern",
        ),
        invalid("[(file:name = 'x']", "expected `AND`, `OR` or `)`"),
        invalid("[NOT file:name = 'x']", "must be followed by `EXISTS`"),
        invalid("[file:name EXISTS]", "`EXISTS` goes before the object path"),
        invalid("[EXISTS 'x']", "expected an object path"),
        invalid("[file:name = 'x'] \u{0}", "unexpected character `\\0`"),
        invalid("[file:name = 'x'] \u{1F600}", "unexpected character"),
        invalid("(".repeat(10_000), "nesting deeper than 64 levels"),
        invalid(
            format!("[{}", "(".repeat(10_000)),
            "nesting deeper than 64 levels",
        ),
        invalid(
            format!("{}[{}", "(".repeat(40), "(".repeat(10_000)),
            "nesting deeper than 64 levels",
        ),
        invalid(
            format!("[file:name = '{}']", "x".repeat(MAX_PATTERN_LEN)),
            "more than the limit",
        ),
    ]
}

fn check_valid(row: &Row) -> Result<(), String> {
    let got = stix::compile(&row.pattern);
    match (&row.want, got) {
        (
            Want::Keys {
                keys,
                partial,
                skipped,
                regexes,
            },
            Ok(Compiled {
                keys: got_keys,
                partial: got_partial,
                regexes: got_regexes,
                skipped: got_skipped,
            }),
        ) => {
            let want_keys: Vec<MatchKey> = keys.iter().map(|k| key(k)).collect();
            if got_keys != want_keys {
                return Err(format!("keys {got_keys:?}, want {want_keys:?}"));
            }
            if got_partial != *partial {
                return Err(format!("partial {got_partial}, want {partial}"));
            }
            if got_regexes.len() != *regexes {
                return Err(format!("regexes {got_regexes:?}, want {regexes}"));
            }
            if skipped.is_empty() && !got_skipped.is_empty() {
                return Err(format!("unexpected skipped {got_skipped:?}"));
            }
            if !skipped.is_empty() && !got_skipped.iter().any(|s| s.contains(skipped)) {
                return Err(format!("skipped {got_skipped:?} lacks {skipped:?}"));
            }
            Ok(())
        }
        (Want::Unsupported(reason), Err(PatternError::Unsupported(got))) => {
            if got.contains(reason) {
                Ok(())
            } else {
                Err(format!("unsupported reason {got:?} lacks {reason:?}"))
            }
        }
        (Want::Invalid(_), _) => unreachable!("invalid rows are checked elsewhere"),
        (_, got) => Err(format!("got {got:?}")),
    }
}

#[test]
fn table_of_valid_patterns() {
    let rows = valid_rows();
    assert!(rows.len() >= 80, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        if let Err(why) = check_valid(row) {
            failures.push(format!("{}\n    {why}", row.pattern));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn table_of_invalid_patterns() {
    let rows = invalid_rows();
    assert!(rows.len() >= 25, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let Want::Invalid(want) = row.want else {
            unreachable!()
        };
        let shown: String = row.pattern.chars().take(60).collect();
        match stix::parse(&row.pattern) {
            Ok(p) => failures.push(format!("{shown}\n    parsed as {p}")),
            Err(e) => {
                let text = e.to_string();
                if !e.message.contains(want) {
                    failures.push(format!("{shown}\n    error {text:?} lacks {want:?}"));
                }
                if !text.starts_with(&format!("at offset {}: ", e.offset)) || text.contains('\n') {
                    failures.push(format!("{shown}\n    badly formatted {text:?}"));
                }
                if e.offset > row.pattern.len() {
                    failures.push(format!("{shown}\n    offset {} past the end", e.offset));
                }
                // compile() reports the same error.
                match stix::compile(&row.pattern) {
                    Err(PatternError::Invalid(c)) if c == e => {}
                    other => failures.push(format!("{shown}\n    compile gave {other:?}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn printing_and_parsing_again_gives_the_same_tree() {
    for row in valid_rows() {
        let ast = stix::parse(&row.pattern).unwrap_or_else(|e| panic!("{}: {e}", row.pattern));
        let printed = ast.to_string();
        let again = stix::parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(ast, again, "{} printed as {printed}", row.pattern);
        // Printing is canonical: a second round changes nothing.
        assert_eq!(printed, again.to_string());
    }
}

#[test]
fn depth_limit_is_exact() {
    let at_limit = format!(
        "{}[{}ipv4-addr:value = '198.51.100.1'{}]{}",
        "(".repeat(MAX_DEPTH / 2),
        "(".repeat(MAX_DEPTH / 2 - 1),
        ")".repeat(MAX_DEPTH / 2 - 1),
        ")".repeat(MAX_DEPTH / 2)
    );
    assert!(stix::compile(&at_limit).is_ok());
    let over = format!(
        "{}[{}ipv4-addr:value = '198.51.100.1'{}]{}",
        "(".repeat(MAX_DEPTH / 2),
        "(".repeat(MAX_DEPTH / 2),
        ")".repeat(MAX_DEPTH / 2),
        ")".repeat(MAX_DEPTH / 2)
    );
    let err = stix::parse(&over).unwrap_err();
    assert!(err.message.contains("nesting deeper"), "{err}");
}

#[test]
fn long_flat_patterns_are_fine() {
    // Thousands of operands in one chain: no recursion, no deep tree.
    let ors: Vec<String> = (0..5_000)
        .map(|i| format!("[ipv4-addr:value = '198.51.{}.{}']", i / 256 % 256, i % 256))
        .collect();
    let c = stix::compile(&ors.join(" OR ")).unwrap();
    assert_eq!(c.keys.len(), 5_000);
    assert!(!c.partial, "any one branch of an OR satisfies it");
    let qualifiers = format!(
        "[ipv4-addr:value = '198.51.100.1']{}",
        " WITHIN 5 SECONDS".repeat(10_000)
    );
    assert!(!stix::compile(&qualifiers).unwrap().partial);
}

/// A small deterministic generator, so the fuzz-style tests need no crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn token_soup_never_panics_and_round_trips() {
    const PIECES: &[&str] = &[
        "[",
        "]",
        "(",
        ")",
        "ipv4-addr:value",
        "file:hashes.'SHA-256'",
        "url:value",
        "email-message:to_refs[*].value",
        "x:a[0]",
        " = ",
        " != ",
        " < ",
        " >= ",
        " IN ",
        " LIKE ",
        " MATCHES ",
        " ISSUBSET ",
        " ISSUPERSET ",
        " NOT ",
        " EXISTS ",
        " AND ",
        " OR ",
        " FOLLOWEDBY ",
        " WITHIN 5 SECONDS",
        " REPEATS 2 TIMES",
        " START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
        "'198.51.100.1'",
        "'%evil%'",
        "'a\\'b'",
        "1",
        "-2.5",
        "true",
        "h'00ff'",
        "b'aGk='",
        "('a', 'b')",
        ",",
        "'",
        "t'",
        "/*",
        "//",
        "\n",
        "\u{3000}",
        "\u{0}",
        "é",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let n = 1 + rng.below(16);
        let src: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        match stix::parse(&src) {
            Ok(ast) => {
                let printed = ast.to_string();
                assert_eq!(
                    stix::parse(&printed).as_ref(),
                    Ok(&ast),
                    "{src:?} -> {printed:?}"
                );
                let _ = stix::compile_pattern(&ast);
            }
            Err(e) => {
                assert!(e.offset <= src.len(), "{src:?}: {e}");
                assert!(src.is_char_boundary(e.offset), "{src:?}: {e}");
                assert!(!e.to_string().contains('\n'), "{src:?}: {e}");
            }
        }
    }
}

/// Writes a random valid pattern: every construct of the grammar, random
/// spacing and comments, bounded depth.
struct Gen {
    rng: XorShift,
    out: String,
}

impl Gen {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.below(items.len())]
    }

    fn space(&mut self) {
        let s = self.pick(&[" ", " ", " ", "  ", "\n", "\t", " /* c */ ", "\u{a0}"]);
        self.out.push_str(s);
    }

    fn literal(&mut self) {
        let l = self.pick(&[
            "'198.51.100.1'",
            "'evil.example'",
            "'it\\'s'",
            "'a\\\\b'",
            "''",
            "0",
            "-17",
            "+3",
            "2.5",
            "-.5",
            "true",
            "false",
            "t'2020-01-01T00:00:00Z'",
            "t'2016-12-31T23:59:60.25Z'",
            "h''",
            "h'C0ffee'",
            "b'aGVsbG8='",
            "b'AA=='",
        ]);
        self.out.push_str(l);
    }

    fn string(&mut self) {
        let l = self.pick(&[
            "'%evil%'",
            "'198.51.100.0/24'",
            "'^a.*$'",
            "'x%'",
            "'2001:db8::/32'",
        ]);
        self.out.push_str(l);
    }

    fn path(&mut self) {
        let p = self.pick(&[
            "ipv4-addr:value",
            "ipv6-addr:value",
            "domain-name:value",
            "url:value",
            "file:hashes.'SHA-256'",
            "file:hashes.MD5",
            "file:name",
            "x-custom-1:'a b'[0]",
            "email-message:to_refs[*].value",
            "network-traffic:dst_ref.value",
            "process:extensions.'windows-process-ext'.sid",
            "a:b[-1][*].c",
        ]);
        self.out.push_str(p);
    }

    fn comparison(&mut self, depth: usize) {
        if depth > 0 && self.rng.below(4) == 0 {
            self.out.push('(');
            self.comparison_expr(depth - 1);
            self.out.push(')');
            return;
        }
        match self.rng.below(8) {
            0 => {
                if self.rng.below(2) == 0 {
                    self.out.push_str("NOT ");
                }
                self.out.push_str("EXISTS ");
                self.path();
            }
            1 => {
                self.path();
                self.space();
                let op = self.pick(&["IN", "NOT IN"]);
                self.out.push_str(op);
                self.space();
                self.out.push('(');
                for i in 0..self.rng.below(4) {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.literal();
                }
                self.out.push(')');
            }
            2 | 3 => {
                self.path();
                self.space();
                let op = self.pick(&["LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "NOT LIKE"]);
                self.out.push_str(op);
                self.space();
                self.string();
            }
            _ => {
                self.path();
                self.space();
                let op = self.pick(&["=", "==", "!=", "<>", "NOT ="]);
                self.out.push_str(op);
                self.space();
                self.literal();
            }
        }
    }

    fn comparison_expr(&mut self, depth: usize) {
        for i in 0..1 + self.rng.below(3) {
            if i > 0 {
                self.space();
                let op = self.pick(&["AND", "OR"]);
                self.out.push_str(op);
                self.space();
            }
            self.comparison(depth);
        }
    }

    fn observation(&mut self, depth: usize) {
        if depth > 0 && self.rng.below(3) == 0 {
            self.out.push('(');
            self.observation_expr(depth - 1);
            self.out.push(')');
        } else {
            self.out.push('[');
            self.comparison_expr(depth.saturating_sub(1));
            self.out.push(']');
        }
        for _ in 0..self.rng.below(3).saturating_sub(1) {
            self.space();
            let q = self.pick(&[
                "WITHIN 5 SECONDS",
                "WITHIN 0.25 SECONDS",
                "REPEATS 3 TIMES",
                "START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00.001Z'",
            ]);
            self.out.push_str(q);
        }
    }

    fn observation_expr(&mut self, depth: usize) {
        for i in 0..1 + self.rng.below(3) {
            if i > 0 {
                self.space();
                let op = self.pick(&["AND", "OR", "FOLLOWEDBY"]);
                self.out.push_str(op);
                self.space();
            }
            self.observation(depth);
        }
    }
}

#[test]
fn generated_patterns_parse_and_round_trip() {
    let mut g = Gen {
        rng: XorShift(0xdead_beef_cafe_f00d),
        out: String::new(),
    };
    for _ in 0..5_000 {
        g.out.clear();
        g.observation_expr(5);
        let src = g.out.clone();
        let ast = stix::parse(&src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        let printed = ast.to_string();
        assert_eq!(
            stix::parse(&printed).as_ref(),
            Ok(&ast),
            "{src:?} -> {printed:?}"
        );
        match stix::compile_pattern(&ast) {
            Ok(c) => assert!(!c.keys.is_empty()),
            Err(PatternError::Unsupported(r)) => assert!(!r.is_empty()),
            Err(PatternError::Invalid(e)) => panic!("{src:?}: {e}"),
        }
    }
}

#[test]
fn byte_mutations_never_panic() {
    let seeds: Vec<String> = valid_rows().into_iter().map(|r| r.pattern).collect();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for _ in 0..20_000 {
        let mut bytes = seeds[rng.below(seeds.len())].clone().into_bytes();
        for _ in 0..1 + rng.below(4) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = b"[]()'\\:.,*=<>!%_ -+0aZ\n"[rng.below(23)],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b"[('\\"[rng.below(4)]),
            }
        }
        // Mutations may split a UTF-8 sequence: only valid text reaches the parser.
        let Ok(src) = String::from_utf8(bytes) else {
            continue;
        };
        match stix::compile(&src) {
            Err(PatternError::Invalid(e)) => assert!(e.offset <= src.len(), "{src:?}: {e}"),
            Err(PatternError::Unsupported(r)) => assert!(!r.is_empty() && !r.contains('\n')),
            Ok(c) => assert!(!c.keys.is_empty()),
        }
    }
}

#[test]
fn hostile_input_fits_a_small_stack() {
    // Callers' threads need not be big: the deepest accepted pattern and the
    // bombs fit in well under 384 KiB even in a debug build (measured: about
    // 256 KiB; release frames are far smaller).
    let worker = std::thread::Builder::new()
        .stack_size(384 * 1024)
        .spawn(|| {
            let half = MAX_DEPTH / 2;
            let deepest = format!(
                "{}[{}ipv4-addr:value = '198.51.100.1'{}] WITHIN 5 SECONDS{}",
                "(".repeat(half),
                "(".repeat(half - 1),
                ")".repeat(half - 1),
                ") REPEATS 2 TIMES".repeat(half)
            );
            let c = stix::compile(&deepest).unwrap();
            assert!(c.partial);
            let ast = stix::parse(&deepest).unwrap();
            assert_eq!(stix::parse(&ast.to_string()).unwrap(), ast);
            for bomb in [
                "(".repeat(100_000),
                format!("[{}", "(".repeat(100_000)),
                "[a:b = 1]".to_string() + &" AND [a:b = 1]".repeat(10_000),
            ] {
                let _ = stix::compile(&bomb);
            }
        })
        .unwrap();
    worker.join().expect("the parser panicked");
}
