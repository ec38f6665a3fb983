//! The query log of a window: every search with a usable query (normalised), who searched, when, whether it
//! returned results, and the clicks joined to it by `rn`. Read once per training run; each query function
//! then counts what it needs through [`QueryLog::kept`], which applies the anti-spam cap and the filters.
//!
//! Anti-spam: one identity (the `user_id`, else the device `imei`) counts at most `user_query_cap` searches of
//! one query per UTC day, so a bot repeating a query cannot make it hot. Searches with neither id share one
//! anonymous identity: anonymous traffic cannot be told apart from a bot, so it weighs as one user.

use std::collections::{HashMap, HashSet};

use algocenter_domain::data::{TrainingData, day_of};
use xxhash_rust::xxh3::xxh3_64;

use super::{is_usable, normalise};
use crate::TrainError;
use crate::held_out::Window;
use crate::progress::Steps;

/// The step in which a query function reads its query log.
pub const READING_LOG: &str = "reading the query log";

/// Which searches count.
#[derive(Clone, Copy, Debug)]
pub struct LogFilter {
    /// Most searches of one query counted per identity and day.
    pub user_query_cap: u32,
    /// Ignore searches that returned nothing (`hits=0`).
    pub drop_no_result: bool,
    /// Ignore searches without a click joined to them.
    pub drop_no_click: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub query: u32,
    /// Index of the identity; 0 is the anonymous one.
    pub identity: u32,
    pub at_ms: i64,
    pub no_result: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Click {
    pub search: u32,
    pub item: u32,
    pub at_ms: i64,
}

/// Clicks of one search counted at most (distinct items): a bot clicking through a page must not outweigh users.
pub const MAX_CLICKS_PER_SEARCH: usize = 10;
/// A spelling much longer than its normal form is padding, not how users type the query: not shown.
const MAX_SPELLING_BYTES: usize = 256;

/// What reading the log saw, for `ExtendInfo`.
#[derive(Clone, Debug, Default)]
pub struct LogStats {
    pub events: u64,
    pub searches: u64,
    /// Searches whose query was empty after normalisation, or too long.
    pub unusable_queries: u64,
    /// Clicks whose `rn` matched no search of the window.
    pub unjoined_clicks: u64,
}

/// Per-query counts of a set of kept searches.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueryCount {
    /// Searches, each weighted by its decay when one was asked for.
    pub weight: f64,
    pub searches: u32,
    /// Distinct identities.
    pub users: u32,
    /// Searches with at least one click.
    pub clicked: u32,
}

#[derive(Default)]
pub struct QueryLog {
    queries: Vec<String>,
    query_ids: HashMap<String, u32>,
    /// How many users typed each query exactly in its normal form (after trimming).
    normal_uses: Vec<u32>,
    /// (identity, query, spelling + 1, or 0 for the normal form) already counted: a spelling counts users, so a
    /// bot repeating an odd spelling cannot make it the one shown.
    spelled_by: HashSet<(u32, u32, u8)>,
    /// When each query was first searched.
    first_seen_ms: Vec<i64>,
    /// Other spellings of a query and their counts, for display.
    spellings: HashMap<u32, Vec<(String, u32)>>,
    identities: Vec<String>,
    identity_ids: HashMap<String, u32>,
    items: Vec<String>,
    item_ids: HashMap<String, u32>,
    pub searches: Vec<Search>,
    /// Clicks, ordered by search.
    pub clicks: Vec<Click>,
    /// For each search, where its clicks start in `clicks` (one more entry than `searches`).
    click_start: Vec<u32>,
    pub stats: LogStats,
}

fn intern(names: &mut Vec<String>, ids: &mut HashMap<String, u32>, name: &str) -> u32 {
    if let Some(&id) = ids.get(name) {
        return id;
    }
    let id = names.len() as u32;
    names.push(name.to_string());
    ids.insert(name.to_string(), id);
    id
}

