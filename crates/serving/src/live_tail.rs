//! The live tail of `near_realtime` query functions: the searches pushed after a generation was trained, per
//! user, so that personal completions (`suggest`) and personal hints (`hint`) count them within seconds,
//! without a new generation.
//!
//! **Read from the store, not fed from the push path.** Any API node may take a push, and any other may answer
//! the next suggestion: a tail fed by the node that took the push would miss every search pushed to its peers.
//! Reading recent events back from the shared store sees them all, on one node or many, and costs the push
//! path nothing. A tail reads at most every [`POLL_INTERVAL`], on a blocking thread, only while its instance
//! is being asked (a request starts the read, and answers at once from what the tail already holds).
//!
//! **A read decodes only the blocks it has not read.** Events rest in blocks, one per push; each event is in
//! exactly one block. A read lists the ids of the blocks whose newest event is within [`LOOKBACK_MS`] of the
//! newest search seen (an index lookup, nothing decoded), and decodes only the blocks whose id it has not read
//! before. It keeps the set of ids it has read, not the highest: with concurrent pushes (PostgreSQL) a block
//! may become visible after one with a higher id, and a block holding searches a few seconds older than those
//! already read still counts. So no event counts twice and none in the window is missed, whatever order the
//! blocks arrive in. Ids are forgotten once their block falls behind the window, since the listing no longer
//! returns them; a block pushed later than [`LOOKBACK_MS`] after its newest event counts from the next
//! generation on.
//!
//! **What it reads.** Search events whose `bhv_time` is at or after the end of the generation's training
//! window, by users (`user_id`, else `imei`). The block decoder reads over the other events without looking at
//! their text, and a query surely usable (ASCII and Chinese characters) is kept as typed until its user is asked
//! (`HeldSearch`).
//!
//! **Bounded.** At most [`PER_USER`] searches per user (the newest) and [`MAX_USERS`] users (those with the
//! oldest searches go first); the block ids of [`LOOKBACK_MS`] of pushes. A restart loses the tail; the next
//! read after it rebuilds everything since the generation's window ended that the store still holds, and the
//! next generation trains on all of it. A search whose `bhv_time` is before the window's end but that was
//! pushed after training counts only from the next generation on.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use algocenter_domain::behaviour::SEARCH;
use algocenter_domain::data::TrainingData;
use algocenter_domain::{Error, Result, now_ms};
use algocenter_functions::query::live::{LiveSearch, is_usable_raw};
use algocenter_store::Store;

/// Least time between two reads of one tail.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How far before the newest search seen a read looks for blocks it has not read, for searches pushed late.
/// Only the listing of block ids covers this span; blocks already read are not decoded again.
pub const LOOKBACK_MS: i64 = 15_000;
/// Searches kept per user.
pub const PER_USER: usize = 20;
/// Users kept per tail.
pub const MAX_USERS: usize = 50_000;
/// Room for a new user's searches; a user who searches more gets room for [`PER_USER`] at once.
const FIRST_SEARCHES: usize = 4;
/// Tails kept at once (one per app group and generation window being asked).
const MAX_TAILS: usize = 256;

/// The users' searches, by user. Keyed by the name, allocated once per user; foldhash rather than SipHash
/// because every pushed search looks its user up here (the names come from pushes and requests: foldhash's
/// random seed per map keeps the order unpredictable).
type Users = HashMap<Box<str>, VecDeque<HeldSearch>, foldhash::fast::RandomState>;

/// A search as the tail holds it. Reading sees every pushed search and serving asks for the few of one user, so
/// a query that is certainly usable is kept as typed and normalised the first time its user is asked.
#[derive(Debug)]
enum HeldSearch {
    Typed { query: Box<str>, at_ms: i64 },
    Normalised(LiveSearch),
}

impl HeldSearch {
    fn at_ms(&self) -> i64 {
        match self {
            HeldSearch::Typed { at_ms, .. } => *at_ms,
            HeldSearch::Normalised(search) => search.at_ms,
        }
    }

