//! `pop`: a popularity score in [0, 1] per item.
//!
//! Training reads the window `[now - train_window_days, now - holdout_days)`:
//! 1. **Volume**: every event of an item adds its behaviour type's weight (`behavior_weights`), halved every
//!    `half_life_days` of age, so recent engagement counts more.
//! 2. **Smoothed rates**: the click and conversion parts of the volume are replaced by what the item's
//!    click-through rate (clicks / exposures) and conversion rate (weighted carts and purchases / clicks) predict,
//!    each rate smoothed towards its category's rate with `smoothing` pseudo-counts: an item shown 20 times and
//!    clicked 5 times is not ranked above one shown 10,000 times and clicked 800 times. (Multiplying the volume
//!    by the rates instead counted take-up twice and ranked held-out clicks worse.)
//! 3. **Little evidence**: an item with fewer than `min_evidence` weighted events gets no score; serving answers
//!    the instance's `default_score` for it, as for an item never seen. (Blending such items with their
//!    category's average was tried and ranked worse on held-out clicks: few events are themselves evidence of low
//!    popularity when every item had the chance to be shown.)
//! 4. Scores are `ln(1 + raw / median) / ln(1 + max / median)`, in [0, 1].
//!
//! Evaluation uses only the held-out last `holdout_days`: the rank correlation (Spearman) between the scores and
//! each item's clicks there, NDCG@100 of the popularity order against those clicks, and the same two metrics for a
//! baseline that ranks by raw training-window click counts; plus the coverage of held-out clicked items.

use std::collections::HashMap;

use algocenter_domain::catalogue::parse_behaviour_weights;
use algocenter_domain::data::{DAY_MS, WindowCounts};
use algocenter_domain::{Error, Function};

use crate::evaluation::{Metrics, ndcg_at, rounded, share, spearman};
use crate::held_out::{EVALUATING, HeldOutSplit};
use crate::progress::{Step, Steps, step};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob, ensure_ready};

/// Magic and format version at the start of every pop artifact.
const MAGIC: &[u8; 5] = b"ACPOP";
const FORMAT_V1: u8 = 1;

pub struct PopTrainer;

#[derive(Default, Clone)]
struct ItemStats {
    /// Events with a positive weight.
    evidence: u64,
    /// Raw click count (for the baseline).
    clicks: u64,
    // Time-decayed amounts: exposures and clicks as counts, conversions (carts, purchases) and the other
    // behaviour types already multiplied by their weights.
    exposed: f64,
    clicked: f64,
    converted: f64,
    other: f64,
}

/// Decayed sums of a category (or of everything).
#[derive(Default)]
struct Totals {
    exposed: f64,
    clicked: f64,
    converted: f64,
}

impl Totals {
    fn add(&mut self, s: &ItemStats) {
        self.exposed += s.exposed;
        self.clicked += s.clicked;
        self.converted += s.converted;
    }

    fn ctr(&self) -> Option<f64> {
        (self.exposed > 0.0 && self.clicked > 0.0).then(|| self.clicked / self.exposed)
    }

    /// Weighted conversions per click.
    fn cvr(&self) -> Option<f64> {
        (self.clicked > 0.0 && self.converted > 0.0).then(|| self.converted / self.clicked)
    }
}

const READING_ITEMS: &str = "reading items";
const COUNTING: &str = "counting behaviour";
const SCORING: &str = "scoring items";
const WRITING: &str = "writing the model";
const PLAN: &[Step] = &[
    step(READING_ITEMS, 4),
    step(COUNTING, 55),
    step(SCORING, 15),
    step(EVALUATING, 20),
    step(WRITING, 5),
];

