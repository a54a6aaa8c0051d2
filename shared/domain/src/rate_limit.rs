//! Per-key rate limits (SPEC: per-key rate limits answer 429 with `Retry-After`): a token bucket
//! per API key, refilled at `per_second` up to `burst`. The authorizer keeps the buckets, so one
//! place sees every request; on AWS each warm authorizer instance has its own buckets, and API
//! Gateway's stage throttling bounds the whole API (README: Limits).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tenant::Role;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub per_second: f64,
    pub burst: f64,
}

impl Limit {
    /// `"50/100"`: 50 a second, bursts of 100; `"off"`: no limit.
    pub fn parse(text: &str) -> Result<Option<Limit>, String> {
        if text.trim() == "off" {
            return Ok(None);
        }
        let (rate, burst) = text.split_once('/').ok_or(format!(
            "rate limit {text:?}: expected RATE/BURST, e.g. 50/100, or off"
        ))?;
        let number = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| *n > 0.0 && n.is_finite())
        };
        match (number(rate), number(burst)) {
            (Some(per_second), Some(burst)) if burst >= 1.0 => {
                Ok(Some(Limit { per_second, burst }))
            }
            _ => Err(format!(
                "rate limit {text:?}: RATE and BURST must be positive, BURST ≥ 1"
            )),
        }
    }
}

/// The defaults: a public key (shipped inside apps, shared by all their users) 50 a second with
/// bursts of 100; a secret key (a customer's backend) 500 with bursts of 1,000.
pub const DEFAULT_PUBLIC: Limit = Limit {
    per_second: 50.0,
    burst: 100.0,
};
pub const DEFAULT_SECRET: Limit = Limit {
    per_second: 500.0,
    burst: 1000.0,
};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes one token at `now`, or says how long until one is there.
    fn take(&mut self, limit: Limit, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / limit.per_second,
            ))
        }
    }
}

/// Most buckets kept before they are all dropped (a full bucket and a missing one are the same).
const MAX_BUCKETS: usize = 10_000;

pub struct RateLimiter {
    public: Option<Limit>,
    secret: Option<Limit>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(public: Option<Limit>, secret: Option<Limit>) -> Self {
        Self {
            public,
            secret,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `RATE_LIMIT_PUBLIC` and `RATE_LIMIT_SECRET` (`RATE/BURST` or `off`), else the defaults.
    pub fn from_env() -> Result<Self, String> {
        let read = |name: &str, default: Limit| match std::env::var(name) {
            Ok(text) => Limit::parse(&text).map_err(|e| format!("{name}: {e}")),
            Err(_) => Ok(Some(default)),
        };
        Ok(Self::new(
            read("RATE_LIMIT_PUBLIC", DEFAULT_PUBLIC)?,
            read("RATE_LIMIT_SECRET", DEFAULT_SECRET)?,
        ))
    }

    /// Counts one request of `api_key` (for an end user: its key and member, so that one app
    /// user cannot use up the backend's budget); `Err(wait)` when it is over its limit.
    pub fn check(&self, api_key: &str, role: Role, now: Instant) -> Result<(), Duration> {
        let limit = match role {
            Role::Public | Role::EndUser => self.public,
            Role::Admin => self.secret,
        };
        let Some(limit) = limit else {
            return Ok(());
        };
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(api_key) {
            buckets.clear();
        }
        buckets
            .entry(api_key.to_string())
            .or_insert(Bucket {
                tokens: limit.burst,
                at: now,
            })
            .take(limit, now)
    }
}

/// `Retry-After` in whole seconds, at least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = RateLimiter::new(
            Some(Limit {
                per_second: 2.0,
                burst: 3.0,
            }),
            None,
        );
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("pk", Role::Public, t0), Ok(()));
        }
        let wait = limiter.check("pk", Role::Public, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert_eq!(retry_after_seconds(wait), 1);
        // Another key has its own bucket; secret keys are not limited here.
        assert_eq!(limiter.check("pk2", Role::Public, t0), Ok(()));
        for _ in 0..100 {
            assert_eq!(limiter.check("ak", Role::Admin, t0), Ok(()));
        }
        // Half a second later one token is back, not more.
        let later = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check("pk", Role::Public, later), Ok(()));
        assert!(limiter.check("pk", Role::Public, later).is_err());
        // Refills stop at the burst.
        let much_later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.check("pk", Role::Public, much_later), Ok(()));
        }
        assert!(limiter.check("pk", Role::Public, much_later).is_err());
    }

    #[test]
    fn limits_parse_or_say_why_not() {
        assert_eq!(
            Limit::parse("50/100"),
            Ok(Some(Limit {
                per_second: 50.0,
                burst: 100.0
            }))
        );
        assert_eq!(Limit::parse("off"), Ok(None));
        for bad in ["50", "0/10", "5/0", "a/b", "-1/5", "inf/5"] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }
}
