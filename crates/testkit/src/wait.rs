//! Waiting on a condition with a deadline. The condition is looked at again every few milliseconds (the poll
//! interval is not what the test waits for: the condition is), and a test that waits in vain fails with what it
//! waited for instead of hanging.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(10);

/// A point in time a test will not wait past.
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    pub fn after(within: Duration) -> Self {
        Deadline {
            at: Instant::now() + within,
        }
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Before looking at the condition again: fails the test with `what` (what it waited for, and the state seen)
    /// when the deadline has passed, else lets a poll interval go by.
    #[track_caller]
    pub fn again(&self, what: impl Display) -> tokio::time::Sleep {
        assert!(!self.passed(), "gave up waiting: {what}");
        tokio::time::sleep(POLL)
    }
}

/// Looks at `check` until it answers `Some`, and answers that; fails the test naming `what` after `within`.
#[track_caller]
pub fn wait_until<T, F, Fut>(
    what: impl Display,
    within: Duration,
    mut check: F,
) -> impl Future<Output = T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Deadline::after(within);
    let caller = std::panic::Location::caller();
    async move {
        loop {
            if let Some(found) = check().await {
                return found;
            }
            assert!(
                !deadline.passed(),
                "gave up waiting after {within:?} ({caller}): {what}"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}
