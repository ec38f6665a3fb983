//! `suggest`: drop-down completion of what a user is typing, from the queries users searched.
//!
//! **Candidates** are the normalised queries of the window searched at least `min_count` times (after the
//! anti-spam cap and the filters), minus the `blacklist`. Each weighs its searches, each decayed by age with
//! `half_life_days`, times its smoothed click-through relative to the average raised to `click_weight`: a query
//! users often follow with a click is a better completion than one they abandon.
//!
//! **The index** ([`SuggestIndex`]) is built once per generation and never changes. Queries are numbered by
//! weight, best first, so that the best completions of a prefix are its smallest numbers. An FST maps every
//! completion key to its query: the normal form, and for Chinese queries their full pinyin and pinyin initials
//! (`连衣裙`, `lianyiqun`, `lyq`), when `pinyin` is on. A second FST holds, for every prefix shared by more than
//! [`HEAVY_PREFIX`] keys, its best [`MAX_HIT`] queries, so that short prefixes (`d`, `连`) answer from one lookup
//! instead of a scan of thousands of keys. Other prefixes scan their few keys.
//!
//! **Typos**: when a prefix of 4 or more characters has fewer completions than asked, keys that start with
//! something one typo away (one character inserted, dropped or replaced, or two neighbours swapped) fill the
//! rest, after the exact completions.
//!
//! **Evaluation** builds the index without the held-out days and replays every held-out search as its user
//! typed it: for each prefix of the query (1, 2, … characters), the reciprocal rank of the query among the
//! top 10 completions, 0 when absent. Only queries the user finally typed count: a search without a click that
//! the same user follows with another search within a minute was retyped, and is left out. The mean (MRR) is reported next to that of the most-popular-completion
//! baseline (candidates weighted by their raw search counts only). The served index is then rebuilt on the whole
//! window.

use std::collections::{HashMap, HashSet};

use algocenter_domain::data::{DAY_MS, WindowCounts, readiness};
use algocenter_domain::{Error, Function};
use fst::automaton::Str;
use fst::{Automaton, IntoStreamer, Map, MapBuilder, Streamer};
use serde::{Deserialize, Serialize};
use serde_json::{Map as JsonMap, json};

use crate::query::log::{LogFilter, QueryLog, dictionary};
use crate::query::{is_usable, normalise, pinyin_keys};
use crate::scan::{Scan, param_error, window_days};

mod typo;
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};
use typo::OneEdit;

const MAGIC: &[u8; 5] = b"ACSUG";
const FORMAT_V1: u8 = 1;

/// Most completions a request may ask for.
pub const MAX_HIT: usize = 30;
/// Prefixes shared by more keys than this get a precomputed list.
pub const HEAVY_PREFIX: usize = 64;
/// Prefixes this long (in characters) or longer tolerate one typo.
pub const TYPO_MIN_CHARS: usize = 4;
/// Most keys a typo-tolerant lookup visits, to bound its time.
const TYPO_SCAN_LIMIT: usize = 4096;
/// Completions per prefix counted by the evaluation.
const EVAL_DEPTH: usize = 10;
/// A key's FST value with this bit set points into `multi` (several queries share the key).
const MULTI: u64 = 1 << 63;
/// Pseudo-searches pulling a query's click-through towards the average.
const CTR_PSEUDO_SEARCHES: f64 = 10.0;

/// A candidate completion.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub normal: String,
    pub display: String,
    pub weight: f64,
}

#[derive(Serialize, Deserialize)]
struct Body {
    displays: Vec<String>,
    keys: Vec<u8>,
    /// Runs of `[n, id, id, …]` for keys shared by several queries.
    multi: Vec<u32>,
    heavy: Vec<u8>,
    /// Runs of `[n, id, id, …]`: the best queries of each heavy prefix.
    lists: Vec<u32>,
}

/// A trained `suggest` generation.
pub struct SuggestIndex {
    displays: Vec<String>,
    keys: Map<Vec<u8>>,
    multi: Vec<u32>,
    heavy: Map<Vec<u8>>,
    lists: Vec<u32>,
}

