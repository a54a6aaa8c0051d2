//! The one retry policy: exponential backoff with jitter. Only the base and the ceiling differ
//! between a contended write (milliseconds) and a stream batch waiting for the store (seconds).

use std::time::Duration;

/// How many times a use case reads again and rewrites after a concurrent writer won its
/// conditional write (members, logs, programs, webhook endpoints), before answering 409.
pub const CONFLICT_ATTEMPTS: usize = 12;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Contended or unprocessed writes: 5 ms doubling to 320 ms.
    pub const WRITE: Backoff = Backoff {
        base: Duration::from_millis(5),
        max: Duration::from_millis(320),
    };
    /// A stream batch that failed: 100 ms doubling to 30 s.
    pub const BATCH: Backoff = Backoff {
        base: Duration::from_millis(100),
        max: Duration::from_secs(30),
    };

    /// The wait before retry `attempt` (0-based): `base · 2^attempt`, at most `max`, with "equal
    /// jitter" (a random point in its upper half), so that retrying writers de-synchronise while
    /// none waits much less than the curve says.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(unit_random())
    }
}

/// A random number in [0, 1] for jitter; 1 without an OS random source (no jitter, still a wait).
pub fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes) as f64 / u64::MAX as f64,
        Err(_) => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_ceiling_with_jitter_in_the_upper_half() {
        let b = Backoff::BATCH;
        for attempt in 0..30 {
            let ceiling = (b.base * 2u32.pow(attempt.min(20))).min(b.max);
            let d = b.delay(attempt);
            assert!(d >= ceiling / 2 && d <= ceiling, "{attempt}: {d:?}");
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| b.delay(5)).collect();
        assert!(spread.len() > 1, "jittered");
    }
}
