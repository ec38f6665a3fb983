//! The time-dependent system features, counted from the behaviour of the window: an item's exposures and clicks
//! per day, the queries and query terms it was clicked for, and each user's recent clicks and purchases.
//!
//! Training reads them [`Counts::at`] the day of each search, from the days before it only, so that no example
//! sees its own clicks (or anything later) in its features; the served model keeps them as of the end of the
//! window ([`ServedFacts`]).

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::features::{COUNTER_DAYS, CandidateFacts, ClickMap, Counter, Facts};

/// Pseudo-exposures pulling a click-through rate towards the overall rate.
pub const CTR_SMOOTHING: f64 = 10.0;
/// Queries and terms kept per item in a served click map (as OpenSearch's top-N maps).
pub const SERVED_QUERIES: usize = 20;
pub const SERVED_TERMS: usize = 300;
/// Most recent items kept per user.
pub const SEQUENCE_KEPT: usize = 200;

/// Attributes of the documents that generators read, by id.
#[derive(Default)]
pub struct Documents {
    pub items: HashMap<String, Map<String, Value>>,
    pub users: HashMap<String, Map<String, Value>>,
}

/// A user's items in time order.
#[derive(Default)]
pub struct History {
    pub times: Vec<i64>,
    pub items: Vec<String>,
}

impl History {
    fn before(&self, at_ms: i64) -> &[String] {
        &self.items[..self.times.partition_point(|&t| t < at_ms)]
    }
}

/// Counts of the days already swept.
#[derive(Default)]
pub struct Counts {
    /// Fx hashing: the counts are read once per generator of every training example (ids and keys are not
    /// adversarial here: they come from the app's own window).
    pub items: FxHashMap<String, u32>,
    /// Per item: `(day, exposures, clicks)`, days ascending.
    days: Vec<Vec<(i64, u32, u32)>>,
    /// Per item: `(map, key)` → (exposures, clicks).
    maps: Vec<FxHashMap<(u8, u64), (u32, u32)>>,
    exposures: u64,
    clicks: u64,
    pub clicks_by_user: HashMap<String, History>,
    pub buys_by_user: HashMap<String, History>,
}

impl Counts {
    pub fn item(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.items.get(id) {
            return i;
        }
        let i = self.days.len() as u32;
        self.items.insert(id.to_string(), i);
        self.days.push(Vec::new());
        self.maps.push(FxHashMap::default());
        i
    }

    /// Counts one exposure on `day`, clicked or not, for a query with `query` and `terms` keys.
    pub fn add(&mut self, item: u32, day: i64, clicked: bool, query: Option<u64>, terms: &[u64]) {
        let days = &mut self.days[item as usize];
        match days.last_mut() {
            Some(last) if last.0 == day => {
                last.1 += 1;
                last.2 += u32::from(clicked);
            }
            _ => days.push((day, 1, u32::from(clicked))),
        }
        self.exposures += 1;
        self.clicks += u64::from(clicked);
        let maps = &mut self.maps[item as usize];
        let mut bump = |map: u8, key: u64| {
            let e = maps.entry((map, key)).or_default();
            e.0 += 1;
            e.1 += u32::from(clicked);
        };
        if let Some(q) = query {
            bump(0, q);
        }
        for &t in terms {
            bump(1, t);
        }
    }

    fn overall_ctr(&self) -> f64 {
        if self.exposures == 0 {
            0.0
        } else {
            self.clicks as f64 / self.exposures as f64
        }
    }

    fn counter(&self, item: u32, counter: Counter, days: usize, today: i64) -> Option<f64> {
        let from = today - i64::from(COUNTER_DAYS[days]);
        let (mut pv, mut ipv) = (0u32, 0u32);
        for &(d, p, c) in self.days[item as usize].iter().rev() {
            if d < from {
                break;
            }
            if d < today {
                pv += p;
                ipv += c;
            }
        }
        Some(match counter {
            Counter::Pv => f64::from(pv),
            Counter::Ipv => f64::from(ipv),
            Counter::Ctr => {
                (f64::from(ipv) + CTR_SMOOTHING * self.overall_ctr())
                    / (f64::from(pv) + CTR_SMOOTHING)
            }
        })
    }

