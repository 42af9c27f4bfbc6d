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
