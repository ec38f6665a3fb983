//! How a query's searches become its global weight ([`Weighting`]: raw searches, searches capped per user and
//! day, or distinct users; a recency half-life; a click-through exponent), and which queries may be suggested
//! to everyone ([`Eligibility`]: the global threshold).

use std::collections::{HashMap, HashSet};

use algocenter_domain::data::{DAY_MS, day_of};
use serde_json::{Value, json};

use super::index::Candidate;
use crate::query::log::{QueryCount, QueryLog};

/// Pseudo-searches pulling a query's click-through towards the average.
const CTR_PSEUDO_SEARCHES: f64 = 10.0;

/// What counts as one unit of a query's popularity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Count {
    /// Every search (bots removed): people's repeated searches count in full.
    Searches,
    /// At most this many searches of a query per user and UTC day.
    CappedPerDay(u32),
    /// Distinct users.
    Users,
}

/// One way of weighing queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weighting {
    pub count: Count,
    /// Age (days) at which a search counts half; `None`: no decay.
    pub half_life_days: Option<f64>,
    /// Exponent of the smoothed click-through relative to the average; 0 ignores clicks.
    pub click_weight: f64,
}

impl Weighting {
    /// Counting every search, no decay, no clicks: most-popular completion.
    pub const MOST_POPULAR: Weighting = Weighting {
        count: Count::Searches,
        half_life_days: None,
        click_weight: 0.0,
    };

    pub fn to_json(self) -> Value {
        let count = match self.count {
            Count::Searches => "searches".to_string(),
            Count::CappedPerDay(cap) => format!("searches_capped_{cap}_per_user_day"),
            Count::Users => "distinct_users".to_string(),
        };
        json!({
            "count": count,
            "half_life_days": self.half_life_days,
            "click_weight": self.click_weight,
        })
    }
}

/// Which queries the global list may hold.
pub struct Eligibility<'a> {
    /// Searches a query needs.
    pub min_count: u32,
    /// Distinct users who must have searched a query: below it, a query is suggested only to those who typed it.
    pub min_users: u32,
    pub blacklist: &'a HashSet<String>,
}

impl Eligibility<'_> {
    pub fn admits(&self, log: &QueryLog, query: u32, count: &QueryCount) -> bool {
        count.searches >= self.min_count
            && count.users >= self.min_users
            && !self.blacklist.contains(log.query(query))
    }
}

/// The searches, clicks and users of each query over `searches` (a window's kept searches, bots removed).
pub struct WindowCounts {
    pub to_ms: i64,
    pub counts: Vec<QueryCount>,
    average_ctr: Option<f64>,
}

impl WindowCounts {
    pub fn new(log: &QueryLog, searches: &[u32], to_ms: i64) -> WindowCounts {
        let counts = log.counts(searches, to_ms, None);
        let (n, clicked) = counts.iter().fold((0u64, 0u64), |(n, c), q| {
            (n + u64::from(q.searches), c + u64::from(q.clicked))
        });
        WindowCounts {
            to_ms,
            counts,
            average_ctr: (n > 0 && clicked > 0).then(|| clicked as f64 / n as f64),
        }
    }

    /// The weight of every query (0 for queries not searched), under `w`.
    pub fn weights(&self, log: &QueryLog, searches: &[u32], w: Weighting) -> Vec<f64> {
        let decay = |at_ms: i64| match w.half_life_days {
            Some(days) => 0.5f64.powf((self.to_ms - at_ms).max(0) as f64 / (days * DAY_MS as f64)),
            None => 1.0,
        };
        let mut weights = vec![0.0; self.counts.len()];
        match w.count {
            Count::Searches => {
                for &s in searches {
                    let s = &log.searches[s as usize];
                    weights[s.query as usize] += decay(s.at_ms);
                }
            }
            Count::CappedPerDay(cap) => {
                let mut per_day: HashMap<(u32, u32, i64), u32> = HashMap::new();
                for &s in searches {
                    let s = &log.searches[s as usize];
                    let n = per_day
                        .entry((s.query, s.identity, day_of(s.at_ms)))
                        .or_default();
                    *n += 1;
                    if *n <= cap {
                        weights[s.query as usize] += decay(s.at_ms);
                    }
                }
            }
            Count::Users => {
                // Each user once, as recent as their latest search.
                let mut latest: HashMap<(u32, u32), i64> = HashMap::new();
                for &s in searches {
                    let s = &log.searches[s as usize];
                    let at = latest.entry((s.query, s.identity)).or_insert(s.at_ms);
                    *at = (*at).max(s.at_ms);
                }
                for ((query, _), at_ms) in latest {
                    weights[query as usize] += decay(at_ms);
                }
            }
        }
        if let Some(average) = self.average_ctr
            && w.click_weight > 0.0
        {
            for (weight, c) in weights.iter_mut().zip(&self.counts) {
                let ctr = (f64::from(c.clicked) + CTR_PSEUDO_SEARCHES * average)
                    / (f64::from(c.searches) + CTR_PSEUDO_SEARCHES);
                *weight *= (ctr / average).powf(w.click_weight);
            }
        }
        weights
    }

    /// The queries the global list may hold, with their weights.
    pub fn candidates(
        &self,
        log: &QueryLog,
        weights: &[f64],
        eligibility: &Eligibility<'_>,
    ) -> Vec<Candidate> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(id, c)| weights[*id] > 0.0 && eligibility.admits(log, *id as u32, c))
            .map(|(id, _)| Candidate {
                normal: log.query(id as u32).to_string(),
                display: log.display(id as u32).to_string(),
                weight: weights[id],
            })
            .collect()
    }
}