impl QueryLog {
    /// Reads the searches and clicks of `window`, counting the events read within the current step.
    pub(crate) fn read(
        data: &dyn TrainingData,
        window: Window,
        steps: &mut Steps<'_>,
    ) -> Result<QueryLog, TrainError> {
        let mut log = QueryLog::default();
        intern(&mut log.identities, &mut log.identity_ids, "");
        // rn → search, by hash: a full string per search would double the log's memory.
        let mut by_rn: HashMap<u64, u32> = HashMap::new();
        let mut pending: Vec<(u64, u32, i64)> = Vec::new();
        steps.for_each_event(data, window, |e| {
            log.stats.events += 1;
            match e.bhv_type.as_str() {
                "search" => {
                    log.stats.searches += 1;
                    let normal = normalise(&e.raw_query);
                    if !is_usable(&normal) {
                        log.stats.unusable_queries += 1;
                        return;
                    }
                    let identity = intern(&mut log.identities, &mut log.identity_ids, e.user());
                    let query = log.query_id(normal, e.raw_query.trim(), identity);
                    let first = &mut log.first_seen_ms[query as usize];
                    *first = (*first).min(e.bhv_time_ms);
                    let index = log.searches.len() as u32;
                    log.searches.push(Search {
                        query,
                        identity,
                        at_ms: e.bhv_time_ms,
                        no_result: e.hits == Some(0),
                    });
                    if !e.rn.is_empty() {
                        by_rn.insert(xxh3_64(e.rn.as_bytes()), index);
                    }
                }
                "click" if !e.rn.is_empty() && !e.item_id.is_empty() => {
                    // Joined after the scan: the store returns events in the order they were pushed, and a
                    // click may have been pushed before its search.
                    let item = intern(&mut log.items, &mut log.item_ids, &e.item_id);
                    pending.push((xxh3_64(e.rn.as_bytes()), item, e.bhv_time_ms));
                }
                "click" => log.stats.unjoined_clicks += 1,
                _ => {}
            }
        })?;
        let mut raw_clicks: Vec<Click> = Vec::with_capacity(pending.len());
        for (rn, item, at_ms) in pending {
            match by_rn.get(&rn) {
                Some(&search) => raw_clicks.push(Click {
                    search,
                    item,
                    at_ms,
                }),
                None => log.stats.unjoined_clicks += 1,
            }
        }
        // One click per item and search, the first, and at most MAX_CLICKS_PER_SEARCH per search.
        raw_clicks.sort_by_key(|c| (c.search, c.item, c.at_ms));
        raw_clicks.dedup_by_key(|c| (c.search, c.item));
        raw_clicks.sort_by_key(|c| (c.search, c.at_ms));
        let mut per_search = 0usize;
        let mut previous = u32::MAX;
        raw_clicks.retain(|c| {
            per_search = if c.search == previous {
                per_search + 1
            } else {
                1
            };
            previous = c.search;
            per_search <= MAX_CLICKS_PER_SEARCH
        });
        let mut click_start = Vec::with_capacity(log.searches.len() + 1);
        let mut next = 0usize;
        for s in 0..log.searches.len() as u32 {
            click_start.push(next as u32);
            while next < raw_clicks.len() && raw_clicks[next].search == s {
                next += 1;
            }
        }
        click_start.push(next as u32);
        log.clicks = raw_clicks;
        log.click_start = click_start;
        Ok(log)
    }

    fn query_id(&mut self, normal: String, raw: &str, identity: u32) -> u32 {
        let id = match self.query_ids.get(&normal) {
            Some(&id) => id,
            None => {
                let id = self.queries.len() as u32;
                self.query_ids.insert(normal.clone(), id);
                self.queries.push(normal);
                self.normal_uses.push(0);
                self.first_seen_ms.push(i64::MAX);
                id
            }
        };
        let normal = &self.queries[id as usize];
        // Spacing alone does not make a new spelling.
        if raw.split_whitespace().eq(normal.split(' ')) {
            if self.spelled_by.insert((identity, id, 0)) {
                self.normal_uses[id as usize] += 1;
            }
            return id;
        }
        if raw.len() > MAX_SPELLING_BYTES {
            return id;
        }
        let spelled: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        let spellings = self.spellings.entry(id).or_default();
        let at = match spellings.iter().position(|(s, _)| *s == spelled) {
            Some(at) => at,
            // A few spellings are enough to pick the usual one; the rest are typos of typos.
            None if spellings.len() < 8 => {
                spellings.push((spelled, 0));
                spellings.len() - 1
            }
            None => return id,
        };
        if self.spelled_by.insert((identity, id, at as u8 + 1)) {
            spellings[at].1 += 1;
        }
        id
    }

