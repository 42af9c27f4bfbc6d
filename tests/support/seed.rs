//! The seed of a randomised test: `$<VAR>` to replay a run, else the clock.
//! It is printed, so that a failure can be replayed.

pub fn seed(var: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("seed {seed} ({var}={seed} replays it)");
    seed
}
