//! When and how long client commands wait before sending a request again.
//!
//! A server that answers `503 ServiceUnavailable` (its database or object store is unreachable for a moment, it
//! is draining) or `429 Throttling.User`, or that cannot be reached at all, may well succeed a little later: a
//! push of a large file during a database failover should finish on its own instead of stopping half done.
//! Attempts are bounded (`--retries`), spaced by exponential backoff with jitter (so that many clients do not
//! come back in step), and never shorter than what the server asked for (`Retry-After`, `x-acs-retry-after`).

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// First wait, doubled at each further attempt up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait the backoff grows to.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Longest wait a server's `Retry-After` is honoured for; beyond it the command gives up rather than hang.
const MAX_SERVER_HINT: Duration = Duration::from_secs(60);
/// Retries of one request when `--retries` is not given: about 45 s of waiting in all, which covers a database
/// restart or a failover.
pub const DEFAULT_RETRIES: u32 = 8;

/// Whether a request may be sent again after an answer that leaves open whether it was carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Sending it twice does no harm: reads, puts and deletes, and data pushes (the server skips events it
    /// already stored).
    Safe,
    /// It must not be carried out twice: sent again only when it certainly was not carried out the first time
    /// (the connection was refused, or the server answered that it did nothing: 503, 429).
    UnsentOnly,
}

impl Replay {
    /// What an HTTP method allows by itself (POST creates, so a lost answer cannot be replayed blindly).
    pub fn of_method(method: &reqwest::Method) -> Replay {
        if *method == reqwest::Method::POST {
            Replay::UnsentOnly
        } else {
            Replay::Safe
        }
    }
}

/// How an attempt ended, as far as retrying is concerned.
#[derive(Debug)]
pub enum Attempt<'a> {
    /// The server answered with this status and these headers.
    Answered {
        status: u16,
        headers: &'a reqwest::header::HeaderMap,
    },
    /// No answer: `connected` is false when the connection itself failed (nothing was sent).
    Lost { connected: bool },
}

/// Whether an answer is worth another try, and the least time the server asked to wait.
pub fn retryable(attempt: &Attempt<'_>, replay: Replay) -> Option<Duration> {
    match attempt {
        // 502 and 504 come from proxies and load balancers in front of a node that is restarting.
        Attempt::Answered {
            status: 429 | 502 | 503 | 504,
            headers,
        } => Some(server_hint(headers).unwrap_or(Duration::ZERO)),
        Attempt::Answered { .. } => None,
        Attempt::Lost { connected: false } => Some(Duration::ZERO),
        Attempt::Lost { connected: true } => (replay == Replay::Safe).then_some(Duration::ZERO),
    }
}

/// `Retry-After` (seconds, the HTTP standard) or `x-acs-retry-after` (milliseconds, Alibaba's throttling header).
fn server_hint(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let hint = number("retry-after")
        .map(Duration::from_secs)
        .or_else(|| number("x-acs-retry-after").map(Duration::from_millis))?;
    Some(hint.min(MAX_SERVER_HINT))
}

/// The wait before retry number `retry` (0 for the first): half of the doubled backoff plus a random part of the
/// other half, and at least what the server asked for.
pub fn delay(retry: u32, server_hint: Duration) -> Duration {
    let ceiling = BASE_BACKOFF
        .saturating_mul(1u32 << retry.min(16))
        .min(MAX_BACKOFF);
    let half = ceiling / 2;
    let jitter = half.mul_f64(random_fraction());
    (half + jitter).max(server_hint)
}

/// A number in [0, 1) that differs between processes and calls: jitter only needs to keep clients apart, not to
/// be unpredictable, and the standard library's randomly seeded hasher provides that without a dependency.
fn random_fraction() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn answered(status: u16, headers: &HeaderMap) -> Attempt<'_> {
        Attempt::Answered { status, headers }
    }

    #[test]
    fn unavailable_and_throttled_answers_are_retried_others_are_not() {
        let none = HeaderMap::new();
        for status in [429, 502, 503, 504] {
            assert!(retryable(&answered(status, &none), Replay::UnsentOnly).is_some());
        }
        for status in [200, 400, 403, 404, 409, 413, 500, 507] {
            assert_eq!(retryable(&answered(status, &none), Replay::Safe), None);
        }
    }

    #[test]
    fn a_lost_answer_is_replayed_only_when_replaying_is_safe() {
        let refused = Attempt::Lost { connected: false };
        let lost = Attempt::Lost { connected: true };
        assert!(retryable(&refused, Replay::UnsentOnly).is_some());
        assert!(retryable(&lost, Replay::Safe).is_some());
        assert_eq!(retryable(&lost, Replay::UnsentOnly), None);
    }

    #[test]
    fn the_server_s_hint_is_read_in_its_unit_and_bounded() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(
            retryable(&answered(503, &headers), Replay::Safe),
            Some(Duration::from_secs(3))
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-acs-retry-after", HeaderValue::from_static("250"));
        assert_eq!(
            retryable(&answered(429, &headers), Replay::Safe),
            Some(Duration::from_millis(250))
        );
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("86400"));
        assert_eq!(
            retryable(&answered(503, &headers), Replay::Safe),
            Some(MAX_SERVER_HINT)
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling_with_jitter_in_the_upper_half() {
        for retry in 0..12 {
            let ceiling = BASE_BACKOFF.saturating_mul(1 << retry).min(MAX_BACKOFF);
            for _ in 0..20 {
                let d = delay(retry, Duration::ZERO);
                assert!(d >= ceiling / 2 && d <= ceiling, "retry {retry}: {d:?}");
            }
        }
        assert_eq!(
            delay(0, Duration::from_secs(5)),
            Duration::from_secs(5),
            "never sooner than the server asked"
        );
    }

    #[test]
    fn jitter_spreads_clients_apart() {
        let waits: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| delay(3, Duration::ZERO)).collect();
        assert!(waits.len() > 10, "{waits:?}");
    }
}
