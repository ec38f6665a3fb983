//! The `suggest` trainer: candidates from the query log, an index fitted before the held-out days replayed on
//! them prefix by prefix, and the served index rebuilt on the whole window.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::{DAY_MS, WindowCounts};

use super::index::{Candidate, SuggestIndex, prefix_ends, rank};
use crate::evaluation::{Metrics, rounded, share};
use crate::held_out::{EVALUATING, Evaluation, HeldOutSplit, REFITTING, Window};
use crate::progress::{Step, Steps, step};
use crate::query::log::{LogFilter, QueryLog, READING_LOG, dictionary};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob, ensure_ready};

const PLAN: &[Step] = &[
    step(READING_LOG, 70),
    step(EVALUATING, 15),
    step(REFITTING, 15),
];

/// Completions per prefix counted by the evaluation.
const EVAL_DEPTH: usize = 10;
/// Pseudo-searches pulling a query's click-through towards the average.
const CTR_PSEUDO_SEARCHES: f64 = 10.0;

pub struct SuggestTrainer;

struct SuggestSettings {
    filter: LogFilter,
    min_count: u32,
    half_life_ms: f64,
    click_weight: f64,
    pinyin: bool,
    blacklist: HashSet<String>,
}

/// Candidates of `window`: by the trained weight, or by raw searches (the baseline).
fn candidates(
    log: &QueryLog,
    s: &SuggestSettings,
    window: Window,
    baseline: bool,
) -> Vec<Candidate> {
    let to = window.to_ms;
    let (kept, _) = log.kept(window.from_ms, to, s.filter);
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

/// Replays the held-out searches users finally typed, prefix by prefix, on the index fitted before them and
/// on the most-popular baseline.
fn score(
    log: &QueryLog,
    settings: &SuggestSettings,
    (model, numbers): &(SuggestIndex, HashMap<String, u32>),
    evaluation: Evaluation,
) -> Result<Metrics, TrainError> {
    let held_out_window = evaluation.held_out;
    let (held_out_searches, _) = log.kept(
        held_out_window.from_ms,
        held_out_window.to_ms,
        settings.filter,
    );
    let final_searches = finally_typed(log, &held_out_searches);
    let mut held_out: HashMap<&str, u32> = HashMap::new();
    for &s in &final_searches {
        *held_out
            .entry(log.query(log.searches[s as usize].query))
            .or_default() += 1;
    }
    let (baseline, baseline_numbers) = build_numbered(
        candidates(log, settings, evaluation.fit, true),
        settings.pinyin,
    )?;
    let (mrr, pairs) = mean_reciprocal_rank(model, numbers, &held_out);
    let (baseline_mrr, _) = mean_reciprocal_rank(&baseline, &baseline_numbers, &held_out);
    // Of the queries users finally typed, the share the index could complete at all.
    let covered = final_searches
        .iter()
        .filter(|&&s| numbers.contains_key(log.query(log.searches[s as usize].query)))
        .count();
    let mut metrics = Metrics::default();
    metrics.put("holdout_searches", held_out_searches.len());
    metrics.put("holdout_final_searches", final_searches.len());
    metrics.put("holdout_prefixes", pairs);
    metrics.put("mrr", (pairs > 0).then(|| rounded(mrr)));
    metrics.put(
        "baseline_most_popular_mrr",
        (pairs > 0).then(|| rounded(baseline_mrr)),
    );
    metrics.put(
        "holdout_query_coverage",
        share(covered as u64, final_searches.len() as u64),
    );
    Ok(metrics)
}

impl Trainer for SuggestTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let p = job.params();
        let split = HeldOutSplit::read(job)?;
        let settings = SuggestSettings {
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap")?.max(1) as u32,
                drop_no_result: p.flag("drop_no_result")?,
                drop_no_click: false,
            },
            min_count: p.int("min_count")?.max(1) as u32,
            half_life_ms: p.float("half_life_days")? * DAY_MS as f64,
            click_weight: p.float("click_weight")?,
            pinyin: p.flag("pinyin")?,
            blacklist: dictionary(job.resource("blacklist")).into_iter().collect(),
        };
        let mut steps = Steps::new(progress, PLAN);
        steps.enter(READING_LOG)?;
        let whole = split.whole_window();
        let read = Window {
            from_ms: split.evaluated_window().from_ms,
            to_ms: whole.to_ms,
        };
        let log = QueryLog::read(job.data, read, &mut steps)?;
        let counts = WindowCounts {
            searches: log.searches_in(whole),
            ..Default::default()
        };
        ensure_ready(
            Function::Suggest,
            &counts,
            format_args!(
                "(searches with a usable raw_query in the last {} days)",
                split.window_days()
            ),
        )?;

        let ((served, _), mut metrics) = split.evaluate_then_refit(
            &mut steps,
            |fit| {
                let candidates = candidates(&log, &settings, fit.window(), false);
                if fit.is_served() {
                    // Only the evaluation needs to know the number the index gave each query.
                    Ok((
                        SuggestIndex::build(candidates, settings.pinyin)?,
                        HashMap::new(),
                    ))
                } else {
                    build_numbered(candidates, settings.pinyin)
                }
            },
            |evaluated, evaluation| score(&log, &settings, evaluated, evaluation),
        )?;
        let artifact = served.encode()?;
        metrics.put("suggestions", served.len());
        metrics.put("index_keys", served.key_count());
        metrics.put("heavy_prefixes", served.heavy_prefix_count());
        metrics.put("distinct_queries", log.query_count());
        metrics.put("log_searches", log.stats.searches);
        metrics.put("unusable_queries", log.stats.unusable_queries);
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into(),
            passed_quality_gate: !served.is_empty(),
        })
    }
}