    /// The search as serving reads it, normalised now if it was not yet.
    fn normalised(&mut self) -> Option<&LiveSearch> {
        if let HeldSearch::Typed { query, at_ms } = self {
            *self = HeldSearch::Normalised(LiveSearch::new(query, *at_ms)?);
        }
        match self {
            HeldSearch::Normalised(search) => Some(search),
            HeldSearch::Typed { .. } => None,
        }
    }
}

#[derive(Default)]
struct TailState {
    /// The newest event time read so far (never ahead of the clock).
    newest_ms: i64,
    /// The blocks read whose newest event is within [`LOOKBACK_MS`] of `newest_ms`, with that time.
    blocks_read: HashMap<i64, i64>,
    /// Search events decoded by all reads (for tests and logs: a read decodes only new blocks).
    searches_decoded: u64,
    users: Users,
}

impl TailState {
    /// The oldest newest-event time of a block that a read still lists.
    fn horizon(&self, since_ms: i64) -> i64 {
        (self.newest_ms - LOOKBACK_MS).max(since_ms)
    }

    /// Takes a search of `user` typed at `at_ms` (within the tail's window), unless the user's [`PER_USER`]
    /// searches are all newer or the query is not usable. The bound applies here, before anything is allocated
    /// for a search that would go at once.
    fn hold(&mut self, user: &str, query: &str, at_ms: i64, now_ms: i64) {
        let own = self.users.get_mut(user);
        // Of equal times the one read last stays (it goes after them in time order).
        if let Some(own) = &own
            && own.len() >= PER_USER
            && own.front().is_some_and(|oldest| at_ms < oldest.at_ms())
        {
            return;
        }
        let search = match is_usable_raw(query) {
            Some(true) => HeldSearch::Typed {
                query: query.into(),
                at_ms,
            },
            Some(false) => return,
            // Other scripts (or long text): only normalising tells whether it counts, so it is normalised now.
            None => match LiveSearch::new(query, at_ms) {
                Some(search) => HeldSearch::Normalised(search),
                None => return,
            },
        };
        self.newest_ms = self.newest_ms.max(at_ms.min(now_ms));
        match own {
            Some(own) => {
                if own.len() >= PER_USER {
                    own.pop_front();
                } else if own.len() == own.capacity() {
                    // Straight to the bound from the first few: a user's searches move at most once.
                    own.reserve_exact(PER_USER - own.len());
                }
                // Blocks arrive in any order: keep each user's searches in time order.
                let at = own.partition_point(|s| s.at_ms() <= at_ms);
                own.insert(at, search);
            }
            None => {
                let mut own = VecDeque::with_capacity(FIRST_SEARCHES);
                own.push_back(search);
                self.users.insert(user.into(), own);
            }
        }
    }

    /// Past [`MAX_USERS`], keeps the users whose newest search is newest, down to nine tenths of the bound.
    fn evict(&mut self) {
        if self.users.len() <= MAX_USERS {
            return;
        }
        // The cut-off time by selection, not a sort, and no user's name copied (with more active users than the
        // bound, this runs on most reads).
        let keep = MAX_USERS * 9 / 10;
        let mut newest: Vec<i64> = self
            .users
            .values()
            .map(|s| s.back().map_or(i64::MIN, HeldSearch::at_ms))
            .collect();
        let at = newest.len() - keep;
        let (older, &mut cut, _) = newest.select_nth_unstable(at);
        // Of the users whose newest search is at the cut-off time, those below the cut go.
        let mut ties_to_drop = older.iter().filter(|&&t| t == cut).count();
        self.users.retain(|_, s| {
            let t = s.back().map_or(i64::MIN, HeldSearch::at_ms);
            if t == cut && ties_to_drop > 0 {
                ties_to_drop -= 1;
                return false;
            }
            t >= cut
        });
    }
}

