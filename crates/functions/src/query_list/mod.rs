//! `hot` (top searches) and `hint` (search-box hints): ranked lists of queries, trained from the query log.
//!
//! **hot** counts, over the last `train_window_days`, each query's searches (pv) and distinct searchers (uv)
//! after the anti-spam cap and the filters ([`crate::query::log`]), and keeps the top 30 by each. Every listed
//! query is tagged by its growth against the window before: `0` new (not searched then), `2` rising (pv grew by
//! `rising_ratio` or more), `1` popular (the rest).
//!
//! **hint** ranks queries by fresh popularity and take-up: searches decayed with `half_life_days`, times the
//! query's smoothed click-through relative to the average (a hint nobody follows up is a poor hint). A
//! `near_realtime` instance also learns each query's category (where its clicks land) and each user's affinity
//! to categories from their recent searches and clicks, decayed like the counts: how much more of the user's
//! activity a category has than of everyone's, smoothed towards 1. A request with a known `user_id` then ranks
//! the candidate hints (the overall best and the best of every category) by score times the user's affinity to
//! the hint's category.
//!
//! Both: `blacklist` queries are never listed; `whitelist` queries are listed first, in file order. Evaluation
//! trains on the window before the held-out days and compares with what happened in them (hot: overlap with the
//! real top queries; hint: how many held-out searches the hints cover). The served list is then refit on the
//! whole window, held-out days included, so that it is as fresh as the data.

mod hint;
mod hot;
mod model;
mod personal;

use std::collections::HashSet;

use algocenter_domain::Function;
use algocenter_domain::data::WindowCounts;

use crate::evaluation::Metrics;
use crate::held_out::{HeldOutSplit, Window};
use crate::progress::Steps;
use crate::query::log::{
    LogFilter, QueryCount, QueryLog, READING_LOG, dictionary, dictionary_entries,
};
use crate::{TrainError, TrainingJob, ensure_ready};

pub use hint::HintTrainer;
pub use hot::HotTrainer;
pub use model::{
    ListOrder, ListedQuery, MAX_HIT, QueryListModel, TAG_NEW, TAG_POPULAR, TAG_RISING,
};

/// Parameters shared by `hot` and `hint`.
pub(super) struct ListSettings {
    filter: LogFilter,
    blacklist: HashSet<String>,
    /// (normal form, as written), in file order.
    whitelist: Vec<(String, String)>,
    whitelisted: HashSet<String>,
}

impl ListSettings {
    fn read(job: &TrainingJob<'_>) -> Result<Self, TrainError> {
        let p = job.params();
        let whitelist: Vec<(String, String)> = dictionary_entries(job.resource("whitelist"));
        let blacklist: HashSet<String> =
            dictionary(job.resource("blacklist")).into_iter().collect();
        Ok(ListSettings {
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap")?.max(1) as u32,
                drop_no_result: p.flag("drop_no_result")?,
                drop_no_click: p.flag("drop_no_click")?,
            },
            whitelisted: whitelist
                .iter()
                .filter(|(q, _)| !blacklist.contains(q))
                .map(|(q, _)| q.clone())
                .collect(),
            whitelist: whitelist
                .into_iter()
                .filter(|(q, _)| !blacklist.contains(q))
                .collect(),
            blacklist,
        })
    }

    /// Whether a query may be listed (not blacklisted, not already pinned).
    fn listable(&self, normal: &str) -> bool {
        !self.blacklist.contains(normal) && !self.whitelisted.contains(normal)
    }
}

/// Reads the query log of two whole windows (tags compare a window with the one before) in the
/// [`READING_LOG`] step, and checks the whole window has enough searches.
fn read_log(
    function: Function,
    job: &TrainingJob<'_>,
    split: &HeldOutSplit,
    steps: &mut Steps<'_>,
) -> Result<QueryLog, TrainError> {
    steps.enter(READING_LOG)?;
    let whole = split.whole_window();
    let read = Window {
        from_ms: whole.before().from_ms,
        to_ms: whole.to_ms,
    };
    let log = QueryLog::read(job.data, read, steps)?;
    let counts = WindowCounts {
        searches: log.searches_in(whole),
        ..Default::default()
    };
    ensure_ready(
        function,
        &counts,
        format_args!(
            "(searches with a usable raw_query in the last {} days)",
            split.window_days()
        ),
    )?;
    Ok(log)
}

pub(super) fn tag(now: &QueryCount, before: Option<&QueryCount>, rising_ratio: f64) -> u8 {
    match before.map_or(0, |b| b.searches) {
        0 => TAG_NEW,
        b if f64::from(now.searches) >= rising_ratio * f64::from(b) => TAG_RISING,
        _ => TAG_POPULAR,
    }
}

/// Ids of queries with a count, best first by `key`, ties by query text.
pub(super) fn ranked<K: Ord>(
    log: &QueryLog,
    counts: &[QueryCount],
    key: impl Fn(&QueryCount) -> K,
) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..counts.len() as u32)
        .filter(|&id| counts[id as usize].searches > 0)
        .collect();
    ids.sort_by(|&a, &b| {
        key(&counts[b as usize])
            .cmp(&key(&counts[a as usize]))
            .then_with(|| log.query(a).cmp(log.query(b)))
    });
    ids
}

/// What both report of the served list's window and of the log.
fn insert_window_stats(
    metrics: &mut Metrics,
    log: &QueryLog,
    settings: &ListSettings,
    whole: Window,
) {
    let (kept, capped) = log.kept(whole.from_ms, whole.to_ms, settings.filter);
    metrics.put("searches_counted", kept.len());
    metrics.put("searches_capped_as_spam", capped);
    metrics.put("distinct_queries", log.query_count());
    metrics.put("log_events", log.stats.events);
    metrics.put("log_searches", log.stats.searches);
    metrics.put("unusable_queries", log.stats.unusable_queries);
    metrics.put("unjoined_clicks", log.stats.unjoined_clicks);
}