impl std::fmt::Debug for SuggestIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuggestIndex")
            .field("queries", &self.displays.len())
            .field("keys", &self.keys.len())
            .field("heavy_prefixes", &self.heavy.len())
            .finish()
    }
}

/// A prefix being walked while the heavy prefixes are found.
struct OpenPrefix {
    /// Byte length of the prefix.
    end: usize,
    /// The first key that has it.
    first: usize,
    /// Its best queries found so far.
    best: Vec<u32>,
}

/// The MAX_HIT best (smallest) query numbers, once each, in order.
fn keep_best(ids: &mut Vec<u32>) {
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(MAX_HIT);
}

/// Orders candidates as the index numbers them: by weight, best first.
fn rank(candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then_with(|| a.normal.cmp(&b.normal))
    });
}

fn run(slice: &[u32], at: usize) -> &[u32] {
    let n = slice.get(at).copied().unwrap_or(0) as usize;
    let start = at.saturating_add(1);
    slice.get(start..start.saturating_add(n)).unwrap_or(&[])
}

fn build_error(e: fst::Error) -> TrainError {
    TrainError::Failed(format!("building the suggestion index: {e}"))
}

/// Byte offsets of the ends of each character prefix of `key` (1 char, 2 chars, …, all).
fn prefix_ends(key: &str) -> impl Iterator<Item = usize> + '_ {
    key.char_indices()
        .skip(1)
        .map(|(i, _)| i)
        .chain(std::iter::once(key.len()))
}

impl SuggestIndex {
    /// Builds the index of `candidates` (any order).
    pub fn build(mut candidates: Vec<Candidate>, pinyin: bool) -> Result<Self, TrainError> {
        rank(&mut candidates);
        let mut pairs: Vec<(String, u32)> = Vec::with_capacity(candidates.len() * 2);
        for (id, c) in candidates.iter().enumerate() {
            let id = id as u32;
            pairs.push((c.normal.clone(), id));
            if pinyin && let Some((full, initials)) = pinyin_keys(&c.normal) {
                pairs.push((full, id));
                if initials.chars().count() >= 2 {
                    pairs.push((initials, id));
                }
            }
        }
        pairs.sort();
        pairs.dedup();

        // Keys with their queries (several when a pinyin key equals another query or its pinyin).
        let mut keys: Vec<(String, Vec<u32>)> = Vec::with_capacity(pairs.len());
        for (key, id) in pairs {
            match keys.last_mut() {
                Some((last, ids)) if *last == key => ids.push(id),
                _ => keys.push((key, vec![id])),
            }
        }
        let mut multi = Vec::new();
        let mut builder = MapBuilder::memory();
        for (key, ids) in &keys {
            let value = match ids.as_slice() {
                [one] => u64::from(*one),
                many => {
                    let at = multi.len() as u64;
                    multi.push(many.len() as u32);
                    multi.extend_from_slice(many);
                    MULTI | at
                }
            };
            builder.insert(key, value).map_err(build_error)?;
        }
        let key_map = Map::new(builder.into_inner().map_err(build_error)?).map_err(build_error)?;

        // Heavy prefixes: the keys sharing a prefix are a contiguous run of the sorted keys. A stack of open
        // prefixes walks them in one pass; each keeps only its best MAX_HIT queries, which it hands to its
        // parent when it closes, so long shared prefixes never gather every id below them.
        let mut heavy: Vec<(String, Vec<u32>)> = Vec::new();
        let mut open: Vec<OpenPrefix> = Vec::new();
        let close = |prefix: OpenPrefix,
                     last: usize,
                     open: &mut Vec<OpenPrefix>,
                     heavy: &mut Vec<(String, Vec<u32>)>| {
            let mut best = prefix.best;
            keep_best(&mut best);
            if last - prefix.first > HEAVY_PREFIX {
                heavy.push((keys[prefix.first].0[..prefix.end].to_string(), best.clone()));
            }
            if let Some(parent) = open.last_mut() {
                parent.best.extend(best);
                if parent.best.len() > 4 * MAX_HIT {
                    keep_best(&mut parent.best);
                }
            }
        };
        for (i, (key, ids)) in keys.iter().enumerate() {
            // Close the open prefixes this key does not share.
            while let Some(top) = open.last() {
                let shared = key.len() >= top.end
                    && keys[top.first].0.as_bytes()[..top.end] == key.as_bytes()[..top.end];
                if shared {
                    break;
                }
                let Some(done) = open.pop() else { break };
                close(done, i, &mut open, &mut heavy);
            }
            let deepest = open.last().map_or(0, |p| p.end);
            for end in prefix_ends(key).filter(|&end| end > deepest) {
                open.push(OpenPrefix {
                    end,
                    first: i,
                    best: Vec::new(),
                });
            }
            // The deepest open prefix is now the key itself (sorted keys put a prefix before its extensions).
            if let Some(own) = open.last_mut() {
                own.best.extend_from_slice(ids);
            }
        }
        while let Some(done) = open.pop() {
            close(done, keys.len(), &mut open, &mut heavy);
        }
        heavy.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lists = Vec::new();
        let mut builder = MapBuilder::memory();
        for (prefix, ids) in &heavy {
            builder
                .insert(prefix, lists.len() as u64)
                .map_err(build_error)?;
            lists.push(ids.len() as u32);
            lists.extend_from_slice(ids);
        }
        let heavy_map =
            Map::new(builder.into_inner().map_err(build_error)?).map_err(build_error)?;
        Ok(SuggestIndex {
            displays: candidates.into_iter().map(|c| c.display).collect(),
            keys: key_map,
            multi,
            heavy: heavy_map,
            lists,
        })
    }