    /// Searches of `window` with a usable query, before any filter.
    pub fn searches_in(&self, window: Window) -> u64 {
        self.searches
            .iter()
            .filter(|s| window.contains(s.at_ms))
            .count() as u64
    }

    /// Number of distinct queries.
    pub fn query_count(&self) -> usize {
        self.queries.len()
    }

    /// The normal form of a query.
    pub fn query(&self, id: u32) -> &str {
        &self.queries[id as usize]
    }

    /// When a query was first searched in the log's window.
    pub fn first_seen_ms(&self, id: u32) -> i64 {
        self.first_seen_ms[id as usize]
    }

    pub fn query_id_of(&self, normal: &str) -> Option<u32> {
        self.query_ids.get(normal).copied()
    }

    /// How users usually spelled a query: the raw form most users typed (ties go to the normal form, then to the
    /// spelling seen first).
    pub fn display(&self, id: u32) -> &str {
        let normal = &self.queries[id as usize];
        let normal_uses = self.normal_uses[id as usize];
        match self.spellings.get(&id) {
            Some(spellings) => spellings
                .iter()
                .filter(|(_, n)| *n > normal_uses)
                .rev()
                .max_by_key(|(_, n)| *n)
                .map_or(normal.as_str(), |(s, _)| s.as_str()),
            None => normal,
        }
    }

    pub fn identity(&self, id: u32) -> &str {
        &self.identities[id as usize]
    }

    pub fn item(&self, id: u32) -> &str {
        &self.items[id as usize]
    }

    /// The clicks of one search made before `before_ms` (a model trained on a window must not see the clicks of
    /// the days after it), in time order.
    pub fn clicks_of(&self, search: u32, before_ms: i64) -> impl Iterator<Item = &Click> {
        let s = search as usize;
        let range = match (self.click_start.get(s), self.click_start.get(s + 1)) {
            (Some(&a), Some(&b)) => &self.clicks[a as usize..b as usize],
            _ => &[],
        };
        range.iter().take_while(move |c| c.at_ms < before_ms)
    }

    /// The searches of `[from_ms, to_ms)` that count under `filter`, in log order, and how many the anti-spam
    /// cap removed.
    pub fn kept(&self, from_ms: i64, to_ms: i64, filter: LogFilter) -> (Vec<u32>, u64) {
        let mut per_day: HashMap<(u32, u32, i64), u32> = HashMap::new();
        let mut kept = Vec::new();
        let mut capped = 0u64;
        for (i, s) in self.searches.iter().enumerate() {
            if s.at_ms < from_ms
                || s.at_ms >= to_ms
                || (filter.drop_no_result && s.no_result)
                || (filter.drop_no_click && self.clicks_of(i as u32, to_ms).next().is_none())
            {
                continue;
            }
            let n = per_day
                .entry((s.query, s.identity, day_of(s.at_ms)))
                .or_default();
            *n += 1;
            if *n <= filter.user_query_cap {
                kept.push(i as u32);
            } else {
                capped += 1;
            }
        }
        (kept, capped)
    }

    /// Per-query counts of kept searches of a window ending at `to_ms`, indexed by query id. With a half-life a
    /// search weighs `0.5^(age / half_life)`, its age measured at `to_ms`; otherwise 1.
    pub fn counts(&self, kept: &[u32], to_ms: i64, half_life_ms: Option<f64>) -> Vec<QueryCount> {
        let mut counts = vec![QueryCount::default(); self.queries.len()];
        let mut seen: HashSet<(u32, u32)> = HashSet::new();
        for &i in kept {
            let s = &self.searches[i as usize];
            let c = &mut counts[s.query as usize];
            c.weight += match half_life_ms {
                Some(half_life_ms) => 0.5f64.powf((to_ms - s.at_ms).max(0) as f64 / half_life_ms),
                None => 1.0,
            };
            c.searches += 1;
            if self.clicks_of(i, to_ms).next().is_some() {
                c.clicked += 1;
            }
            if seen.insert((s.query, s.identity)) {
                c.users += 1;
            }
        }
        counts
    }
}

