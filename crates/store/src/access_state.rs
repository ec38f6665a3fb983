//! What request checks remember between requests, when several API nodes must remember it together: the nonces
//! of signed requests (a replay is refused by every node, not only by the one that saw the original), per-key rate
//! buckets (N nodes allow the limit once, not N times) and dashboard sessions (any node serves any session).
//!
//! Only the shared database implements it ([`crate::postgres::PostgresAccessState`]); a single process on the
//! embedded store keeps these in its own memory (the API's replay guard and limiter, the dashboard's sessions),
//! which is both faster and just as safe when there is one process.

use algocenter_domain::Result;
use async_trait::async_trait;

/// One correctly signed request, fresh by its date, asking to be let in.
#[derive(Clone, Debug)]
pub struct Admission<'a> {
    /// 64-bit hash of the access key id and the request's nonce.
    pub nonce_hash: i64,
    /// The request's signed date (epoch ms): the nonce is remembered until it falls out of the accepted window.
    pub signed_ms: i64,
    pub key_id: &'a str,
    /// The key's rate limit, when there is one.
    pub rate: Option<RateLimit>,
    pub now_ms: i64,
}

/// `per_second` requests a second per access key, with bursts of up to `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    /// Milliseconds between two requests at the sustained rate.
    pub fn interval_ms(&self) -> f64 {
        1000.0 / f64::from(self.per_second.max(1))
    }

    /// How far ahead of the sustained rate a key may run: `burst - 1` intervals.
    pub fn tolerance_ms(&self) -> f64 {
        f64::from(self.burst.max(1) - 1) * self.interval_ms()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admitted {
    /// First use of the nonce, within the rate: let it in.
    Fresh,
    /// The nonce was used before (by any node).
    Replayed,
    /// Over the key's rate; a token is free again in this many milliseconds. The nonce is spent all the same.
    Throttled { retry_after_ms: u64 },
}

/// A dashboard login, filed by a hash of its token (the cookie's value is never stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// SHA-256 of the session token.
    pub token_hash: Vec<u8>,
    /// `None` when request checking is off.
    pub key_id: Option<String>,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// Bounds of the session table.
#[derive(Clone, Copy, Debug)]
pub struct SessionLimits {
    /// Sessions of one access key at most: a new login ends the key's oldest.
    pub per_key: usize,
    /// Live sessions at most; a login beyond it is refused (`Throttling.User`).
    pub capacity: usize,
}

#[async_trait]
pub trait AccessState: Send + Sync {
    /// Remembers the request's nonce and, when it is new, takes a token of the key's rate bucket: one statement.
    async fn admit(&self, admission: Admission<'_>) -> Result<Admitted>;

    /// Forgets nonces signed before `signed_before_ms` (their requests are refused as expired anyway); answers how
    /// many.
    async fn prune_nonces(&self, signed_before_ms: i64) -> Result<u64>;

    /// Files a new session, ending the key's oldest beyond `limits.per_key` and expired ones.
    async fn create_session(
        &self,
        session: StoredSession,
        limits: SessionLimits,
        now_ms: i64,
    ) -> Result<()>;

    /// The live session filed under `token_hash`.
    async fn session(&self, token_hash: &[u8], now_ms: i64) -> Result<Option<StoredSession>>;

    async fn end_session(&self, token_hash: &[u8]) -> Result<()>;
}
