//! The held-out replay that scores completers, as a public web search log is scored: every held-out search of a
//! query of at least [`MIN_QUERY_CHARS`] characters (normal forms: punctuation folded to spaces) is typed again
//! prefix by prefix, from 2 to 8 characters ([`PREFIX_CHARS`]), and each prefix earns the reciprocal rank of the
//! query among the top [`DEPTH`] completions (0 when absent). MRR is the mean over (search, prefix) pairs.
//!
//! Completers are replayed from what was known when the held-out days began: the global weights of the window
//! before them and, with `user_id`, each user's own searches of that window. A fast ranker over the queries in
//! alphabetical order ([`Ranker`]) lets the weight search try many weightings without building an index for each.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use algocenter_domain::data::DAY_MS;
use xxhash_rust::xxh3::xxh3_64;

use super::personal::{Blend, blend};
use crate::query::log::QueryLog;

/// Shortest held-out query replayed (characters of its normal form).
pub const MIN_QUERY_CHARS: usize = 4;
/// Prefix lengths replayed (characters).
pub const PREFIX_CHARS: RangeInclusive<usize> = 2..=8;
/// Completions per prefix counted.
pub const DEPTH: usize = 10;
/// Most (search, prefix) pairs replayed: beyond, searches are sampled evenly (by a hash), so that a large log
/// replays in bounded time.
const MAX_PAIRS: usize = 60_000;

/// A held-out search to replay.
pub struct Target {
    pub identity: u32,
    pub query: u32,
    /// Byte ends of the replayed prefixes.
    pub ends: Vec<usize>,
}

/// The searches of `searches` that are replayed, with their prefixes.
pub fn targets(log: &QueryLog, searches: &[u32]) -> Vec<Target> {
    let all: Vec<Target> = searches
        .iter()
        .filter_map(|&s| {
            let search = &log.searches[s as usize];
            let normal = log.query(search.query);
            let ends: Vec<usize> = normal
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .enumerate()
                .filter(|(n, _)| PREFIX_CHARS.contains(&(n + 1)))
                .map(|(_, end)| end)
                .collect();
            (normal.chars().count() >= MIN_QUERY_CHARS).then_some(Target {
                identity: search.identity,
                query: search.query,
                ends,
            })
        })
        .collect();
    let pairs: usize = all.iter().map(|t| t.ends.len()).sum();
    if pairs <= MAX_PAIRS {
        return all;
    }
    let keep = MAX_PAIRS as f64 / pairs as f64;
    all.into_iter()
        .enumerate()
        .filter(|(i, _)| (xxh3_64(&(*i as u64).to_le_bytes()) as f64 / u64::MAX as f64) < keep)
        .map(|(_, t)| t)
        .collect()
}

/// The queries of a log in alphabetical order of their normal forms, computed once per log.
pub struct Alphabet(Vec<u32>);

impl Alphabet {
    pub fn new(log: &QueryLog) -> Alphabet {
        let mut ids: Vec<u32> = (0..log.query_count() as u32).collect();
        ids.sort_by(|&a, &b| log.query(a).cmp(log.query(b)));
        Alphabet(ids)
    }
}

/// Global completions under one weighting: the admitted queries in alphabetical order with their weights.
pub struct Ranker<'a> {
    log: &'a QueryLog,
    sorted: Vec<(u32, f64)>,
    cache: HashMap<String, Vec<(u32, f64)>>,
}

impl<'a> Ranker<'a> {
    /// Queries with a positive weight that `admitted` lets into the global list.
    pub fn new(
        log: &'a QueryLog,
        alphabet: &Alphabet,
        weights: &[f64],
        admitted: impl Fn(u32) -> bool,
    ) -> Self {
        let sorted = alphabet
            .0
            .iter()
            .filter(|&&q| weights[q as usize] > 0.0 && admitted(q))
            .map(|&q| (q, weights[q as usize]))
            .collect();
        Ranker {
            log,
            sorted,
            cache: HashMap::new(),
        }
    }

    /// The weight of a query in the list (0 when it is not there).
    fn weight_of(&self, query: u32) -> f64 {
        let normal = self.log.query(query);
        let at = self
            .sorted
            .partition_point(|&(q, _)| self.log.query(q) < normal);
        match self.sorted.get(at) {
            Some(&(q, w)) if q == query => w,
            _ => 0.0,
        }
    }