    fn push_ids(&self, value: u64, out: &mut Vec<u32>) {
        if value & MULTI != 0 {
            out.extend_from_slice(run(&self.multi, (value & !MULTI) as usize));
        } else {
            out.push(value as u32);
        }
    }

    /// Query ids completing a normalised prefix, best first, at most `hit`.
    fn complete_ids(&self, prefix: &str, hit: usize, typos: bool) -> Vec<u32> {
        let hit = hit.min(MAX_HIT);
        if prefix.is_empty() || hit == 0 {
            return Vec::new();
        }
        let mut ids: Vec<u32> = match self.heavy.get(prefix) {
            Some(at) => run(&self.lists, at as usize).to_vec(),
            None => {
                let mut ids = Vec::new();
                let mut stream = self
                    .keys
                    .search(Str::new(prefix).starts_with())
                    .into_stream();
                while let Some((_, value)) = stream.next() {
                    self.push_ids(value, &mut ids);
                }
                ids.sort_unstable();
                ids.dedup();
                ids
            }
        };
        ids.truncate(hit);
        if typos && ids.len() < hit && prefix.chars().count() >= TYPO_MIN_CHARS {
            // Exact completions first; near ones after them, best first.
            let mut near = Vec::new();
            let mut visited = 0;
            if let Some(automaton) = OneEdit::new(prefix) {
                let mut stream = self.keys.search(automaton.starts_with()).into_stream();
                while let Some((_, value)) = stream.next() {
                    self.push_ids(value, &mut near);
                    visited += 1;
                    if visited >= TYPO_SCAN_LIMIT {
                        break;
                    }
                }
            }
            // Two neighbouring characters typed the other way round: one typo to the user, two edits to
            // Levenshtein.
            let chars: Vec<char> = prefix.chars().collect();
            for i in 0..chars.len() - 1 {
                if chars[i] == chars[i + 1] || visited >= TYPO_SCAN_LIMIT {
                    continue;
                }
                let mut swapped = chars.clone();
                swapped.swap(i, i + 1);
                let swapped: String = swapped.into_iter().collect();
                let mut stream = self
                    .keys
                    .search(Str::new(&swapped).starts_with())
                    .into_stream();
                while let Some((_, value)) = stream.next() {
                    self.push_ids(value, &mut near);
                    visited += 1;
                    if visited >= TYPO_SCAN_LIMIT {
                        break;
                    }
                }
            }
            near.sort_unstable();
            near.dedup();
            for id in near {
                if ids.len() >= hit {
                    break;
                }
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// Completions of what a user typed (normalised here), best first, at most `hit` (≤ [`MAX_HIT`]).
    pub fn suggest(&self, typed: &str, hit: usize) -> Vec<&str> {
        let prefix = normalise(typed);
        // No query that long was indexed, and NFKC can make a short request long.
        if !is_usable(&prefix) {
            return Vec::new();
        }
        self.complete_ids(&prefix, hit, true)
            .into_iter()
            .map(|id| self.displays[id as usize].as_str())
            .collect()
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.displays.len()
    }

    pub fn is_empty(&self) -> bool {
        self.displays.is_empty()
    }

    /// Sizes for `ExtendInfo`: keys, heavy prefixes.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub fn heavy_prefix_count(&self) -> usize {
        self.heavy.len()
    }

    fn encode(&self) -> Result<Vec<u8>, TrainError> {
        let body = Body {
            displays: self.displays.clone(),
            keys: self.keys.as_fst().as_bytes().to_vec(),
            multi: self.multi.clone(),
            heavy: self.heavy.as_fst().as_bytes().to_vec(),
            lists: self.lists.clone(),
        };
        let body = postcard::to_allocvec(&body)
            .map_err(|e| TrainError::Failed(format!("encoding the index: {e}")))?;
        let mut out = Vec::with_capacity(body.len() + MAGIC.len() + 1);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_V1);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads an artifact; a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not a suggestion index artifact"))?;
        let corrupt = |e: &dyn std::fmt::Display| {
            Error::internal(format_args!("corrupt suggestion index artifact: {e}"))
        };
        let body: Body = match body.split_first() {
            Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest).map_err(|e| corrupt(&e))?,
            Some((format, _)) => {
                return Err(Error::internal(format_args!(
                    "suggestion index artifact of unknown format {format}"
                )));
            }
            None => return Err(Error::internal("truncated suggestion index artifact")),
        };
        let index = SuggestIndex {
            keys: Map::new(body.keys).map_err(|e| corrupt(&e))?,
            heavy: Map::new(body.heavy).map_err(|e| corrupt(&e))?,
            displays: body.displays,
            multi: body.multi,
            lists: body.lists,
        };
        // Every id the maps can yield must name a query: a corrupt file must not panic a request.
        let n = index.displays.len() as u32;
        let mut bad = false;
        let mut stream = index.keys.stream();
        while let Some((_, value)) = stream.next() {
            let mut ids = Vec::new();
            index.push_ids(value, &mut ids);
            bad |= ids.is_empty() || ids.iter().any(|&id| id >= n);
        }
        let mut stream = index.heavy.stream();
        while let Some((_, at)) = stream.next() {
            bad |= run(&index.lists, at as usize).iter().any(|&id| id >= n);
        }
        if bad {
            return Err(corrupt(&"an entry points outside the index"));
        }
        Ok(index)
    }
}

