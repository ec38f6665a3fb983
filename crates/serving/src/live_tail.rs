//! The live tail of `near_realtime` query functions: the searches pushed after a generation was trained, per
//! user, so that personal completions (`suggest`) and personal hints (`hint`) count them within seconds,
//! without a new generation.
//!
//! **Read from the store, not fed from the push path.** Any API node may take a push, and any other may answer
//! the next suggestion: a tail fed by the node that took the push would miss every search pushed to its peers.
//! Reading recent events back from the shared store sees them all, on one node or many, and costs the push
//! path nothing. A tail reads at most every [`POLL_INTERVAL`], on a blocking thread, only while its instance
//! is being asked (a request starts the read, and answers at once from what the tail already holds), and only
//! the event blocks that hold recent events (the store finds blocks by their newest event time). The store
//! has no cursor in push order that a reader could follow, so a read finds new events by their time: it goes
//! back [`LOOKBACK_MS`] and skips what it took before.
//!
//! **What it reads.** Search events whose `bhv_time` is at or after the end of the generation's training
//! window, by users (`user_id`, else `imei`). Each read goes back [`LOOKBACK_MS`] before the newest time seen,
//! so that a search pushed a few seconds late still counts; events already taken are recognised and skipped.
//! A search pushed later than that after its `bhv_time` counts from the next generation on.
//!
//! **Bounded.** At most [`PER_USER`] searches per user (the newest) and [`MAX_USERS`] users (those with the
//! oldest searches go first). A restart loses the tail; the next read after it rebuilds everything since the
//! generation's window ended that the store still holds, and the next generation trains on all of it. A
//! search whose `bhv_time` is before the window's end but that was pushed after training counts only from the
//! next generation on.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::{Error, Result, now_ms};
use algocenter_functions::query::live::LiveSearch;
use algocenter_store::Store;

/// Least time between two reads of one tail.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How far before the newest search seen a read goes back, for searches pushed late. Each read decodes the
/// event blocks of this span again (and of the time since the last read), so it is kept short: at 5,000
/// events/s pushed, a read every second decodes about 80,000 events.
pub const LOOKBACK_MS: i64 = 15_000;
/// Searches kept per user.
pub const PER_USER: usize = 20;
/// Users kept per tail.
pub const MAX_USERS: usize = 50_000;
/// Tails kept at once (one per app group and generation window being asked).
const MAX_TAILS: usize = 256;

#[derive(Default)]
struct TailState {
    /// The newest event time read so far (never ahead of the clock).
    newest_ms: i64,
    /// Events taken in the last [`LOOKBACK_MS`] (by hash), with their time, so a re-read skips them.
    taken: HashMap<u64, i64>,
    users: HashMap<String, VecDeque<LiveSearch>>,
}

/// The searches of one app group since one instant.
pub struct LiveTail {
    app: String,
    since_ms: i64,
    state: Mutex<TailState>,
    reading: AtomicBool,
    last_read: Mutex<Option<Instant>>,
}

fn event_key(e: &BehaviourEvent) -> u64 {
    let mut h = DefaultHasher::new();
    (e.user(), &e.rn, e.bhv_time_ms, &e.raw_query).hash(&mut h);
    h.finish()
}

impl LiveTail {
    fn new(app: &str, since_ms: i64) -> Self {
        LiveTail {
            app: app.to_string(),
            since_ms,
            state: Mutex::new(TailState {
                newest_ms: since_ms,
                ..TailState::default()
            }),
            reading: AtomicBool::new(false),
            last_read: Mutex::new(None),
        }
    }

    /// The user's searches since the tail's start, oldest first.
    pub fn searches_of(&self, user: &str) -> Vec<LiveSearch> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .users
            .get(user)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Users and searches held, for the logs and tests.
    pub fn size(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (
            state.users.len(),
            state.users.values().map(VecDeque::len).sum(),
        )
    }

