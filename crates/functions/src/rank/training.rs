//! The `rank` trainer: reading the window, grading and grouping exposures, computing the generators day by day,
//! boosting, evaluating on the held-out days and writing the served model (see the module documentation).

use std::collections::HashMap;
use std::ops::Range;

use algocenter_domain::catalogue::parse_behaviour_weights;
use algocenter_domain::data::day_of;
use serde_json::{Map, Value, json};

use super::examples::{Part, Prepared, prepare};
use super::gbdt::{Binned, TreeConfig};
use super::lambdarank::{
    BoostConfig, EVAL_AT, Groups, Initial, Start, boost, ndcg, pooled_ndcg, reciprocal_rank,
};
use super::model::{self, CTR_COLUMN, Stored, StoredGenerator};
use crate::evaluation::{Metrics, rounded};
use crate::held_out::{EVALUATING, HeldOutSplit};
use crate::progress::{Step, Steps, step};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

pub(super) const READING_ITEMS: &str = "reading items";
pub(super) const READING_BEHAVIOUR: &str = "reading behaviour";
pub(super) const CROSS_FITTING: &str = "cross-fitting the ctr instance by day";
pub(super) const BUILDING_EXAMPLES: &str = "computing the features";
const TRAINING: &str = "boosting trees";
const WRITING: &str = "writing the model";
const PLAN: &[Step] = &[
    step(READING_ITEMS, 3),
    step(READING_BEHAVIOUR, 25),
    step(CROSS_FITTING, 30),
    step(BUILDING_EXAMPLES, 20),
    step(TRAINING, 42),
    step(EVALUATING, 5),
    step(WRITING, 5),
];

pub struct RankTrainer;

/// The examples a run would train on, its features computed as the trainer computes them: for benchmarks that
/// hand the same features to another learner.
pub fn examples(
    job: &TrainingJob<'_>,
    progress: &mut dyn Progress,
) -> Result<Prepared, TrainError> {
    let config = config(job)?;
    let split = HeldOutSplit::read(job)?;
    let mut steps = Steps::new(progress, PLAN);
    prepare(job, &config, &split, &mut steps)
}

pub(super) struct Config {
    pub(super) grades: HashMap<String, f32>,
    pub(super) attribution_ms: i64,
    pub(super) ipw: bool,
    pub(super) boost: BoostConfig,
    pub(super) max_bins: usize,
    pub(super) validation_share: f64,
    pub(super) min_count: u32,
    pub(super) threshold: f64,
    pub(super) ctr_folds: usize,
    /// With `ctr_instance`: boosting starts from the ctr score's logit instead of zero.
    pub(super) ctr_start: bool,
}

pub(super) fn config(job: &TrainingJob<'_>) -> Result<Config, TrainError> {
    let p = job.params();
    let grades = parse_behaviour_weights(p.text("label_weights")?)
        .map_err(|e| TrainError::Failed(format!("label_weights {e}")))?
        .into_iter()
        .map(|(b, w)| (b, w as f32))
        .collect();
    Ok(Config {
        grades,
        attribution_ms: p.int("attribution_window_minutes")? * 60_000,
        ipw: p.text("position_debiasing")? == "ipw",
        boost: BoostConfig {
            tree: TreeConfig {
                num_leaves: p.int("num_leaves")?.max(2) as usize,
                min_data_in_leaf: p.int("min_data_in_leaf")?.max(1) as usize,
                min_sum_hessian: 1e-3,
                l2: p.float("l2")?,
                learning_rate: p.float("learning_rate")?,
            },
            max_trees: p.int("num_trees")?.max(1) as usize,
            early_stopping_rounds: p.int("early_stopping_rounds")?.max(1) as usize,
        },
        max_bins: p.int("max_bins")?.clamp(4, 255) as usize + 1,
        validation_share: p.float("validation_share")?,
        min_count: p.int("min_count")?.max(1) as u32,
        threshold: p.float("available_threshold")?,
        ctr_folds: p.int("ctr_folds")?.max(2) as usize,
        ctr_start: p.text("ctr_as")? == "start",
    })
}

/// Held-out figures of ordering by `scores`, as `{name}_ndcg_at_10` …: NDCG@5 and NDCG@10 pooled over the
/// searches with gains weighted by `weights` (inverse propensities with debiasing), and the plain per-search
/// mean NDCG@10 and MRR of the observed grades. Returns the pooled NDCG@10.
fn metrics_of(
    name: &str,
    groups: &[Range<u32>],
    scores: &[f64],
    (grades, weights): (&[f32], &[f32]),
    metrics: &mut Metrics,
) -> f64 {
    let (mut observed, mut mrr, mut n) = (0.0, 0.0, 0usize);
    for g in groups {
        let r = g.start as usize..g.end as usize;
        if let Some(v) = ndcg(EVAL_AT, &scores[r.clone()], &grades[r.clone()]) {
            observed += v;
            mrr += reciprocal_rank(&scores[r.clone()], &grades[r]).unwrap_or(0.0);
            n += 1;
        }
    }
    let n = n.max(1) as f64;
    let prefix = if name.is_empty() {
        String::new()
    } else {
        format!("{name}_")
    };
    let at10 = pooled_ndcg(EVAL_AT, groups, scores, grades, weights);
    metrics.put(
        format!("{prefix}ndcg_at_5"),
        rounded(pooled_ndcg(5, groups, scores, grades, weights)),
    );
    metrics.put(format!("{prefix}ndcg_at_10"), rounded(at10));
    metrics.put(
        format!("{prefix}observed_ndcg_at_10"),
        rounded(observed / n),
    );
    metrics.put(format!("{prefix}mrr"), rounded(mrr / n));
    at10
}

