//! Per-key request rate limits: a token bucket per access key (`rate` requests per second, bursts of `burst`).

use std::collections::HashMap;
use std::sync::Mutex;

pub struct RateLimiter {
    rate_per_ms: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, i64)>>,
}

impl RateLimiter {
    pub fn new(rate_per_second: u32, burst: u32) -> Self {
        RateLimiter {
            rate_per_ms: f64::from(rate_per_second) / 1000.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; when none is left, answers how many milliseconds until one is.
    pub fn take(&self, key: &str, now_ms: i64) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets
            .entry(key.to_string())
            .or_insert((self.burst, now_ms));
        let elapsed = (now_ms - *last).max(0) as f64;
        *tokens = (*tokens + elapsed * self.rate_per_ms).min(self.burst);
        *last = now_ms;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate_per_ms).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_the_rate_and_keys_are_independent() {
        let limiter = RateLimiter::new(10, 5);
        let t = 1_000_000;
        for _ in 0..5 {
            assert_eq!(limiter.take("a", t), Ok(()));
        }
        let wait = limiter.take("a", t).unwrap_err();
        assert_eq!(wait, 100, "one token per 100 ms at 10/s");
        assert_eq!(
            limiter.take("b", t),
            Ok(()),
            "another key has its own bucket"
        );
        assert_eq!(limiter.take("a", t + 100), Ok(()));
        assert!(limiter.take("a", t + 100).is_err());
    }
}