/// Queries of a `raw_file` dictionary, one per line, normalised; blank lines and `#` comments skipped.
pub fn dictionary(content: Option<&str>) -> Vec<String> {
    dictionary_entries(content)
        .into_iter()
        .map(|(normal, _)| normal)
        .collect()
}

/// The lines of a dictionary as (normal form, as written), first occurrence of each normal form kept.
pub fn dictionary_entries(content: Option<&str>) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    content
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| (normalise(l), l.to_string()))
        .filter(|(q, _)| is_usable(q) && seen.insert(q.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{Cancelled, Level, Progress};
    use crate::query::log::LogFilter;
    use algocenter_domain::behaviour::BehaviourEvent;
    use algocenter_domain::data::InMemoryData;

    struct Quiet;
    impl Progress for Quiet {
        fn update(&mut self, _: &[Level<'_>]) -> Result<(), Cancelled> {
            Ok(())
        }
    }

    fn event(kind: &str, user: &str, at_ms: i64, rn: &str) -> BehaviourEvent {
        BehaviourEvent {
            user_id: user.into(),
            imei: String::new(),
            biz_id: String::new(),
            trace_id: String::new(),
            rn: rn.into(),
            item_id: String::new(),
            item_type: String::new(),
            bhv_type: kind.into(),
            bhv_time_ms: at_ms,
            reach_time_ms: at_ms,
            raw_query: String::new(),
            hits: None,
            position: None,
            context: Vec::new(),
            extra: Vec::new(),
        }
    }

    pub(crate) fn search(user: &str, query: &str, at_ms: i64, rn: &str) -> BehaviourEvent {
        BehaviourEvent {
            raw_query: query.into(),
            hits: Some(10),
            ..event("search", user, at_ms, rn)
        }
    }

    pub(crate) fn click(user: &str, item: &str, at_ms: i64, rn: &str) -> BehaviourEvent {
        BehaviourEvent {
            item_id: item.into(),
            ..event("click", user, at_ms, rn)
        }
    }

    fn read(events: Vec<BehaviourEvent>) -> QueryLog {
        let data = InMemoryData {
            events,
            ..Default::default()
        };
        let mut quiet = Quiet;
        let everything = Window {
            from_ms: 0,
            to_ms: i64::MAX,
        };
        QueryLog::read(&data, everything, &mut Steps::new(&mut quiet, &[])).unwrap()
    }

    const OPEN: LogFilter = LogFilter {
        user_query_cap: 3,
        drop_no_result: true,
        drop_no_click: false,
    };

    #[test]
    fn spellings_of_one_query_are_one_query_shown_as_usually_typed() {
        let log = read(vec![
            search("a", "Nike Shoes", 1, "r1"),
            search("b", "nike  shoes", 2, "r2"),
            search("c", "ＮＩＫＥ ｓｈｏｅｓ", 3, "r3"),
            search("d", "Nike Shoes", 4, "r4"),
            search("e", "!!!", 5, "r5"),
        ]);
        assert_eq!(log.query_count(), 1);
        assert_eq!(log.query(0), "nike shoes");
        assert_eq!(log.display(0), "Nike Shoes");
        assert_eq!(log.stats.unusable_queries, 1);
    }

    #[test]
    fn a_bot_repeating_a_query_counts_as_one_capped_user() {
        let mut events: Vec<BehaviourEvent> = (0..1000)
            .map(|i| search("bot", "spam", i, &format!("b{i}")))
            .collect();
        events.push(search("u1", "dress", 5, "x1"));
        events.push(search("u2", "dress", 6, "x2"));
        let day = algocenter_domain::data::DAY_MS;
        events.extend((0..10).map(|i| search("bot", "spam", day + i, &format!("c{i}"))));
        let log = read(events);
        let (kept, capped) = log.kept(0, i64::MAX, OPEN);
        let counts = log.counts(&kept, i64::MAX, None);
        let spam = log.query_id_of("spam").unwrap() as usize;
        let dress = log.query_id_of("dress").unwrap() as usize;
        assert_eq!(counts[spam].searches, 6, "3 a day over two days");
        assert_eq!(counts[spam].users, 1);
        assert_eq!(capped, 1004);
        assert_eq!((counts[dress].searches, counts[dress].users), (2, 2));
    }

    #[test]
    fn a_spelling_counts_users_so_a_bot_cannot_choose_how_a_query_is_shown() {
        let mut events: Vec<BehaviourEvent> = (0..50)
            .map(|i| search("bot", "DRESS ★★★", i, &format!("b{i}")))
            .collect();
        events.push(search("a", "Dress", 100, "a"));
        events.push(search("b", "Dress", 101, "b"));
        events.push(search("c", "dress", 102, "c"));
        let log = read(events);
        assert_eq!(log.display(0), "Dress");
    }

    #[test]
    fn clicks_join_whatever_order_they_were_pushed_in_and_are_capped_per_search() {
        let mut events = vec![click("a", "i1", 5, "r1"), click("a", "i1", 6, "r1")];
        events.extend((0..30).map(|i| click("a", &format!("x{i}"), 10 + i, "r1")));
        events.push(search("a", "dress", 1, "r1"));
        let log = read(events);
        let clicks: Vec<&Click> = log.clicks_of(0, i64::MAX).collect();
        assert_eq!(clicks.len(), MAX_CLICKS_PER_SEARCH);
        assert_eq!(
            log.item(clicks[0].item),
            "i1",
            "the first click of an item, once"
        );
        assert_eq!(log.stats.unjoined_clicks, 0);
    }

    #[test]
    fn anonymous_searches_share_one_identity() {
        let log = read(
            (0..10)
                .map(|i| search("", "free stuff", i, &format!("r{i}")))
                .collect(),
        );
        let (kept, _) = log.kept(0, i64::MAX, OPEN);
        assert_eq!(kept.len(), 3);
    }

    #[test]
    fn clicks_join_their_search_by_rn_and_filters_apply() {
        let mut no_result = search("a", "zzz", 1, "r0");
        no_result.hits = Some(0);
        let log = read(vec![
            no_result,
            search("a", "dress", 2, "r1"),
            click("a", "i1", 3, "r1"),
            click("a", "i2", 4, "r1"),
            search("b", "dress", 5, "r2"),
            click("b", "i9", 6, "unknown"),
        ]);
        assert_eq!(log.stats.unjoined_clicks, 1);
        let clicks: Vec<&Click> = log.clicks_of(1, i64::MAX).collect();
        assert_eq!(clicks.len(), 2);
        assert_eq!(log.item(clicks[1].item), "i2");
        assert_eq!(
            log.clicks_of(1, 4).count(),
            1,
            "clicks from the window's end on are not seen"
        );
        assert_eq!(log.clicks_of(2, i64::MAX).count(), 0);
        let (kept, _) = log.kept(0, i64::MAX, OPEN);
        assert_eq!(kept, [1, 2], "the search without results is dropped");
        let (kept, _) = log.kept(
            0,
            i64::MAX,
            LogFilter {
                drop_no_click: true,
                ..OPEN
            },
        );
        assert_eq!(kept, [1]);
        let (kept, _) = log.kept(
            0,
            i64::MAX,
            LogFilter {
                drop_no_result: false,
                ..OPEN
            },
        );
        assert_eq!(kept, [0, 1, 2]);
        let counts = log.counts(&kept, i64::MAX, None);
        let dress = log.query_id_of("dress").unwrap() as usize;
        assert_eq!((counts[dress].searches, counts[dress].clicked), (2, 1));
    }

    #[test]
    fn decay_halves_a_search_per_half_life() {
        let log = read(vec![
            search("a", "q", 0, "r1"),
            search("b", "q", 1000, "r2"),
        ]);
        let (kept, _) = log.kept(0, i64::MAX, OPEN);
        let counts = log.counts(&kept, 1000, Some(1000.0));
        assert!((counts[0].weight - 1.5).abs() < 1e-9);
    }

    #[test]
    fn dictionaries_are_normalised_lines() {
        let words = dictionary(Some("# banned\n Spam \n\nspam\nＦＲＥＥ  stuff\n"));
        assert_eq!(words, ["spam", "free stuff"]);
        assert!(dictionary(None).is_empty());
    }
}