/// Adds each cross-fitted ctr model's held-out NDCG@10, and their mean's, to the cross-fitting report: how much
/// weaker the scores rank trains on are than the served instance's (`ctr_instance_ndcg_at_10`).
fn fold_models_on_held_out(
    held: &super::examples::Part,
    graded: (&[f32], &[f32]),
    report: &mut Map<String, Value>,
) {
    let Some(Value::Object(cross_fit)) = report.get_mut("ctr_cross_fit") else {
        return;
    };
    let mut scratch = Metrics::default();
    let mut mean = vec![0.0f64; held.rows()];
    for (k, fold) in held.ctr_folds.iter().enumerate() {
        let scores: Vec<f64> = fold.iter().map(|&s| f64::from(s)).collect();
        for (m, s) in mean.iter_mut().zip(&scores) {
            *m += s / held.ctr_folds.len() as f64;
        }
        let at10 = metrics_of("", &held.ranges, &scores, graded, &mut scratch);
        if let Some(Value::Object(model)) = cross_fit.get_mut("models").and_then(|m| m.get_mut(k)) {
            model.insert("held_out_ndcg_at_10".into(), json!(rounded(at10)));
        }
    }
    if !held.ctr_folds.is_empty() {
        let at10 = metrics_of("", &held.ranges, &mean, graded, &mut scratch);
        cross_fit.insert(
            "held_out_ndcg_at_10_of_their_mean".into(),
            json!(rounded(at10)),
        );
    }
}