pub struct SuggestTrainer;

struct SuggestSettings {
    window_days: i64,
    filter: LogFilter,
    min_count: u32,
    half_life_ms: f64,
    click_weight: f64,
    pinyin: bool,
    blacklist: HashSet<String>,
}

/// Candidates of the window ending at `to`: by the trained weight, or by raw searches (the baseline).
fn candidates(log: &QueryLog, s: &SuggestSettings, to: i64, baseline: bool) -> Vec<Candidate> {
    let (kept, _) = log.kept(to - s.window_days * DAY_MS, to, s.filter);
    let counts = log.counts(&kept, to, (!baseline).then_some(s.half_life_ms));
    let (searches, clicked) = counts.iter().fold((0u64, 0u64), |(n, c), q| {
        (n + u64::from(q.searches), c + u64::from(q.clicked))
    });
    let average_ctr = (searches > 0 && clicked > 0).then(|| clicked as f64 / searches as f64);
    counts
        .iter()
        .enumerate()
        .filter(|(id, c)| c.searches >= s.min_count && !s.blacklist.contains(log.query(*id as u32)))
        .map(|(id, c)| {
            let weight = match average_ctr {
                Some(avg) if !baseline => {
                    let ctr = (f64::from(c.clicked) + CTR_PSEUDO_SEARCHES * avg)
                        / (f64::from(c.searches) + CTR_PSEUDO_SEARCHES);
                    c.weight * (ctr / avg).powf(s.click_weight)
                }
                _ => c.weight,
            };
            Candidate {
                normal: log.query(id as u32).to_string(),
                display: log.display(id as u32).to_string(),
                weight,
            }
        })
        .collect()
}

