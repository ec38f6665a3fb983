//! The `suggest` trainer: candidates from the query log, an index fitted before the held-out days replayed on
//! them prefix by prefix, and the served index rebuilt on the whole window.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::{DAY_MS, WindowCounts, readiness};
use serde_json::{Map as JsonMap, json};

use super::index::{Candidate, SuggestIndex, prefix_ends, rank};
use crate::query::log::{LogFilter, QueryLog, dictionary};
use crate::scan::{Scan, param_error, window_days};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

/// Completions per prefix counted by the evaluation.
const EVAL_DEPTH: usize = 10;
/// Pseudo-searches pulling a query's click-through towards the average.
const CTR_PSEUDO_SEARCHES: f64 = 10.0;

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