impl Trainer for PopTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let p = job.params();
        let split = HeldOutSplit::read(job)?;
        let half_life_ms = p.float("half_life_days")? * DAY_MS as f64;
        let weights: HashMap<String, f64> = parse_behaviour_weights(p.text("behavior_weights")?)
            .map_err(TrainError::Failed)?
            .into_iter()
            .collect();
        let min_evidence = p.int("min_evidence")?.max(0) as u64;
        let smoothing = p.float("smoothing")?;
        let category_field = p.text("category_field")?;
        let mut steps = Steps::new(progress, PLAN);

        // Catalogue: every item's category.
        steps.enter(READING_ITEMS)?;
        let mut category_of: HashMap<String, String> = HashMap::new();
        steps.for_each_item(job.data, |item| {
            category_of.insert(
                item.id.clone(),
                item.text(category_field).unwrap_or_default(),
            );
        })?;

        // The window's days before the held-out ones; decay is measured where they end.
        steps.enter(COUNTING)?;
        let fitted = split.before_held_out();
        let mut stats: HashMap<String, ItemStats> = HashMap::new();
        let mut train_events = 0u64;
        let mut engagements = 0u64;
        steps.for_each_event(job.data, fitted, |e| {
            if e.item_id.is_empty() {
                return;
            }
            train_events += 1;
            let weight = weights.get(&e.bhv_type).copied().unwrap_or(0.0);
            // Look up before inserting: cloning the id for every event was a fifth of the training time.
            if !stats.contains_key(&e.item_id) {
                stats.insert(e.item_id.clone(), ItemStats::default());
            }
            let Some(s) = stats.get_mut(&e.item_id) else {
                return;
            };
            if weight > 0.0 {
                s.evidence += 1;
            }
            let age = (fitted.to_ms - e.bhv_time_ms).max(0) as f64;
            let decay = 0.5f64.powf(age / half_life_ms);
            match e.bhv_type.as_str() {
                "expose" => s.exposed += decay,
                "click" => {
                    s.clicks += 1;
                    s.clicked += decay;
                    engagements += 1;
                }
                "cart" | "buy" => {
                    s.converted += weight * decay;
                    engagements += 1;
                }
                "search" => {}
                _ => {
                    s.other += weight * decay;
                    engagements += 1;
                }
            }
        })?;

        let counts = WindowCounts {
            engagements,
            distinct_items: stats.values().filter(|s| s.evidence > 0).count() as u64,
            ..Default::default()
        };
        ensure_ready(
            Function::Pop,
            &counts,
            format_args!(
                "in the training window of {} days (before the {} held-out days)",
                split.window_days() - split.holdout_days(),
                split.holdout_days()
            ),
        )?;

        steps.enter(SCORING)?;
        let weight = |b: &str| weights.get(b).copied().unwrap_or(0.0);
        let scores = score(
            &stats,
            &category_of,
            (weight("expose"), weight("click")),
            min_evidence,
            smoothing,
        );

        let mut metrics = split.evaluate(&mut steps, |held_out, steps| {
            let mut holdout_clicks: HashMap<String, f64> = HashMap::new();
            let holdout_events = steps.for_each_event(job.data, held_out, |e| {
                if e.bhv_type == "click" && !e.item_id.is_empty() {
                    *holdout_clicks.entry(e.item_id.clone()).or_default() += 1.0;
                }
            })?;
            let mut metrics = evaluate(&scores, &stats, &holdout_clicks);
            metrics.put("train_events", train_events);
            metrics.put("holdout_events", holdout_events);
            Ok(metrics)
        })?;
        metrics.put("items_scored", scores.len());
        metrics.put(
            "items_with_evidence",
            stats
                .values()
                .filter(|s| s.evidence >= min_evidence.max(1))
                .count(),
        );

        steps.enter(WRITING)?;
        let mut sorted: Vec<(String, f32)> =
            scores.into_iter().map(|(k, v)| (k, v as f32)).collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let artifact = encode(&sorted)?;
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into(),
            passed_quality_gate: true,
        })
    }
}