/// A search without a click followed within this time by another search of the same user was retyped: the
/// user did not finally type it.
const RETYPED_WITHIN_MS: i64 = 60_000;

/// The searches whose query is what the user finally typed: not retyped (see [`RETYPED_WITHIN_MS`]).
/// Anonymous searches cannot be chained and all count.
fn finally_typed(log: &QueryLog, searches: &[u32]) -> Vec<u32> {
    let mut by_user: Vec<u32> = searches.to_vec();
    by_user.sort_by_key(|&s| {
        let s = &log.searches[s as usize];
        (s.identity, s.at_ms)
    });
    by_user
        .iter()
        .enumerate()
        .filter(|(i, s)| {
            let this = &log.searches[**s as usize];
            let next = by_user.get(i + 1).map(|n| &log.searches[*n as usize]);
            !matches!(next, Some(n) if this.identity != 0
                && n.identity == this.identity
                && log.clicks_of(**s, i64::MAX).next().is_none()
                && n.at_ms - this.at_ms <= RETYPED_WITHIN_MS)
        })
        .map(|(_, s)| *s)
        .collect()
}

/// An index of `candidates` with the number it gives each query, for the evaluation.
fn build_numbered(
    mut candidates: Vec<Candidate>,
    pinyin: bool,
) -> Result<(SuggestIndex, HashMap<String, u32>), TrainError> {
    rank(&mut candidates);
    let numbers = candidates
        .iter()
        .enumerate()
        .map(|(id, c)| (c.normal.clone(), id as u32))
        .collect();
    Ok((SuggestIndex::build(candidates, pinyin)?, numbers))
}

/// Mean reciprocal rank of the held-out queries over their prefixes, and the number of (search, prefix) pairs.
fn mean_reciprocal_rank(
    index: &SuggestIndex,
    numbers: &HashMap<String, u32>,
    held_out: &HashMap<&str, u32>,
) -> (f64, u64) {
    let mut cache: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut sum = 0.0;
    let mut pairs = 0u64;
    for (&query, &times) in held_out {
        let target = numbers.get(query).copied();
        for end in prefix_ends(query) {
            pairs += u64::from(times);
            let Some(target) = target else {
                continue;
            };
            let prefix = &query[..end];
            let ids = cache
                .entry(prefix)
                .or_insert_with(|| index.complete_ids(prefix, EVAL_DEPTH, false));
            if let Some(rank) = ids.iter().position(|&id| id == target) {
                sum += f64::from(times) / (rank + 1) as f64;
            }
        }
    }
    (if pairs > 0 { sum / pairs as f64 } else { 0.0 }, pairs)
}