    fn map_value(&self, item: u32, map: ClickMap, key: u64) -> Option<f64> {
        let maps = &self.maps[item as usize];
        let kind = match map {
            ClickMap::QueryScore | ClickMap::QueryCtr => 0u8,
            ClickMap::TermScore | ClickMap::TermCtr => 1u8,
        };
        let &(pv, clicks) = maps.get(&(kind, key))?;
        Some(match map {
            ClickMap::QueryCtr | ClickMap::TermCtr => {
                (f64::from(clicks) + CTR_SMOOTHING * self.overall_ctr())
                    / (f64::from(pv) + CTR_SMOOTHING)
            }
            ClickMap::QueryScore | ClickMap::TermScore => {
                let total: u32 = self.days[item as usize].iter().map(|d| d.2).sum();
                if total == 0 {
                    0.0
                } else {
                    f64::from(clicks) / f64::from(total)
                }
            }
        })
    }

    /// The facts as of `at_ms` on `day` (counters from earlier days only).
    pub fn at<'a>(&'a self, documents: &'a Documents, day: i64, at_ms: i64) -> At<'a> {
        At {
            counts: self,
            documents,
            day,
            at_ms,
        }
    }

    /// What serving keeps: every item's counters as of `day` (the day after the window) and its top click maps,
    /// and each user's most recent items.
    pub fn served(&self, day: i64) -> ServedFacts {
        let mut items = HashMap::with_capacity(self.items.len());
        for (id, &i) in &self.items {
            let mut counters = [[0f32; 3]; 3];
            for (c, counter) in [Counter::Pv, Counter::Ipv, Counter::Ctr]
                .into_iter()
                .enumerate()
            {
                for (d, slot) in counters[c].iter_mut().enumerate() {
                    *slot = self.counter(i, counter, d, day).unwrap_or(0.0) as f32;
                }
            }
            let mut maps: Vec<(ClickMap, u64, f32)> = Vec::new();
            for (kind, keep, score, ctr) in [
                (
                    0u8,
                    SERVED_QUERIES,
                    ClickMap::QueryScore,
                    ClickMap::QueryCtr,
                ),
                (1u8, SERVED_TERMS, ClickMap::TermScore, ClickMap::TermCtr),
            ] {
                let mut clicked: Vec<(u64, u32)> = self.maps[i as usize]
                    .iter()
                    .filter(|((k, _), (_, c))| *k == kind && *c > 0)
                    .map(|((_, key), (_, c))| (*key, *c))
                    .collect();
                clicked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                for &(key, _) in clicked.iter().take(keep) {
                    for map in [score, ctr] {
                        if let Some(v) = self.map_value(i, map, key) {
                            maps.push((map, key, v as f32));
                        }
                    }
                }
            }
            maps.sort_unstable_by_key(|&(m, k, _)| (m as u8, k));
            items.insert(
                id.clone(),
                ItemFacts {
                    counters,
                    has_map: !self.maps[i as usize].is_empty(),
                    maps,
                },
            );
        }
        let recent = |by_user: &HashMap<String, History>| -> HashMap<String, Vec<String>> {
            by_user
                .iter()
                .map(|(u, h)| {
                    let start = h.items.len().saturating_sub(SEQUENCE_KEPT);
                    (u.clone(), h.items[start..].to_vec())
                })
                .collect()
        };
        ServedFacts {
            items,
            clicks: recent(&self.clicks_by_user),
            buys: recent(&self.buys_by_user),
            ..Default::default()
        }
    }
}

/// [`Counts`] as of one search.
pub struct At<'a> {
    counts: &'a Counts,
    documents: &'a Documents,
    day: i64,
    at_ms: i64,
}

