//! Freshness and replay protection: a request's signed date must be within ±`window` of the server's clock, and
//! its nonce must not have been seen within the window.
//!
//! Nonces are remembered as 64-bit hashes of (key, nonce), filed by the request's **signed date** in slices of
//! [`SLICE_MS`], in [`SHARDS`] independently locked shards. A slice is dropped once every date in it is outside the
//! window (its requests would be refused as expired anyway).
//!
//! The memory is bounded: when a shard is full, its oldest-dated slice is forgotten and the shard's *horizon*
//! moves to that slice's end; requests dated before the horizon are then refused as stale (a replay of a forgotten
//! request carries its original date, so it stays refused). Because slices are dropped by date and not by arrival,
//! a request dated in the future cannot move the horizon past the present: only sustained traffic beyond the
//! capacity shortens how far behind a client's clock may be (capacity ÷ request rate).
//!
//! This memory is one process's. API nodes sharing a PostgreSQL database remember nonces there instead (the API's
//! gate chooses), with the same hash and the same freshness check.
//!
//! Two different (key, nonce) pairs with the same hash would make the second look replayed: with a full memory
//! of 4 million nonces that chance is about 1 in 4 × 10^12 per request.

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::Mutex;

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::AuthError;

/// Width of a slice of signed dates.
pub const SLICE_MS: i64 = 10_000;
/// Independently locked parts of the memory.
pub const SHARDS: usize = 16;

/// The nonce hashes are already uniform: no second hashing in the set.
#[derive(Default)]
struct Identity(u64);

impl std::hash::Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in for correctness.
        let mut h = Xxh3::new();
        h.update(bytes);
        self.0 ^= h.digest();
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Hashes = HashSet<u64, BuildHasherDefault<Identity>>;

#[derive(Default)]
struct Shard {
    /// Slice number → nonce hashes of requests signed in that slice.
    slices: BTreeMap<i64, Hashes>,
    len: usize,
    horizon_ms: i64,
}

/// Whether a request's signed date is within ±`window_ms` of the server's clock.
pub fn check_fresh(request_ms: i64, now_ms: i64, window_ms: i64) -> Result<(), AuthError> {
    if (request_ms - now_ms).abs() > window_ms {
        return Err(AuthError::Expired);
    }
    Ok(())
}

pub struct ReplayGuard {
    window_ms: i64,
    shard_capacity: usize,
    shards: Vec<Mutex<Shard>>,
}

/// The 64-bit hash a nonce is remembered by: of the access key id and the nonce (nonces are per key).
pub fn nonce_hash(key_id: &str, nonce: &str) -> u64 {
    let mut h = Xxh3::new();
    h.update(key_id.as_bytes());
    h.update(&[0]);
    h.update(nonce.as_bytes());
    h.digest()
}

impl ReplayGuard {
    /// A guard for dates within ±`window_ms`, remembering about `capacity` nonces at most.
    pub fn new(window_ms: i64, capacity: usize) -> Self {
        ReplayGuard {
            window_ms,
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        horizon_ms: i64::MIN,
                        ..Default::default()
                    })
                })
                .collect(),
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
        check_fresh(request_ms, now_ms, self.window_ms)?;
        let hash = nonce_hash(key_id, nonce);
        // The shard from other bits than the set uses.
        let shard = &self.shards[(xxh3_64(&hash.to_le_bytes()) % SHARDS as u64) as usize];
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        // Slices wholly older than the window can go: their requests would be refused as expired.
        let oldest_kept = (now_ms - self.window_ms).div_euclid(SLICE_MS);
        while let Some(entry) = shard.slices.first_entry() {
            if *entry.key() >= oldest_kept {
                break;
            }
            let gone = entry.remove();
            shard.len -= gone.len();
        }
        if request_ms < shard.horizon_ms {
            return Err(AuthError::Expired);
        }
        let slice = request_ms.div_euclid(SLICE_MS);
        let inserted = shard.slices.entry(slice).or_default().insert(hash);
        if !inserted {
            return Err(AuthError::NonceUsed);
        }
        shard.len += 1;
        if shard.len > self.shard_capacity
            && let Some((oldest, gone)) = shard.slices.pop_first()
        {
            shard.len -= gone.len();
            shard.horizon_ms = shard.horizon_ms.max((oldest + 1) * SLICE_MS);
            // This request may have been in the forgotten slice: it is refused like any of them would be.
            if oldest == slice {
                return Err(AuthError::Expired);
            }
        }
        Ok(())
    }

    /// Nonces currently remembered.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len)
            .sum()
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
        // One nonce per shard at most: 16 in all.
        let guard = ReplayGuard::new(15 * MIN, SHARDS);
        let now = 1_000_000_000;
        for i in 0..1000 {
            // Dated over the last 10 minutes, oldest first.
            let at = now - 10 * MIN + i * 600;
            let _ = guard.check("k", &format!("n{i}"), at, now);
        }
        assert!(guard.len() <= SHARDS, "{} remembered", guard.len());
        // The first requests were forgotten; their replays are older than the horizon.
        for i in 0..10 {
            assert_eq!(
                guard.check("k", &format!("n{i}"), now - 10 * MIN + i * 600, now),
                Err(AuthError::Expired)
            );
        }
        assert_eq!(guard.check("k", "fresh", now, now), Ok(()));
        // Entries past the window are dropped when time moves on (by each shard when it is next used).
        let later = now + 20 * MIN;
        for i in 0..200 {
            let at = later + i * SLICE_MS;
            assert_eq!(guard.check("k", &format!("l{i}"), at, at), Ok(()));
        }
        assert_eq!(guard.len(), SHARDS, "only the newest of each shard");
    }

    /// A request dated ahead, then ten times more traffic than the memory holds: the present stays accepted.
    #[test]
    fn a_request_dated_ahead_never_locks_out_the_present() {
        let guard = ReplayGuard::new(15 * MIN, 10_000);
        let now = 1_000_000_000;
        assert_eq!(guard.check("k", "ahead", now + 5 * MIN, now), Ok(()));
        // 100 requests a second for 1,000 s.
        for i in 0..100_000 {
            let at = now + i * 10;
            assert_eq!(
                guard.check("k", &format!("n{i}"), at, at),
                Ok(()),
                "request {i}"
            );
        }
        assert!(guard.len() <= 10_000 + SHARDS * 1_000);
        assert!(
            guard
                .check("k", "ahead", now + 5 * MIN, now + 1_000_000)
                .is_err(),
            "its replay stays refused"
        );
    }
}