impl Trainer for RankTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let started = std::time::Instant::now();
        let config = config(job)?;
        let split = HeldOutSplit::read(job)?;
        let mut steps = Steps::new(progress, PLAN);

        let prepared = prepare(job, &config, &split, &mut steps)?;
        let Prepared {
            names,
            fit,
            validation,
            held_out,
            items,
            propensities,
            generators,
            encodings,
            counts,
            documents,
            item_attributes,
            user_attributes,
            mut ctr_report,
            read_s,
            cross_fit_s,
            examples_s,
        } = prepared;
        let columns = names.len();
        let fit_data = Binned::new(&fit.columns, config.max_bins);
        let val_data = Binned::with_edges(&validation.columns, &fit_data.edges);
        let val_weights: Vec<f32> = validation
            .positions
            .iter()
            .map(|&p| (1.0 / propensities.of(p)) as f32)
            .collect();
        let weights = propensities.weights(
            fit.positions
                .iter()
                .copied()
                .zip(fit.grades.iter().copied()),
        );
        // The ctr column is last; starting from its logit, the trees learn what the ctr model misses, and the
        // validation's early stopping keeps no tree rather than one that orders worse than the ctr score.
        let has_ctr = names.last().is_some_and(|n| n == CTR_COLUMN);
        let start = if has_ctr && config.ctr_start {
            Start::LogitOf((columns - 1) as u32)
        } else {
            Start::Zero
        };
        let start_scores = |part: &Part| -> Vec<f64> {
            part.columns
                .last()
                .map(|c| {
                    c.iter()
                        .map(|&p| f64::from(start.of_probability(p)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (fit_start, validation_start) = (start_scores(&fit), start_scores(&validation));
        steps.enter(TRAINING)?;
        let training_started = std::time::Instant::now();
        let groups = Groups {
            ranges: &fit.ranges,
            grades: &fit.grades,
            weights: &weights,
        };
        let (ensemble, report) = boost(
            config.boost,
            (&fit_data, &groups),
            (
                &val_data,
                &validation.ranges,
                &validation.grades,
                &val_weights,
            ),
            (start != Start::Zero).then_some(Initial {
                start,
                train: &fit_start,
                validation: &validation_start,
            }),
            &mut |done| steps.fraction(done).is_ok(),
        )
        .ok_or(TrainError::Cancelled)?;
        let training_s = training_started.elapsed().as_secs_f64();

        // Held-out evaluation, beside the logged order, popularity and the ctr instance.
        let (metrics, passed) = split.evaluate(&mut steps, |_, _| {
            let held = &held_out;
            let inverse: Vec<f32> = held
                .positions
                .iter()
                .map(|&p| (1.0 / propensities.of(p)) as f32)
                .collect();
            let graded = (held.grades.as_slice(), inverse.as_slice());
            let mut row = Vec::with_capacity(columns);
            let scores: Vec<f64> = (0..held.rows())
                .map(|i| {
                    row.clear();
                    row.extend(held.columns.iter().map(|c| c[i]));
                    f64::from(ensemble.predict(&row))
                })
                .collect();
            let mut m = Metrics::default();
            let ndcg10 = metrics_of("", &held.ranges, &scores, graded, &mut m);
            let logged: Vec<f64> = held.positions.iter().map(|&p| -f64::from(p)).collect();
            metrics_of("logged", &held.ranges, &logged, graded, &mut m);
            // Popularity: an item's graded exposures in the training searches.
            let mut clicks = vec![0u32; items];
            for part in [&fit, &validation] {
                for (&item, &grade) in part.items.iter().zip(&part.grades) {
                    clicks[item as usize] += u32::from(grade > 0.0);
                }
            }
            let popular: Vec<f64> = held
                .items
                .iter()
                .map(|&i| f64::from(clicks[i as usize]))
                .collect();
            metrics_of("popularity", &held.ranges, &popular, graded, &mut m);
            if has_ctr {
                let scores: Vec<f64> = held.columns[columns - 1]
                    .iter()
                    .map(|&s| f64::from(s))
                    .collect();
                metrics_of("ctr_instance", &held.ranges, &scores, graded, &mut m);
                fold_models_on_held_out(held, graded, &mut ctr_report);
            }
            Ok((m, ndcg10))
        })?;
        let mut metrics = metrics;
        let passed_gate = passed >= config.threshold;
        let gains = ensemble.gains(columns);
        let total_gain: f64 = gains.iter().sum::<f64>().max(1e-12);
        let mut importance: Vec<(String, f64)> = names
            .iter()
            .cloned()
            .zip(gains.iter().map(|g| g / total_gain))
            .collect();
        importance.sort_by(|a, b| b.1.total_cmp(&a.1));
        metrics.put(
            "feature_importance",
            Value::Object(
                importance
                    .iter()
                    .map(|(n, v)| (n.clone(), json!(rounded(*v))))
                    .collect(),
            ),
        );
        for (name, value) in ctr_report {
            metrics.put(name, value);
        }
        metrics.put("features", names.len());
        metrics.put("groups_fit", fit.ranges.len());
        metrics.put("groups_validation", validation.ranges.len());
        metrics.put("groups_holdout", held_out.ranges.len());
        metrics.put("examples_fit", fit.rows());
        metrics.put("examples_validation", validation.rows());
        metrics.put("examples_holdout", held_out.rows());
        metrics.put("trees", ensemble.trees.len());
        metrics.put("trees_built", report.trees_built);
        metrics.put(
            "boosting_start",
            // What the kept ensemble starts from (boosting falls back to zero for a start that does not fit).
            match ensemble.start {
                Start::Zero => "zero",
                Start::LogitOf(_) => "ctr_logit",
            },
        );
        metrics.put("validation_ndcg_at_10", rounded(report.validation_ndcg));
        metrics.put(
            "position_debiasing",
            if config.ipw { "ipw" } else { "none" },
        );
        metrics.put(
            "evaluated_with",
            if config.ipw {
                "NDCG pooled over the held-out searches, gains divided by the examination propensity of their logged position; observed_ndcg_at_10 and mrr: plain per-search means"
            } else {
                "NDCG pooled over the held-out searches; observed_ndcg_at_10 and mrr: per-search means"
            },
        );
        metrics.put("position_propensities", propensities.describe());
        metrics.put(
            "quality_gate",
            if passed_gate {
                format!("passed: held-out NDCG@10 {} ≥ available_threshold {}", rounded(passed), config.threshold)
            } else {
                format!(
                    "not passed: held-out NDCG@10 {} < available_threshold {}; this generation does not serve",
                    rounded(passed),
                    config.threshold
                )
            },
        );

        steps.enter(WRITING)?;
        let mut facts = counts.served(day_of(job.now_ms) + 1);
        for (names, from, into) in [
            (
                item_attributes,
                &documents.items,
                &mut facts.item_attributes,
            ),
            (
                user_attributes,
                &documents.users,
                &mut facts.user_attributes,
            ),
        ] {
            if names.is_empty() {
                continue;
            }
            for (id, attributes) in from {
                let kept: Map<String, Value> = attributes
                    .iter()
                    .filter(|(k, _)| names.contains(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !kept.is_empty() {
                    into.insert(id.clone(), Value::Object(kept).to_string());
                }
            }
        }
        let stored = Stored {
            generators: generators.iter().map(StoredGenerator::from).collect(),
            encodings,
            ensemble,
            facts,
            ctr: job.artifact("ctr_instance").map(<[u8]>::to_vec),
        };
        let artifact = model::encode(&stored)?;
        metrics.put(
            "seconds",
            json!({
                "reading": rounded(read_s),
                "ctr_cross_fit": rounded(cross_fit_s),
                "features": rounded(examples_s),
                "boosting": rounded(training_s),
                "total": rounded(started.elapsed().as_secs_f64()),
            }),
        );
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into_map(),
            passed_quality_gate: passed_gate,
        })
    }
}