/// Final scores in [0, 1] of every item with enough evidence. `(expose, click)` are those behaviours' weights.
fn score(
    stats: &HashMap<String, ItemStats>,
    category_of: &HashMap<String, String>,
    (expose_weight, click_weight): (f64, f64),
    min_evidence: u64,
    smoothing: f64,
) -> HashMap<String, f64> {
    let category = |item: &str| category_of.get(item).map(String::as_str).unwrap_or("");
    let mut global = Totals::default();
    let mut by_category: HashMap<&str, Totals> = HashMap::new();
    for (item, s) in stats {
        global.add(s);
        by_category.entry(category(item)).or_default().add(s);
    }
    let mut raw: HashMap<&str, f64> = stats
        .iter()
        .map(|(item, s)| {
            let c = by_category.get(category(item));
            // Clicks and conversions as their smoothed rates predict them: sparse items are pulled towards their
            // category instead of being ranked by a handful of lucky or unlucky events.
            let clicks = match c.and_then(Totals::ctr).or(global.ctr()) {
                Some(ctr_c) if s.exposed > 0.0 => {
                    s.exposed * (s.clicked + smoothing * ctr_c) / (s.exposed + smoothing)
                }
                _ => s.clicked,
            };
            let conversions = match c.and_then(Totals::cvr).or(global.cvr()) {
                Some(cvr_c) if clicks > 0.0 => {
                    clicks * (s.converted + smoothing * cvr_c) / (s.clicked + smoothing)
                }
                _ => s.converted,
            };
            (
                item.as_str(),
                expose_weight * s.exposed + click_weight * clicks + conversions + s.other,
            )
        })
        .collect();

    // Too little evidence to say anything: such items are left to the serving default.
    raw.retain(|item, _| {
        stats
            .get(*item)
            .is_some_and(|s| s.evidence >= min_evidence.max(1))
    });

    let mut positive: Vec<f64> = raw.values().copied().filter(|r| *r > 0.0).collect();
    positive.sort_by(f64::total_cmp);
    let median = positive
        .get(positive.len() / 2)
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE);
    let max = positive.last().copied().unwrap_or(1.0);
    let denominator = (1.0 + max / median).ln().max(f64::MIN_POSITIVE);
    raw.into_iter()
        .map(|(item, r)| {
            (
                item.to_string(),
                ((1.0 + r.max(0.0) / median).ln() / denominator).clamp(0.0, 1.0),
            )
        })
        .collect()
}

/// Held-out metrics of the scores and of the raw click-count baseline.
fn evaluate(
    scores: &HashMap<String, f64>,
    stats: &HashMap<String, ItemStats>,
    holdout_clicks: &HashMap<String, f64>,
) -> Metrics {
    let mut metrics = Metrics::default();
    metrics.put("holdout_clicked_items", holdout_clicks.len());
    if holdout_clicks.is_empty() {
        metrics.put(
            "note",
            "no clicks in the held-out period: nothing to evaluate against",
        );
        return metrics;
    }
    let mut items: Vec<&str> = scores.keys().map(String::as_str).collect();
    items.extend(
        holdout_clicks
            .keys()
            .map(String::as_str)
            .filter(|i| !scores.contains_key(*i)),
    );
    let model: Vec<f64> = items
        .iter()
        .map(|i| scores.get(*i).copied().unwrap_or(0.0))
        .collect();
    let baseline: Vec<f64> = items
        .iter()
        .map(|i| stats.get(*i).map_or(0.0, |s| s.clicks as f64))
        .collect();
    let truth: Vec<f64> = items
        .iter()
        .map(|i| holdout_clicks.get(*i).copied().unwrap_or(0.0))
        .collect();
    metrics.put("spearman", spearman(&model, &truth).map(rounded));
    metrics.put("ndcg_at_100", ndcg_at(100, &model, &truth).map(rounded));
    metrics.put(
        "baseline_click_count_spearman",
        spearman(&baseline, &truth).map(rounded),
    );
    metrics.put(
        "baseline_click_count_ndcg_at_100",
        ndcg_at(100, &baseline, &truth).map(rounded),
    );
    let covered = holdout_clicks
        .keys()
        .filter(|i| stats.get(*i).is_some_and(|s| s.evidence > 0))
        .count();
    metrics.put(
        "coverage",
        share(covered as u64, holdout_clicks.len() as u64),
    );
    metrics
}

fn encode(scores: &[(String, f32)]) -> Result<Vec<u8>, TrainError> {
    crate::artifact::seal(MAGIC, FORMAT_V1, scores)
}

/// A loaded pop generation.
#[derive(Debug)]
pub struct PopModel {
    scores: HashMap<String, f32>,
}

impl PopModel {
    /// Reads an artifact; a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not a pop model artifact"))?;
        match body.split_first() {
            Some((&FORMAT_V1, rest)) => {
                let pairs: Vec<(String, f32)> = postcard::from_bytes(rest).map_err(|e| {
                    Error::internal(format_args!("corrupt pop model artifact: {e}"))
                })?;
                Ok(PopModel {
                    scores: pairs.into_iter().collect(),
                })
            }
            Some((format, _)) => Err(Error::internal(format_args!(
                "pop model artifact of unknown format {format}"
            ))),
            None => Err(Error::internal("truncated pop model artifact")),
        }
    }

    pub fn score(&self, item: &str) -> Option<f32> {
        self.scores.get(item).copied()
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}