/// The searches of one app group since one instant.
pub struct LiveTail {
    app: String,
    since_ms: i64,
    state: Mutex<TailState>,
    reading: AtomicBool,
    /// When the last read started, in milliseconds after `created` plus one (0: never). An atomic rather than a
    /// lock: every request asking the instance checks it.
    last_read: AtomicU64,
    created: Instant,
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
            last_read: AtomicU64::new(0),
            created: Instant::now(),
        }
    }

    fn state(&self) -> MutexGuard<'_, TailState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The user's searches since the tail's start, oldest first.
    pub fn searches_of(&self, user: &str) -> Vec<LiveSearch> {
        let mut state = self.state();
        state.users.get_mut(user).map_or_else(Vec::new, |held| {
            held.iter_mut()
                .filter_map(|s| s.normalised().cloned())
                .collect()
        })
    }

    /// Users and searches held, for the logs and tests.
    pub fn size(&self) -> (usize, usize) {
        let state = self.state();
        (
            state.users.len(),
            state.users.values().map(VecDeque::len).sum(),
        )
    }

    /// Search events decoded by all reads so far (the other events of a block are read over, not decoded).
    pub fn searches_decoded(&self) -> u64 {
        self.state().searches_decoded
    }

    /// Reads the blocks of `data` not read before and takes their searches. Blocking.
    ///
    /// Searches are taken as each block is decoded, one short lock per search: the lock is never held over a
    /// block's decoding, which requests asking for a user's searches would wait for. A block is marked read
    /// before it is decoded, so that no search counts twice even if reads overlapped.
    pub fn read_from(&self, data: &dyn TrainingData, now_ms: i64) -> Result<()> {
        let horizon = self.state().horizon(self.since_ms);
        let listed = data.recent_blocks(horizon)?;
        // Every listed block is read even when one fails, so that a block that cannot be read holds no other
        // back; the first failure is returned, and the failed block is read again next time.
        let mut first_failure = None;
        for block in listed {
            if self
                .state()
                .blocks_read
                .insert(block.id, block.newest_ms)
                .is_some()
            {
                continue;
            }
            // Views, not owned events: the tail reads every pushed event and keeps only searches.
            let mut decoded = 0u64;
            let read = data.for_each_event_of_block(block.id, Some(SEARCH), &mut |e| {
                decoded += 1;
                if e.bhv_time_ms >= self.since_ms {
                    let user = e.user();
                    if !user.is_empty() {
                        self.state().hold(user, e.raw_query, e.bhv_time_ms, now_ms);
                    }
                }
                Ok(())
            });
            let mut state = self.state();
            state.searches_decoded += decoded;
            if let Err(e) = read {
                // Read again next time (a block fails whole, before any of its events is taken).
                state.blocks_read.remove(&block.id);
                first_failure.get_or_insert(e);
            }
        }
        let mut state = self.state();
        // A block behind the horizon is no longer listed: its id need not be kept.
        let horizon = state.horizon(self.since_ms);
        state.blocks_read.retain(|_, newest| *newest >= horizon);
        state.evict();
        first_failure.map_or(Ok(()), Err)
    }

    /// Reads the store once, on a blocking thread.
    async fn read(self: Arc<Self>, store: Arc<dyn Store>) -> Result<()> {
        let tail = Arc::clone(&self);
        tokio::task::spawn_blocking(move || -> Result<()> {
            let data = store.training_data(&tail.app)?;
            tail.read_from(data.as_ref(), now_ms())
        })
        .await
        .map_err(|e| Error::internal(format_args!("reading the live tail failed: {e}")))?
    }

    /// Starts a read unless one is running or the last started less than [`POLL_INTERVAL`] ago.
    fn refresh(self: &Arc<Self>, store: &Arc<dyn Store>) {
        let now = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let last = self.last_read.load(Ordering::Acquire);
        let interval = u64::try_from(POLL_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        if last != 0 && now.saturating_sub(last) < interval {
            return;
        }
        if self.reading.swap(true, Ordering::AcqRel) {
            return;
        }
        self.last_read.store(now, Ordering::Release);
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

/// The tails of a serving process, by app group, then by start (an app group has one or two being asked).
#[derive(Default)]
pub struct LiveTails {
    tails: Mutex<HashMap<String, TailsOfApp>>,
}

/// The tails of one app group, by start.
type TailsOfApp = Vec<(i64, Arc<LiveTail>)>;

impl LiveTails {
    /// The tail of `app` since `since_ms`, refreshed in the background when due.
    pub fn get(&self, store: &Arc<dyn Store>, app: &str, since_ms: i64) -> Arc<LiveTail> {
        let tail = {
            let mut tails = self.tails.lock().unwrap_or_else(|p| p.into_inner());
            // Found by the borrowed name: a request allocates nothing here.
            let held = tails
                .get(app)
                .and_then(|of_app| of_app.iter().find(|(since, _)| *since == since_ms))
                .map(|(_, tail)| Arc::clone(tail));
            match held {
                Some(tail) => tail,
                None => {
                    if tails.values().map(Vec::len).sum::<usize>() >= MAX_TAILS {
                        tails.clear();
                    }
                    let tail = Arc::new(LiveTail::new(app, since_ms));
                    tails
                        .entry(app.to_string())
                        .or_default()
                        .push((since_ms, Arc::clone(&tail)));
                    tail
                }
            }
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
    use algocenter_domain::behaviour::{BehaviourEvent, EventView};
    use algocenter_domain::data::BlockRef;

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

    /// Blocks as a store with concurrent writers shows them: `visible` says which ids a read sees, so that a
    /// block with a lower id can appear after a higher one (two pushes committing in the other order).
    struct Blocks {
        blocks: Vec<(i64, Vec<BehaviourEvent>)>,
        visible: Vec<i64>,
        /// Blocks that fail to decode (whole, as a corrupt block does).
        failing: Vec<i64>,
    }

    impl TrainingData for Blocks {
        fn for_each_event(
            &self,
            _: i64,
            _: i64,
            _: &mut dyn FnMut(&BehaviourEvent) -> Result<()>,
        ) -> Result<()> {
            Ok(())
        }

        fn estimate_events(&self, _: i64, _: i64) -> Result<u64> {
            Ok(0)
        }

        fn for_each_document(
            &self,
            _: algocenter_domain::document::DocumentKind,
            _: &mut dyn FnMut(&algocenter_domain::document::Document) -> Result<()>,
        ) -> Result<()> {
            Ok(())
        }

        fn recent_blocks(&self, newest_from_ms: i64) -> Result<Vec<BlockRef>> {
            Ok(self
                .blocks
                .iter()
                .filter(|(id, _)| self.visible.contains(id))
                .map(|(id, events)| BlockRef {
                    id: *id,
                    newest_ms: events.iter().map(|e| e.bhv_time_ms).max().unwrap_or(0),
                })
                .filter(|b| b.newest_ms >= newest_from_ms)
                .collect())
        }

        fn for_each_event_of_block(
            &self,
            id: i64,
            only: Option<&str>,
            f: &mut dyn FnMut(&EventView<'_>) -> Result<()>,
        ) -> Result<()> {
            if self.failing.contains(&id) {
                return Err(Error::internal("block does not decode"));
            }
            self.blocks
                .iter()
                .filter(|(b, _)| *b == id && self.visible.contains(b))
                .flat_map(|(_, events)| events)
                .filter(|e| only.is_none_or(|t| t == e.bhv_type))
                .try_for_each(|e| f(&EventView::of(e)))
        }
    }

    fn queries(tail: &LiveTail, user: &str) -> Vec<String> {
        tail.searches_of(user)
            .into_iter()
            .map(|s| s.normal)
            .collect()
    }

    #[test]
    fn a_read_decodes_only_new_blocks_and_takes_a_late_lower_id_once() {
        let tail = LiveTail::new("app", 1_000);
        let mut data = Blocks {
            blocks: vec![
                (1, vec![search("a", "first", 2_000, "r1")]),
                // Committed last although its id is lower than block 3's; its search is the oldest.
                (2, vec![search("a", "late", 1_500, "r2")]),
                (
                    3,
                    vec![
                        search("a", "third", 3_000, "r3"),
                        search("b", "other", 3_100, "r4"),
                    ],
                ),
                (4, vec![search("a", "fourth", 40_000, "r5")]),
            ],
            visible: vec![1, 3],
            failing: vec![],
        };
        tail.read_from(&data, 50_000).unwrap();
        assert_eq!(queries(&tail, "a"), ["first", "third"]);
        assert_eq!(tail.searches_decoded(), 3);
        tail.read_from(&data, 50_000).unwrap();
        assert_eq!(tail.searches_decoded(), 3, "nothing new: nothing decoded");
        data.visible = vec![1, 2, 3];
        tail.read_from(&data, 50_000).unwrap();
        assert_eq!(queries(&tail, "a"), ["late", "first", "third"]);
        assert_eq!(tail.searches_decoded(), 4, "only block 2 decoded");
        data.visible = vec![1, 2, 3, 4];
        tail.read_from(&data, 50_000).unwrap();
        assert_eq!(queries(&tail, "a"), ["late", "first", "third", "fourth"]);
        assert_eq!(queries(&tail, "b"), ["other"]);
        assert_eq!(tail.searches_decoded(), 5);
        let kept = tail.state.lock().unwrap().blocks_read.len();
        assert_eq!(
            kept, 1,
            "blocks behind the window are forgotten, not listed again"
        );
        tail.read_from(&data, 50_000).unwrap();
        assert_eq!(tail.searches_decoded(), 5);
        assert_eq!(tail.size(), (2, 5));
    }

    #[test]
    fn a_tail_keeps_each_users_newest_searches_in_time_order() {
        let tail = LiveTail::new("app", 1_000);
        let events = vec![
            search("a", "old", 999, "r0"),
            search("a", "second", 2_000, "r2"),
            search("a", "first", 1_500, "r1"),
            search("", "anonymous", 1_600, "r3"),
            search("b", "!!!", 1_700, "r4"),
        ];
        let mut data = Blocks {
            blocks: vec![(1, events)],
            visible: vec![1],
            failing: vec![],
        };
        tail.read_from(&data, 10_000).unwrap();
        tail.read_from(&data, 10_000).unwrap();
        assert_eq!(
            queries(&tail, "a"),
            ["first", "second"],
            "before the window's end, a block read twice, anonymous or unusable: not taken"
        );
        data.blocks.push((
            2,
            (0..30)
                .map(|i| search("a", &format!("q{i}"), 3_000 + i, &format!("x{i}")))
                .collect(),
        ));
        data.visible.push(2);
        tail.read_from(&data, 10_000).unwrap();
        let kept = tail.searches_of("a");
        assert_eq!(kept.len(), PER_USER);
        assert_eq!(kept.last().unwrap().normal, "q29");
        assert_eq!(tail.size(), (1, PER_USER));
    }

    #[test]
    fn past_the_user_bound_the_users_with_the_oldest_searches_go() {
        let tail = LiveTail::new("app", 1_000);
        let over = MAX_USERS + 500;
        // Times repeat every 1,000 users, so that many users share the cut-off time.
        let events = (0..over)
            .map(|u| search(&format!("u{u}"), "shoes", 2_000 + (u / 1_000) as i64, "r"))
            .collect();
        let data = Blocks {
            blocks: vec![(1, events)],
            visible: vec![1],
            failing: vec![],
        };
        tail.read_from(&data, 100_000).unwrap();
        let keep = MAX_USERS * 9 / 10;
        assert_eq!(tail.size(), (keep, keep));
        let state = tail.state.lock().unwrap();
        let oldest_kept = state.users.values().map(|s| s[0].at_ms()).min().unwrap();
        let dropped_newer = (0..over)
            .filter(|u| !state.users.contains_key(format!("u{u}").as_str()))
            .filter(|u| 2_000 + (u / 1_000) as i64 > oldest_kept)
            .count();
        assert_eq!(dropped_newer, 0, "only users at or before the cut-off go");
    }

    #[test]
    fn a_full_users_search_older_than_all_kept_is_not_taken() {
        let tail = LiveTail::new("app", 1_000);
        let full = (0..PER_USER as i64)
            .map(|i| search("a", &format!("q{i}"), 2_000 + i, &format!("r{i}")))
            .collect();
        let mut data = Blocks {
            blocks: vec![(1, full)],
            visible: vec![1],
            failing: vec![],
        };
        tail.read_from(&data, 10_000).unwrap();
        data.blocks.push((
            2,
            vec![
                search("a", "older", 1_999, "o"),
                // As old as the oldest kept: read later, so it stays and the oldest goes.
                search("a", "tied", 2_000, "t"),
            ],
        ));
        data.visible.push(2);
        tail.read_from(&data, 10_000).unwrap();
        let expected: Vec<String> = std::iter::once("tied".to_string())
            .chain((1..PER_USER).map(|i| format!("q{i}")))
            .collect();
        assert_eq!(queries(&tail, "a"), expected);
        assert_eq!(tail.searches_decoded(), PER_USER as u64 + 2);
    }

    #[test]
    fn plain_queries_are_normalised_when_their_user_is_asked_others_when_read() {
        let tail = LiveTail::new("app", 1_000);
        let data = Blocks {
            blocks: vec![(
                1,
                vec![
                    search("a", "  Nike   Shoes!", 2_000, "r1"),
                    search("a", "Ｎｉｋｅ", 2_001, "r2"),
                    search("a", "???", 2_002, "r3"),
                    search("a", "连衣 裙", 2_003, "r4"),
                    search("b", "¿?", 2_004, "r5"),
                ],
            )],
            visible: vec![1],
            failing: vec![],
        };
        tail.read_from(&data, 10_000).unwrap();
        let typed = |tail: &LiveTail| {
            tail.state().users["a"]
                .iter()
                .filter(|s| matches!(s, HeldSearch::Typed { .. }))
                .count()
        };
        assert_eq!(tail.size(), (1, 3), "unusable queries are not held");
        assert_eq!(
            typed(&tail),
            2,
            "ASCII and ideographs wait, full-width letters do not"
        );
        let served = tail.searches_of("a");
        let shown: Vec<(&str, &str, i64)> = served
            .iter()
            .map(|s| (s.normal.as_str(), s.display.as_str(), s.at_ms))
            .collect();
        assert_eq!(
            shown,
            [
                ("nike shoes", "Nike Shoes!", 2_000),
                ("nike", "Ｎｉｋｅ", 2_001),
                ("连衣裙", "连衣 裙", 2_003)
            ]
        );
        assert_eq!(typed(&tail), 0, "normalised once, when asked");
        assert_eq!(tail.searches_of("a"), served);
    }

    #[test]
    fn a_block_that_fails_to_decode_is_read_again_and_holds_no_other_back() {
        let tail = LiveTail::new("app", 1_000);
        let mut data = Blocks {
            blocks: vec![
                (1, vec![search("a", "one", 2_000, "r1")]),
                (2, vec![search("a", "two", 2_001, "r2")]),
            ],
            visible: vec![1, 2],
            failing: vec![1],
        };
        assert!(tail.read_from(&data, 10_000).is_err());
        assert_eq!(queries(&tail, "a"), ["two"], "the block after it is read");
        assert!(tail.read_from(&data, 10_000).is_err(), "still failing");
        data.failing.clear();
        tail.read_from(&data, 10_000).unwrap();
        assert_eq!(queries(&tail, "a"), ["one", "two"]);
        tail.read_from(&data, 10_000).unwrap();
        assert_eq!(tail.size(), (1, 2), "each block taken once");
    }
}