impl Trainer for SuggestTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let p = job.parameters;
        let (window_days, holdout_days) = window_days(p)?;
        let settings = SuggestSettings {
            window_days,
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap").map_err(param_error)?.max(1) as u32,
                drop_no_result: p.get("drop_no_result").map_err(param_error)? == "true",
                drop_no_click: false,
            },
            min_count: p.int("min_count").map_err(param_error)?.max(1) as u32,
            half_life_ms: p.float("half_life_days").map_err(param_error)? * DAY_MS as f64,
            click_weight: p.float("click_weight").map_err(param_error)?,
            pinyin: p.get("pinyin").map_err(param_error)? == "true",
            blacklist: dictionary(job.resource("blacklist")).into_iter().collect(),
        };
        let window = window_days * DAY_MS;
        let holdout_start = job.now_ms - holdout_days * DAY_MS;
        let mut scan = Scan::new(progress);
        let log = QueryLog::read(
            job.data,
            holdout_start - window,
            job.now_ms,
            &mut scan,
            (1, 70),
        )?;
        let searches = log
            .searches
            .iter()
            .filter(|s| s.at_ms >= job.now_ms - window)
            .count() as u64;
        let ready = readiness(
            Function::Suggest,
            &WindowCounts {
                searches,
                ..Default::default()
            },
        );
        if !ready.ready {
            return Err(TrainError::InsufficientData(format!(
                "{} (searches with a usable raw_query in the last {window_days} days)",
                ready.reason
            )));
        }

        scan.step("evaluating on held-out days", 70)?;
        let (held_out_searches, _) = log.kept(holdout_start, job.now_ms, settings.filter);
        let final_searches = finally_typed(&log, &held_out_searches);
        let mut held_out: HashMap<&str, u32> = HashMap::new();
        for &s in &final_searches {
            *held_out
                .entry(log.query(log.searches[s as usize].query))
                .or_default() += 1;
        }
        let (model, numbers) = build_numbered(
            candidates(&log, &settings, holdout_start, false),
            settings.pinyin,
        )?;
        let (baseline, baseline_numbers) = build_numbered(
            candidates(&log, &settings, holdout_start, true),
            settings.pinyin,
        )?;
        let (mrr, pairs) = mean_reciprocal_rank(&model, &numbers, &held_out);
        let (baseline_mrr, _) = mean_reciprocal_rank(&baseline, &baseline_numbers, &held_out);
        // Of the queries users finally typed, the share the index could complete at all.
        let covered = final_searches
            .iter()
            .filter(|&&s| numbers.contains_key(log.query(log.searches[s as usize].query)))
            .count();
        let round = |v: f64| (v * 10_000.0).round() / 10_000.0;
        let mut metrics = JsonMap::new();
        metrics.insert("holdout_searches".into(), json!(held_out_searches.len()));
        metrics.insert("holdout_final_searches".into(), json!(final_searches.len()));
        metrics.insert("holdout_prefixes".into(), json!(pairs));
        metrics.insert("mrr".into(), json!((pairs > 0).then(|| round(mrr))));
        metrics.insert(
            "baseline_most_popular_mrr".into(),
            json!((pairs > 0).then(|| round(baseline_mrr))),
        );
        metrics.insert(
            "holdout_query_coverage".into(),
            json!(
                (!final_searches.is_empty())
                    .then(|| round(covered as f64 / final_searches.len() as f64))
            ),
        );

        scan.step("building the index", 85)?;
        let served = SuggestIndex::build(
            candidates(&log, &settings, job.now_ms, false),
            settings.pinyin,
        )?;
        let artifact = served.encode()?;
        metrics.insert("suggestions".into(), json!(served.len()));
        metrics.insert("index_keys".into(), json!(served.key_count()));
        metrics.insert("heavy_prefixes".into(), json!(served.heavy_prefix_count()));
        metrics.insert("distinct_queries".into(), json!(log.query_count()));
        metrics.insert("log_searches".into(), json!(log.stats.searches));
        metrics.insert("unusable_queries".into(), json!(log.stats.unusable_queries));
        Ok(TrainedModel {
            artifact,
            metrics,
            passed_quality_gate: !served.is_empty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(queries: &[(&str, f64)], pinyin: bool) -> SuggestIndex {
        SuggestIndex::build(
            queries
                .iter()
                .map(|(q, w)| Candidate {
                    normal: normalise(q),
                    display: q.to_string(),
                    weight: *w,
                })
                .collect(),
            pinyin,
        )
        .unwrap()
    }

    #[test]
    fn completions_are_ranked_by_weight() {
        let idx = index(
            &[
                ("dress", 5.0),
                ("dress red", 9.0),
                ("drum", 7.0),
                ("coat", 100.0),
            ],
            false,
        );
        assert_eq!(idx.suggest("dr", 10), ["dress red", "drum", "dress"]);
        assert_eq!(idx.suggest("DRE", 10), ["dress red", "dress"]);
        assert_eq!(idx.suggest("dr", 1), ["dress red"]);
        assert!(idx.suggest("x", 10).is_empty());
        assert!(idx.suggest("", 10).is_empty());
    }

    #[test]
    fn chinese_completes_by_characters_and_by_pinyin() {
        let idx = index(
            &[
                ("连衣裙", 10.0),
                ("连衣裙 夏季", 4.0),
                ("连帽衫", 6.0),
                ("dress", 1.0),
            ],
            true,
        );
        assert_eq!(idx.suggest("连", 10), ["连衣裙", "连帽衫", "连衣裙 夏季"]);
        assert_eq!(idx.suggest("连衣", 10), ["连衣裙", "连衣裙 夏季"]);
        assert_eq!(idx.suggest("lian", 10), ["连衣裙", "连帽衫", "连衣裙 夏季"]);
        assert_eq!(idx.suggest("lyq", 10), ["连衣裙", "连衣裙 夏季"]);
        assert_eq!(idx.suggest("d", 10), ["dress"]);
        let plain = index(&[("连衣裙", 10.0)], false);
        assert!(plain.suggest("lian", 10).is_empty());
    }

    #[test]
    fn one_typo_is_forgiven_from_four_characters() {
        let idx = index(
            &[("headphones", 10.0), ("heart", 3.0), ("leather shoes", 2.0)],
            false,
        );
        assert_eq!(idx.suggest("hedp", 10), ["headphones"]);
        assert_eq!(idx.suggest("headphnes", 10), ["headphones"]);
        assert_eq!(
            idx.suggest("haedph", 10),
            ["headphones"],
            "swapped neighbours"
        );
        // Exact completions come first.
        assert_eq!(idx.suggest("hear", 10), ["heart", "headphones"]);
        // Too short to guess.
        assert!(idx.suggest("hep", 10).is_empty());
    }

    #[test]
    fn heavy_prefixes_answer_from_their_lists_like_a_scan_would() {
        let queries: Vec<(String, f64)> = (0..500)
            .map(|i| (format!("q{i:03} item"), f64::from((i * 7919) % 500)))
            .collect();
        let refs: Vec<(&str, f64)> = queries.iter().map(|(q, w)| (q.as_str(), *w)).collect();
        let idx = index(&refs, false);
        assert!(idx.heavy_prefix_count() >= 2, "'q', 'q0', … are heavy");
        let mut want: Vec<&(String, f64)> = queries
            .iter()
            .filter(|(q, _)| q.starts_with("q1"))
            .collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1));
        let want: Vec<&str> = want.iter().take(10).map(|(q, _)| q.as_str()).collect();
        assert_eq!(idx.suggest("q1", 10), want);
        assert_eq!(idx.suggest("q", 30).len(), 30);
        assert_eq!(idx.suggest("q12", 30).len(), 10);
    }

    #[test]
    fn the_artifact_round_trips_and_corruption_is_an_error() {
        let idx = index(&[("连衣裙", 10.0), ("dress", 3.0)], true);
        let bytes = idx.encode().unwrap();
        let back = SuggestIndex::decode(&bytes).unwrap();
        assert_eq!(back.suggest("lyq", 5), ["连衣裙"]);
        assert!(SuggestIndex::decode(&bytes[..bytes.len() / 2]).is_err());
        assert!(SuggestIndex::decode(b"ACPOP\x01").is_err());
    }
}