impl Facts for At<'_> {
    fn counter(&self, item: &str, counter: Counter, days: usize) -> Option<f64> {
        let &i = self.counts.items.get(item)?;
        self.counts.counter(i, counter, days, self.day)
    }

    fn click_map(&self, item: &str, map: ClickMap, key: u64) -> Option<f64> {
        let &i = self.counts.items.get(item)?;
        self.counts.map_value(i, map, key)
    }

    fn has_click_map(&self, item: &str) -> bool {
        self.counts
            .items
            .get(item)
            .is_some_and(|&i| !self.counts.maps[i as usize].is_empty())
    }

    fn sequence(&self, user: &str, buys: bool) -> &[String] {
        let by_user = if buys {
            &self.counts.buys_by_user
        } else {
            &self.counts.clicks_by_user
        };
        by_user.get(user).map_or(&[], |h| h.before(self.at_ms))
    }

    fn item_attribute(&self, item: &str, name: &str) -> Option<&Value> {
        self.documents.items.get(item)?.get(name)
    }

    fn user_attribute(&self, user: &str, name: &str) -> Option<&Value> {
        self.documents.users.get(user)?.get(name)
    }
}

/// An item's system features as served.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemFacts {
    /// `[Pv, Ipv, Ctr][1, 7, 30 days]`.
    pub counters: [[f32; 3]; 3],
    pub has_map: bool,
    /// Sorted by map and key.
    pub maps: Vec<(ClickMap, u64, f32)>,
}

/// The facts a served model answers from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServedFacts {
    pub items: HashMap<String, ItemFacts>,
    pub clicks: HashMap<String, Vec<String>>,
    pub buys: HashMap<String, Vec<String>>,
    /// Attributes the generators read, as JSON objects (a compact form every serde format can hold).
    pub item_attributes: HashMap<String, String>,
    pub user_attributes: HashMap<String, String>,
}

/// [`ServedFacts`] with the attributes parsed. A served model hands it to `KnownItems::new`, which moves the item
/// facts into each known item's record: from then on its item methods (`counter`, `click_map`, `has_click_map`)
/// answer as for an unknown item, and known items are read from their records only. The users' sequences and
/// the attributes stay here.
#[derive(Debug, Default)]
pub struct LoadedFacts {
    pub facts: ServedFacts,
    pub items: HashMap<String, Map<String, Value>>,
    pub users: HashMap<String, Map<String, Value>>,
}

impl LoadedFacts {
    pub fn new(mut facts: ServedFacts) -> LoadedFacts {
        let parse = |m: &mut HashMap<String, String>| -> HashMap<String, Map<String, Value>> {
            m.drain()
                .filter_map(|(k, v)| Some((k, serde_json::from_str(&v).ok()?)))
                .collect()
        };
        let items = parse(&mut facts.item_attributes);
        let users = parse(&mut facts.user_attributes);
        LoadedFacts {
            facts,
            items,
            users,
        }
    }
}

fn counter_of(f: &ItemFacts, counter: Counter, days: usize) -> f64 {
    f64::from(f.counters[counter as usize][days])
}

fn click_map_of(f: &ItemFacts, map: ClickMap, key: u64) -> Option<f64> {
    let i = f
        .maps
        .binary_search_by_key(&(map as u8, key), |&(m, k, _)| (m as u8, k))
        .ok()?;
    Some(f64::from(f.maps[i].2))
}

impl Facts for LoadedFacts {
    fn counter(&self, item: &str, counter: Counter, days: usize) -> Option<f64> {
        Some(counter_of(self.facts.items.get(item)?, counter, days))
    }

    fn click_map(&self, item: &str, map: ClickMap, key: u64) -> Option<f64> {
        click_map_of(self.facts.items.get(item)?, map, key)
    }

    fn has_click_map(&self, item: &str) -> bool {
        self.facts.items.get(item).is_some_and(|f| f.has_map)
    }

    fn sequence(&self, user: &str, buys: bool) -> &[String] {
        let by_user = if buys {
            &self.facts.buys
        } else {
            &self.facts.clicks
        };
        by_user.get(user).map_or(&[], Vec::as_slice)
    }

    fn item_attribute(&self, item: &str, name: &str) -> Option<&Value> {
        self.items.get(item)?.get(name)
    }

    fn user_attribute(&self, user: &str, name: &str) -> Option<&Value> {
        self.users.get(user)?.get(name)
    }
}

