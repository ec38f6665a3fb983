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
use algocenter_domain::data::{DAY_MS, WindowCounts, readiness};
use serde_json::{Map, Value, json};

use crate::query::log::{LogFilter, QueryCount, QueryLog, dictionary, dictionary_entries};
use crate::scan::{param_error, window_days};
use crate::{TrainError, TrainingJob};

pub use hint::HintTrainer;
pub use hot::HotTrainer;
pub use model::{
    ListOrder, ListedQuery, MAX_HIT, QueryListModel, TAG_NEW, TAG_POPULAR, TAG_RISING,
};

/// Parameters shared by `hot` and `hint`.
pub(super) struct ListSettings {
    window_days: i64,
    holdout_days: i64,
    filter: LogFilter,
    blacklist: HashSet<String>,
    /// (normal form, as written), in file order.
    whitelist: Vec<(String, String)>,
    whitelisted: HashSet<String>,
}

impl ListSettings {
    fn read(job: &TrainingJob<'_>) -> Result<Self, TrainError> {
        let p = job.parameters;
        let (window_days, holdout_days) = window_days(p)?;
        let whitelist: Vec<(String, String)> = dictionary_entries(job.resource("whitelist"));
        let blacklist: HashSet<String> =
            dictionary(job.resource("blacklist")).into_iter().collect();
        Ok(ListSettings {
            window_days,
            holdout_days,
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap").map_err(param_error)?.max(1) as u32,
                drop_no_result: p.get("drop_no_result").map_err(param_error)? == "true",
                drop_no_click: p.get("drop_no_click").map_err(param_error)? == "true",
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

    fn window_ms(&self) -> i64 {
        self.window_days * DAY_MS
    }

    /// Whether a query may be listed (not blacklisted, not already pinned).
    fn listable(&self, normal: &str) -> bool {
        !self.blacklist.contains(normal) && !self.whitelisted.contains(normal)
    }

    fn check_ready(
        &self,
        function: Function,
        log: &QueryLog,
        from: i64,
        to: i64,
    ) -> Result<(), TrainError> {
        let searches = log
            .searches
            .iter()
            .filter(|s| s.at_ms >= from && s.at_ms < to)
            .count() as u64;
        let ready = readiness(
            function,
            &WindowCounts {
                searches,
                ..Default::default()
            },
        );
        if ready.ready {
            Ok(())
        } else {
            Err(TrainError::InsufficientData(format!(
                "{} (searches with a usable raw_query in the last {} days)",
                ready.reason, self.window_days
            )))
        }
    }
}

pub(super) fn tag(now: &QueryCount, before: Option<&QueryCount>, rising_ratio: f64) -> u8 {
    match before.map_or(0, |b| b.searches) {
        0 => TAG_NEW,
        b if f64::from(now.searches) >= rising_ratio * f64::from(b) => TAG_RISING,
        _ => TAG_POPULAR,
    }
}

pub(super) fn rounded(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
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

pub(super) fn insert_log_stats(metrics: &mut Map<String, Value>, log: &QueryLog) {
    metrics.insert("log_events".into(), json!(log.stats.events));
    metrics.insert("log_searches".into(), json!(log.stats.searches));
    metrics.insert("unusable_queries".into(), json!(log.stats.unusable_queries));
    metrics.insert("unjoined_clicks".into(), json!(log.stats.unjoined_clicks));
}