    /// Adds the searches of `events` not taken before.
    fn take(&self, events: Vec<BehaviourEvent>, now_ms: i64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
            let user = e.user();
            if user.is_empty() || e.bhv_time_ms < self.since_ms {
                continue;
            }
            if state.taken.insert(event_key(&e), e.bhv_time_ms).is_some() {
                continue;
            }
            let Some(search) = LiveSearch::new(&e.raw_query, e.bhv_time_ms) else {
                continue;
            };
            state.newest_ms = state.newest_ms.max(e.bhv_time_ms.min(now_ms));
            let own = state.users.entry(user.to_string()).or_default();
            // Pushes arrive in any order: keep each user's searches in time order.
            let at = own.partition_point(|s| s.at_ms <= search.at_ms);
            own.insert(at, search);
            if own.len() > PER_USER {
                own.pop_front();
            }
        }
        let horizon = state.newest_ms - LOOKBACK_MS;
        state.taken.retain(|_, at| *at >= horizon);
        if state.users.len() > MAX_USERS {
            // Drop the users whose newest search is oldest, down to nine tenths of the bound.
            let mut newest: Vec<(i64, String)> = state
                .users
                .iter()
                .map(|(u, s)| (s.back().map_or(i64::MIN, |s| s.at_ms), u.clone()))
                .collect();
            newest.sort_unstable();
            let drop = state.users.len() - MAX_USERS * 9 / 10;
            for (_, user) in newest.into_iter().take(drop) {
                state.users.remove(&user);
            }
        }
    }

    /// Reads the store once, on a blocking thread.
    async fn read(self: Arc<Self>, store: Arc<dyn Store>) -> Result<()> {
        let from_ms = {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            (state.newest_ms - LOOKBACK_MS).max(self.since_ms)
        };
        let tail = Arc::clone(&self);
        tokio::task::spawn_blocking(move || -> Result<()> {
            let data = store.training_data(&tail.app)?;
            let now = now_ms();
            let mut searches = Vec::new();
            data.for_each_event(from_ms, i64::MAX, &mut |e| {
                if e.bhv_type == "search" {
                    searches.push(e.clone());
                }
                Ok(())
            })?;
            tail.take(searches, now);
            Ok(())
        })
        .await
        .map_err(|e| Error::internal(format_args!("reading the live tail failed: {e}")))?
    }

    /// Starts a read unless one is running or the last started less than [`POLL_INTERVAL`] ago.
    fn refresh(self: &Arc<Self>, store: &Arc<dyn Store>) {
        {
            let mut last = self.last_read.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < POLL_INTERVAL) {
                return;
            }
            if self.reading.swap(true, Ordering::AcqRel) {
                return;
            }
            *last = Some(Instant::now());
        }
        let tail = Arc::clone(self);
        let store = Arc::clone(store);
        tokio::spawn(async move {
            if let Err(e) = Arc::clone(&tail).read(store).await {
                tracing::warn!(app = %tail.app, error = %e, "reading the live tail failed");
            }
            tail.reading.store(false, Ordering::Release);
        });
    }
}

/// The tails of a serving process, by app group and start.
#[derive(Default)]
pub struct LiveTails {
    tails: Mutex<HashMap<(String, i64), Arc<LiveTail>>>,
}

impl LiveTails {
    /// The tail of `app` since `since_ms`, refreshed in the background when due.
    pub fn get(&self, store: &Arc<dyn Store>, app: &str, since_ms: i64) -> Arc<LiveTail> {
        let tail = {
            let mut tails = self.tails.lock().unwrap_or_else(|p| p.into_inner());
            if tails.len() >= MAX_TAILS && !tails.contains_key(&(app.to_string(), since_ms)) {
                tails.clear();
            }
            Arc::clone(
                tails
                    .entry((app.to_string(), since_ms))
                    .or_insert_with(|| Arc::new(LiveTail::new(app, since_ms))),
            )
        };
        tail.refresh(store);
        tail
    }

    /// Forgets every tail (an app group or instance was deleted).
    pub fn clear(&self) {
        self.tails.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(user: &str, query: &str, at_ms: i64, rn: &str) -> BehaviourEvent {
        BehaviourEvent {
            user_id: user.into(),
            imei: String::new(),
            biz_id: String::new(),
            trace_id: String::new(),
            rn: rn.into(),
            item_id: String::new(),
            item_type: String::new(),
            bhv_type: "search".into(),
            bhv_time_ms: at_ms,
            reach_time_ms: at_ms,
            raw_query: query.into(),
            hits: Some(3),
            position: None,
            context: Vec::new(),
            extra: Vec::new(),
        }
    }

    #[test]
    fn a_tail_keeps_each_users_newest_searches_once_in_time_order() {
        let tail = LiveTail::new("app", 1_000);
        let mut events = vec![
            search("a", "old", 999, "r0"),
            search("a", "second", 2_000, "r2"),
            search("a", "first", 1_500, "r1"),
            search("", "anonymous", 1_600, "r3"),
            search("b", "!!!", 1_700, "r4"),
        ];
        events.push(events[1].clone());
        tail.take(events, 10_000);
        let queries: Vec<String> = tail
            .searches_of("a")
            .into_iter()
            .map(|s| s.normal)
            .collect();
        assert_eq!(
            queries,
            ["first", "second"],
            "before the window's end, twice, anonymous or unusable: not taken"
        );
        tail.take(
            (0..30)
                .map(|i| search("a", &format!("q{i}"), 3_000 + i, &format!("x{i}")))
                .collect(),
            10_000,
        );
        let kept = tail.searches_of("a");
        assert_eq!(kept.len(), PER_USER);
        assert_eq!(kept.last().unwrap().normal, "q29");
        assert_eq!(tail.size(), (1, PER_USER));
    }
}