    /// The best [`DEPTH`] completions of `prefix`: weight first, then the normal form.
    pub fn top(&mut self, prefix: &str) -> &[(u32, f64)] {
        if !self.cache.contains_key(prefix) {
            let log = self.log;
            let start = self.sorted.partition_point(|&(q, _)| log.query(q) < prefix);
            let mut best: Vec<(u32, f64)> = Vec::with_capacity(DEPTH + 1);
            for &(q, w) in self.sorted[start..]
                .iter()
                .take_while(|(q, _)| log.query(*q).starts_with(prefix))
            {
                // Whether `a` ranks before `b`.
                let order = |a: &(u32, f64), b: &(u32, f64)| {
                    b.1.total_cmp(&a.1)
                        .then_with(|| log.query(a.0).cmp(log.query(b.0)))
                };
                if best.len() == DEPTH
                    && best.last().is_some_and(|last| order(&(q, w), last).is_ge())
                {
                    continue;
                }
                let at = best.partition_point(|b| order(b, &(q, w)).is_lt());
                best.insert(at, (q, w));
                best.truncate(DEPTH);
            }
            self.cache.insert(prefix.to_string(), best);
        }
        &self.cache[prefix]
    }
}

/// Each user's searches of a window: (query, when), by identity (the anonymous identity has none).
pub struct UserSearches {
    by_user: HashMap<u32, Vec<(u32, i64)>>,
    to_ms: i64,
}

impl UserSearches {
    pub fn new(log: &QueryLog, searches: &[u32], to_ms: i64) -> Self {
        let mut by_user: HashMap<u32, Vec<(u32, i64)>> = HashMap::new();
        for &s in searches {
            let s = &log.searches[s as usize];
            if s.identity != 0 {
                by_user
                    .entry(s.identity)
                    .or_default()
                    .push((s.query, s.at_ms));
            }
        }
        UserSearches { by_user, to_ms }
    }

    /// The user's queries completing `prefix` with their decayed searches (`half_life_days` `None`: counts).
    fn completing(
        &self,
        log: &QueryLog,
        identity: u32,
        prefix: &str,
        half_life_days: Option<f64>,
    ) -> HashMap<u32, f64> {
        let mut out: HashMap<u32, f64> = HashMap::new();
        for &(q, at) in self.by_user.get(&identity).map_or(&[][..], Vec::as_slice) {
            if log.query(q).starts_with(prefix) {
                let w = half_life_days.map_or(1.0, |days| {
                    0.5f64.powf((self.to_ms - at).max(0) as f64 / (days * DAY_MS as f64))
                });
                *out.entry(q).or_default() += w;
            }
        }
        out
    }
}

/// How the user's searches take part in a replay.
#[derive(Clone, Copy)]
pub enum Personal<'a> {
    /// Global completions only (requests without `user_id`).
    None,
    /// Blended as served (requests with `user_id`).
    Blended(&'a UserSearches, Blend),
    /// The user's own earlier queries first (by count), then the global ones: the strong baseline of web logs.
    OwnFirst(&'a UserSearches),
}

/// MRR of `targets` under `ranker` (and the users' searches), and the number of (search, prefix) pairs.
pub fn mrr(targets: &[Target], ranker: &mut Ranker<'_>, personal: Personal<'_>) -> (f64, u64) {
    let log = ranker.log;
    let (mut sum, mut pairs) = (0.0, 0u64);
    for t in targets {
        let normal = log.query(t.query);
        for &end in &t.ends {
            pairs += 1;
            let prefix = &normal[..end];
            let global: Vec<(u32, f64)> = ranker.top(prefix).to_vec();
            let ranked: Vec<u32> = match personal {
                Personal::None => global.iter().map(|(q, _)| *q).collect(),
                Personal::Blended(users, b) => {
                    let own = users.completing(log, t.identity, prefix, Some(b.half_life_days));
                    let own: Vec<(u32, f64, f64)> = own
                        .into_iter()
                        .map(|(q, p)| (q, ranker.weight_of(q), p))
                        .collect();
                    blend(&global, &own, b.personal_weight, DEPTH)
                }
                Personal::OwnFirst(users) => {
                    let own: Vec<(u32, f64, f64)> = users
                        .completing(log, t.identity, prefix, None)
                        .into_iter()
                        .map(|(q, p)| (q, ranker.weight_of(q), p))
                        .collect();
                    blend(&global, &own, 1e9, DEPTH)
                }
            };
            if let Some(rank) = ranked.iter().position(|&q| q == t.query) {
                sum += 1.0 / (rank + 1) as f64;
            }
        }
    }
    (if pairs > 0 { sum / pairs as f64 } else { 0.0 }, pairs)
}