/// One item's served facts (none for an item the window never exposed): what a candidate's generators read.
impl CandidateFacts for Option<&ItemFacts> {
    fn counter(&self, counter: Counter, days: usize) -> Option<f64> {
        Some(counter_of((*self)?, counter, days))
    }

    fn click_map(&self, map: ClickMap, key: u64) -> Option<f64> {
        click_map_of((*self)?, map, key)
    }

    fn has_click_map(&self) -> bool {
        self.is_some_and(|f| f.has_map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_see_only_the_days_before() {
        let mut c = Counts::default();
        let i = c.item("a");
        c.add(i, 10, true, Some(7), &[8]);
        c.add(i, 10, false, Some(7), &[]);
        c.add(i, 12, true, None, &[]);
        let docs = Documents::default();
        let at = |day| c.at(&docs, day, 0);
        assert_eq!(
            at(10).counter("a", Counter::Pv, 1),
            Some(0.0),
            "not its own day"
        );
        assert_eq!(at(11).counter("a", Counter::Pv, 0), Some(2.0));
        assert_eq!(
            at(12).counter("a", Counter::Pv, 0),
            Some(0.0),
            "one day back only"
        );
        assert_eq!(at(13).counter("a", Counter::Ipv, 1), Some(2.0));
        assert_eq!(at(13).counter("b", Counter::Ipv, 1), None);
        assert_eq!(at(13).click_map("a", ClickMap::QueryScore, 7), Some(0.5));
        assert!(at(13).click_map("a", ClickMap::QueryScore, 9).is_none());
        let served = LoadedFacts::new(c.served(13));
        assert_eq!(served.counter("a", Counter::Ipv, 1), Some(2.0));
        // Served values are kept as f32, which is what every example row holds.
        assert_eq!(
            served
                .click_map("a", ClickMap::TermCtr, 8)
                .map(|v| v as f32),
            at(13)
                .click_map("a", ClickMap::TermCtr, 8)
                .map(|v| v as f32)
        );
    }

    #[test]
    fn an_items_facts_answer_as_all_facts_do() {
        let facts = |pv: f32, key: u64| ItemFacts {
            counters: [[pv, pv + 1.0, pv + 2.0], [1.0; 3], [0.5; 3]],
            has_map: true,
            maps: vec![(ClickMap::QueryCtr, key, pv / 10.0)],
        };
        let mut served = ServedFacts::default();
        served.items.insert("a".into(), facts(3.0, 7));
        served.items.insert("b".into(), facts(5.0, 9));
        served.items.insert(
            "c".into(),
            ItemFacts {
                has_map: false,
                ..facts(1.0, 7)
            },
        );
        let all = LoadedFacts::new(served);
        for item in ["a", "b", "c", "unknown"] {
            let one = all.facts.items.get(item);
            for counter in [Counter::Pv, Counter::Ipv, Counter::Ctr] {
                for days in 0..3 {
                    assert_eq!(
                        CandidateFacts::counter(&one, counter, days),
                        all.counter(item, counter, days)
                    );
                }
            }
            for key in [7, 9] {
                assert_eq!(
                    CandidateFacts::click_map(&one, ClickMap::QueryCtr, key),
                    all.click_map(item, ClickMap::QueryCtr, key)
                );
            }
            assert_eq!(CandidateFacts::has_click_map(&one), all.has_click_map(item));
        }
        let b = all.facts.items.get("b");
        assert_eq!(CandidateFacts::counter(&b, Counter::Pv, 1), Some(6.0));
        assert_eq!(CandidateFacts::counter(&None, Counter::Pv, 1), None);
        // And by hand, through the all-facts path.
        assert_eq!(all.counter("a", Counter::Ctr, 2), Some(0.5));
        assert_eq!(
            all.click_map("a", ClickMap::QueryCtr, 7),
            Some(f64::from(0.3f32))
        );
        assert_eq!(all.click_map("a", ClickMap::QueryCtr, 9), None);
        assert!(!all.has_click_map("c"));
        assert_eq!(all.counter("unknown", Counter::Pv, 0), None);
    }
}
