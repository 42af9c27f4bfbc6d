//! Faults the stand-in servers inject (shared by `opencti_server.rs` and
//! `misp_server.rs`): queued one per request, or drawn at random from a
//! seeded generator so that a failing run can be replayed.
#![allow(dead_code)]

use std::time::Duration;

/// A failure served instead of (or around) the next answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// This HTTP status with a proxy-like HTML body.
    Status(u16),
    /// HTTP 429 with `Retry-After: <secs>`.
    RateLimited(u64),
    /// The real answer, cut in the middle and the connection closed.
    Truncated,
    /// No answer at all for this long (a hung server or proxy).
    Stall(Duration),
    /// The head and half the real answer, then nothing for this long.
    StallBody(Duration),
    /// This HTTP status with a body that echoes every request header back,
    /// `Authorization` included (a debugging proxy or a careless error page).
    EchoAuth(u16),
    /// HTTP 200 with `Content-Encoding: gzip` and a small body that inflates
    /// to this many zero bytes.
    GzipBomb(usize),
}

/// The body of [`Fault::EchoAuth`]: the request headers, one per line, in
/// an HTML error page.
pub fn echo_body(code: u16, headers: &[(String, String)]) -> String {
    let mut body = format!("<html><body><h1>{code}</h1><pre>request headers:\n");
    for (name, value) in headers {
        body.push_str(&format!("{name}: {value}\n"));
    }
    body.push_str("</pre></body></html>");
    body
}

/// A gzip member inflating to `n` zero bytes, written by hand: one fixed-
/// Huffman DEFLATE block of a literal 0 and 258-byte copies at distance 1
/// (13 bits each), so 256 MiB take about 1.7 MB and no compressor runs.
pub fn gzip_zeros(n: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }
    impl Bits {
        /// `n` bits of `v`, least significant first (DEFLATE's bit order).
        fn put(&mut self, v: u64, n: u32) {
            self.acc |= v << self.len;
            self.len += n;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u64, n: u32) {
            let reversed = (0..n).fold(0, |r, i| (r << 1) | ((code >> i) & 1));
            self.put(reversed, n);
        }
    }
    let mut b = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        len: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // fixed Huffman codes
    let mut left = n;
    if left > 0 {
        b.code(0x30, 8); // literal 0
        left -= 1;
    }
    while left >= 258 {
        b.code(0xc5, 8); // length 258 (symbol 285)
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30, 8);
    }
    b.code(0, 7); // end of block
    if b.len > 0 {
        b.out.push(b.acc as u8);
    }
    b.out.extend_from_slice(&crc32_zeros(n).to_le_bytes());
    b.out.extend_from_slice(&(n as u32).to_le_bytes());
    b.out
}

/// CRC-32 of `n` zero bytes, byte by byte through a table.
fn crc32_zeros(n: usize) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    let mut crc = !0u32;
    for _ in 0..n {
        crc = table[(crc & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Faults drawn at random (seeded) for every request that has no queued
/// fault: each rate is a probability per request.
#[derive(Debug)]
pub struct RandomFaults {
    pub rng: rand::rngs::StdRng,
    /// HTTP 500, 502, 503 or 504.
    pub server_error: f64,
    /// HTTP 429 with `Retry-After: retry_after`.
    pub rate_limited: f64,
    pub retry_after: u64,
    /// The answer cut in the middle.
    pub truncated: f64,
}

impl RandomFaults {
    pub fn new(seed: u64, server_error: f64, rate_limited: f64, truncated: f64) -> RandomFaults {
        RandomFaults {
            rng: rand::SeedableRng::seed_from_u64(seed),
            server_error,
            rate_limited,
            retry_after: 1,
            truncated,
        }
    }

    /// The fault for the next request, if any.
    pub fn draw(&mut self) -> Option<Fault> {
        use rand::Rng;
        let x: f64 = self.rng.random();
        if x < self.server_error {
            Some(Fault::Status(
                [500, 502, 503, 504][self.rng.random_range(0..4)],
            ))
        } else if x < self.server_error + self.rate_limited {
            Some(Fault::RateLimited(self.retry_after))
        } else if x < self.server_error + self.rate_limited + self.truncated {
            Some(Fault::Truncated)
        } else {
            None
        }
    }
}
