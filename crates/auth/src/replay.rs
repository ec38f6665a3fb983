//! Freshness and replay protection: a request's signed date must be within ±`window` of the server's clock, and
//! its nonce must not have been seen within the window.
//!
//! The nonce memory is bounded. When it is full, the oldest nonce is forgotten and the *horizon* moves up to that
//! nonce's date: from then on, requests dated at or before the horizon are refused as stale. A replay of a
//! forgotten request carries its original date, so it is refused either way; the price of a full memory is only
//! that clients whose clocks lag far behind are refused sooner.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::AuthError;

pub struct ReplayGuard {
    window_ms: i64,
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    seen: HashSet<(String, String)>,
    /// (request date, key, nonce) in arrival order.
    order: VecDeque<(i64, String, String)>,
    horizon_ms: i64,
}

impl ReplayGuard {
    pub fn new(window_ms: i64, capacity: usize) -> Self {
        ReplayGuard {
            window_ms,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                horizon_ms: i64::MIN,
                ..Default::default()
            }),
        }
    }

    /// Accepts a request once: fresh date, unused nonce.
    pub fn check(
        &self,
        key_id: &str,
        nonce: &str,
        request_ms: i64,
        now_ms: i64,
    ) -> Result<(), AuthError> {
        if (request_ms - now_ms).abs() > self.window_ms {
            return Err(AuthError::Expired);
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // A nonce older than the window can be forgotten: its request would now be refused as expired.
        while inner
            .order
            .front()
            .is_some_and(|(t, _, _)| *t < now_ms - self.window_ms)
        {
            if let Some((_, key, nonce)) = inner.order.pop_front() {
                inner.seen.remove(&(key, nonce));
            }
        }
        if request_ms <= inner.horizon_ms {
            return Err(AuthError::Expired);
        }
        let entry = (key_id.to_string(), nonce.to_string());
        if inner.seen.contains(&entry) {
            return Err(AuthError::NonceUsed);
        }
        if inner.order.len() >= self.capacity
            && let Some((t, key, nonce)) = inner.order.pop_front()
        {
            inner.seen.remove(&(key, nonce));
            inner.horizon_ms = inner.horizon_ms.max(t);
        }
        inner.seen.insert(entry.clone());
        inner.order.push_back((request_ms, entry.0, entry.1));
        Ok(())
    }

    /// Nonces currently remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .order
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn stale_future_and_replayed_requests_are_refused() {
        let guard = ReplayGuard::new(15 * MIN, 1000);
        let now = 1_000_000_000;
        assert_eq!(guard.check("k", "n1", now, now), Ok(()));
        assert_eq!(
            guard.check("k", "n1", now, now + 1000),
            Err(AuthError::NonceUsed)
        );
        assert_eq!(
            guard.check("other", "n1", now, now),
            Ok(()),
            "nonces are per key"
        );
        assert_eq!(
            guard.check("k", "n2", now - 16 * MIN, now),
            Err(AuthError::Expired)
        );
        assert_eq!(
            guard.check("k", "n3", now + 16 * MIN, now),
            Err(AuthError::Expired)
        );
        assert_eq!(guard.check("k", "n4", now - 14 * MIN, now), Ok(()));
    }

    #[test]
    fn memory_is_bounded_and_forgotten_requests_stay_refused() {
        let guard = ReplayGuard::new(15 * MIN, 3);
        let now = 1_000_000_000;
        for i in 0..10 {
            assert_eq!(guard.check("k", &format!("n{i}"), now + i, now), Ok(()));
        }
        assert_eq!(guard.len(), 3);
        // n0 was forgotten, but its replay is older than the horizon.
        assert_eq!(guard.check("k", "n0", now, now), Err(AuthError::Expired));
        assert_eq!(
            guard.check("k", "n9", now + 9, now),
            Err(AuthError::NonceUsed)
        );
        assert_eq!(guard.check("k", "fresh", now + 20, now), Ok(()));
        // Entries past the window are dropped when time moves on.
        assert_eq!(
            guard.check("k", "later", now + 20 * MIN, now + 20 * MIN),
            Ok(())
        );
        assert_eq!(guard.len(), 1);
    }
}
