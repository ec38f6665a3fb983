//! `ctr`: the probability that a user clicks an item shown for a query, learned from exposures and clicks.
//!
//! **Examples.** One per exposure (`bhv_type=expose`) in the window `[now - train_window_days, now)`: the user,
//! the item and its catalogue attributes, the query of the search with the same `rn` (none when that search is not
//! in the window), the logged `position` and the event's `context` ([`log`], [`examples`]).
//!
//! **Split by time.** Exposures of the last `holdout_days` are never trained on: every metric is computed there.
//! Of the rest, the most recent `validation_share` chooses the model and stops training; the models are fitted
//! on the older part.
//!
//! **Models** ([`train::Kind`]): logistic regression with hashed crosses ([`ffm`] without factors), a
//! field-aware factorization machine with the same crosses ([`ffm`]) and a deep interaction model ([`deep`]). With `model=auto`
//! [`tune`] chooses among configurations of all three on the validation examples.
//!
//! **Position only as a bias.** The logged position adds a learned term to the logit (a shallow position
//! "tower", trained jointly with the model: Guo et al., RecSys 2019) and interacts with no other feature, so no
//! model can let position stand in for relevance. Evaluation at the logged positions adds the logged position's
//! term; serving adds the term of one fixed position (`serving_position`), which moves every candidate alike: the
//! order is the relevance order.

pub mod deep;
mod deep_train;
mod dense;
mod evaluate;
mod examination;
pub mod examples;
pub mod features;
pub mod ffm;
#[cfg(test)]
mod history_tests;
mod log;
mod model;
pub mod train;
pub mod tune;

use std::collections::{HashMap, HashSet};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use algocenter_domain::Function;
use algocenter_domain::data::{WindowCounts, readiness};
use serde_json::json;

use crate::evaluation::{Metrics, auc};
use crate::held_out::{EVALUATING, HeldOutSplit};
use crate::progress::{Step, Steps, step};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};
use deep::DeepConfig;
pub use evaluate::auc_within_position;
use evaluate::{item_ctr_baseline, popularity_baseline, put_scores, round};
use examples::{Examples, HistoryPlan, build, pages};
use features::{ItemFields, MAX_POSITION, RawFeature};
use ffm::{Crosses, FfmConfig, Scratch, sigmoid};
use log::Log;
pub use model::{Candidate, CtrModel, Situation};
use model::{Stored, UserHistories, item_hash};
use train::{Candidate as Config, Kind, Run, Scorer, Ticker, Validation};
use tune::Tuning;

const READING_ITEMS: &str = "reading items";
const READING_BEHAVIOUR: &str = "reading behaviour";
const BUILDING_EXAMPLES: &str = "building examples";
const TRAINING: &str = "training";
const WRITING: &str = "writing the model";
const PLAN: &[Step] = &[
    step(READING_ITEMS, 3),
    step(READING_BEHAVIOUR, 22),
    step(BUILDING_EXAMPLES, 5),
    step(TRAINING, 60),
    step(EVALUATING, 5),
    step(WRITING, 5),
];

pub struct CtrTrainer;

/// Fitted examples the crossed regression beside the model learns from at most (a sample of the pages beyond): it
/// is a yardstick, and on millions of exposures its figures do not move with more.
const BASELINE_EXAMPLES: usize = 2_000_000;

struct CtrParams {
    split: HeldOutSplit,
    item_fields: ItemFields,
    positives: HashSet<String>,
    attribution_ms: i64,
    min_count: u32,
    /// Most recent items each user chose that become a field of their own (0: none).
    user_history: usize,
    /// `None`: `auto`.
    model: Option<Kind>,
    /// `position_terms=separate`: the examination curve is estimated on its own and held fixed.
    separate_positions: bool,
    config: Config,
    max_epochs: usize,
    seed: u64,
    threads: usize,
    budget_seconds: f64,
    validation_share: f64,
    threshold: f64,
}

fn params(job: &TrainingJob<'_>) -> Result<CtrParams, TrainError> {
    let p = job.params();
    let text = |name: &str| p.text(name).map(str::to_string);
    let model = match p.text("model")? {
        "ffm" => Some(Kind::Ffm),
        "deep" => Some(Kind::Deep),
        "lr" => Some(Kind::Lr),
        _ => None,
    };
    let hidden = p.int("hidden_units")?.max(0) as usize;
    Ok(CtrParams {
        split: HeldOutSplit::read(job)?,
        item_fields: ItemFields {
            id: text("id_field")?,
            title: text("title_field")?,
            category: text("category_field")?,
            tags: text("tags_field")?,
            description: text("description_field")?,
        },
        positives: p
            .text("positive_behaviors")?
            .split(',')
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect(),
        attribution_ms: p.int("attribution_window_minutes")? * 60_000,
        min_count: p.int("min_count")?.max(1) as u32,
        user_history: p.int("user_history")?.max(0) as usize,
        model,
        separate_positions: p.text("position_terms")? == "separate",
        config: Config {
            kind: model.unwrap_or(Kind::Ffm),
            ffm: FfmConfig {
                k: if model == Some(Kind::Lr) {
                    0
                } else {
                    p.int("latent_dim")?.max(1) as usize
                },
                learning_rate: p.float("learning_rate")? as f32,
                l2: p.float("l2")? as f32,
                crosses: Crosses::Personal,
            },
            deep: DeepConfig {
                dim: p.int("embedding_dim")?.max(1) as usize,
                hidden: [hidden, hidden / 2, 0],
                learning_rate: p.float("deep_learning_rate")? as f32,
                embedding_l2: p.float("embedding_l2")? as f32,
                batch: p.int("batch_size")?.max(1) as usize,
                crosses: Crosses::Personal,
                // Set from the log once it is read (`deep_train::wide_learning_rate`).
                cross_learning_rate: 0.0,
            },
        },
        max_epochs: p.int("max_epochs")?.max(1) as usize,
        seed: p.int("seed")?.max(0) as u64,
        threads: p.int("threads")?.clamp(1, 64) as usize,
        budget_seconds: p.int("tuning_budget_seconds")?.max(1) as f64,
        validation_share: p.float("validation_share")?,
        threshold: p.float("available_threshold")?,
    })
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&p| f64::from(p)).sum::<f64>() / v.len().max(1) as f64
}

/// Relevance plus position logits of a trained scorer on the examples of `indices`.
fn logits(scorer: &Scorer, position: &[f32], set: &dyn Examples, indices: &[u32]) -> Vec<f32> {
    let mut buf = Vec::new();
    match scorer {
        Scorer::Ffm(w) => {
            let mut scratch = Scratch::new(w.fields, w.k);
            indices
                .iter()
                .map(|&i| {
                    set.features(i as usize, &mut buf);
                    w.logit(&buf, &mut scratch) + position[usize::from(set.position(i as usize))]
                })
                .collect()
        }
        Scorer::Deep(w) => {
            let mut work = deep::Work::default();
            let mut out = Vec::with_capacity(indices.len());
            for chunk in indices.chunks(4096) {
                let z = w.logits(
                    chunk.len(),
                    &mut |i, o| set.features(chunk[i] as usize, o),
                    &mut work,
                );
                out.extend(
                    z.iter()
                        .zip(chunk)
                        .map(|(z, &i)| z + position[usize::from(set.position(i as usize))]),
                );
            }
            out
        }
    }
}

/// Positions never logged in the fitted examples take the term of the nearest logged position above them
/// (or of "not logged"), so that serving at any position gives a sensible probability.
fn fill_positions(position: &mut [f32], seen: &[u64]) {
    for p in 1..position.len() {
        if seen[p] == 0 {
            position[p] = if p > 1 && seen[..p].iter().skip(1).any(|&n| n > 0) {
                position[p - 1]
            } else {
                position[0]
            };
        }
    }
}

impl Trainer for CtrTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        self.train_except(job, &|_| false, progress)
    }
}

impl CtrTrainer {
    /// [`Trainer::train`] as if the events at the times `hidden` accepts (epoch ms) had never been pushed: for
    /// `rank`, which scores each training day with a ctr model that did not see it.
    pub fn train_except(
        &self,
        job: &TrainingJob<'_>,
        hidden: &dyn Fn(i64) -> bool,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let started = Instant::now();
        let params = params(job)?;
        let split = params.split;
        let eval_start = split.held_out().from_ms;
        let mut steps = Steps::new(progress, PLAN);

        // The catalogue: features of every item as it is now.
        steps.enter(READING_ITEMS)?;
        let mut catalogue: HashMap<String, Vec<RawFeature>> = HashMap::new();
        let fields = &params.item_fields;
        steps.for_each_item(job.data, |item| {
            if let Some(id) = fields.id_of(item) {
                let features = fields.features(&id, Some(item));
                catalogue.insert(id, features);
            }
        })?;

        // The behaviour of the window.
        steps.enter(READING_BEHAVIOUR)?;
        let mut log = Log::default();
        steps.for_each_event(job.data, split.whole_window(), |e| {
            if !hidden(e.bhv_time_ms) {
                log.add(e, &params.positives);
            }
        })?;

        let read_s = started.elapsed().as_secs_f64();
        steps.enter(BUILDING_EXAMPLES)?;
        log.label(params.attribution_ms);
        let exposures = &log.exposures;
        let trained = exposures.partition_point(|e| e.time_ms < eval_start);
        let counts = WindowCounts {
            exposures: trained as u64,
            clicks: exposures[..trained].iter().filter(|e| e.label).count() as u64,
            ..Default::default()
        };
        let ready = readiness(Function::Ctr, &counts);
        if !ready.ready {
            return Err(TrainError::InsufficientData(format!(
                "{} (exposures labelled by {}) in the training window of {} days (before the {} held-out days)",
                ready.reason,
                job.parameters.get("positive_behaviors").unwrap_or_default(),
                split.window_days() - split.holdout_days(),
                split.holdout_days()
            )));
        }
        let holdout = &exposures[trained..];
        let holdout_clicks = holdout.iter().filter(|e| e.label).count();
        if holdout_clicks == 0 || holdout_clicks == holdout.len() {
            return Err(TrainError::InsufficientData(format!(
                "the held-out last {} days have {} exposures and {holdout_clicks} clicks: both clicked and \
                 unclicked exposures are needed to evaluate",
                split.holdout_days(),
                holdout.len()
            )));
        }
        let fit_len = ((trained as f64) * (1.0 - params.validation_share)).round() as usize;
        let fit_len = fit_len.clamp(1, trained - 1);

        // Schema and vocabulary from the fitted examples only.
        let item_raw: Vec<Vec<RawFeature>> = log
            .item_ids
            .iter()
            .map(|id| {
                catalogue
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| fields.features(id, None))
            })
            .collect();
        let history = (params.user_history > 0).then_some(HistoryPlan {
            limit: params.user_history,
            trained: 0..trained,
            cutoff_ms: eval_start,
        });
        let built = build(&log, &item_raw, 0..fit_len, params.min_count, history);
        let set = &built.set;
        let rows = built.vocabulary.rows();
        let nf = built.schema.fields();
        let fit = pages(exposures, 0..fit_len);
        let validation = Validation::new(set, pages(exposures, fit_len..trained));
        let mut buf = Vec::new();
        let sampled = fit_len.min(20_000);
        let mut present = 0u32;
        let features: f64 = (0..sampled)
            .map(|i| {
                set.features(i * fit_len / sampled, &mut buf);
                present |= buf.iter().fold(0, |m, a| m | (1 << a.field));
                buf.len() as f64
            })
            .sum::<f64>()
            / sampled.max(1) as f64;
        let examples_s = started.elapsed().as_secs_f64() - read_s;

        // Training on worker threads; this thread reports their progress and passes on a cancellation.
        let ticker = Ticker::default();
        // The examination curve from the fitted exposures alone, held fixed in the models (not the baseline).
        let examination = params
            .separate_positions
            .then(|| examination::estimate(&exposures[..fit_len], &log.query_of_rn))
            .flatten();
        let tuning = Tuning {
            examples: set,
            fields: nf,
            present,
            rows,
            features,
            fit: &fit,
            validation: &validation,
            max_epochs: params.max_epochs,
            threads: params.threads,
            seed: params.seed,
            budget_seconds: params.budget_seconds,
            ticker: &ticker,
            examination: examination.as_ref(),
        };
        let repeat = log.repeat_click_share(0..fit_len, fit_len..trained);
        let mut config = params.config;
        config.deep.cross_learning_rate = deep_train::wide_learning_rate(repeat);
        let candidates = match params.model {
            None => tune::candidates(&config),
            Some(_) => vec![config],
        };
        let baseline = Config {
            kind: Kind::Lr,
            ffm: FfmConfig {
                k: 0,
                crosses: Crosses::Named,
                ..params.config.ffm
            },
            ..params.config
        };
        // Pages spread evenly over the fitted days, as many as hold about BASELINE_EXAMPLES examples.
        let keep =
            (fit.len() as f64 * (BASELINE_EXAMPLES as f64 / fit_len as f64).min(1.0)) as usize;
        let baseline_fit: Vec<_> = fit
            .iter()
            .enumerate()
            .filter(|(j, _)| (j + 1) * keep / fit.len() > j * keep / fit.len())
            .map(|(_, g)| g.clone())
            .collect();
        let baseline_examples: usize = baseline_fit.iter().map(|g| g.len()).sum();
        let planned = tune::planned_examples(&tuning, &candidates)
            + (4 * baseline_examples + 2 * (trained - fit_len)) as f64;
        let (done_tx, done_rx) = mpsc::channel::<()>();
        steps.enter(TRAINING)?;
        let outcome = std::thread::scope(|s| {
            let worker = s.spawn(|| {
                let result = (|| {
                    let outcome = tune::tune(&tuning, &candidates)?;
                    let mut lr = Run::new(
                        baseline,
                        nf,
                        present,
                        rows,
                        params.max_epochs,
                        1,
                        params.seed,
                    );
                    while !lr.finished {
                        if !lr.epoch(set, &baseline_fit, &validation, &ticker) {
                            return None;
                        }
                    }
                    Some((outcome, lr))
                })();
                // The receiver only stops listening once this thread is done.
                let _ = done_tx.send(());
                result
            });
            let mut shown = 0.0f64;
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                done_rx.recv_timeout(Duration::from_millis(200))
            {
                // The plan is an estimate: the bar never moves back and stops short of the step's end.
                shown = shown.max((ticker.done() as f64 / planned.max(1.0)).min(0.99));
                if steps.fraction(shown).is_err() {
                    ticker.cancel();
                }
            }
            worker.join()
        });
        let (outcome, lr) = outcome
            .map_err(|_| TrainError::Failed("the ctr trainer panicked".into()))?
            .ok_or(TrainError::Cancelled)?;
        let winner = outcome.winner;
        let (epochs_run, best_epoch, history) =
            (winner.epochs(), winner.best_epoch, winner.history.clone());
        let chosen = winner.candidate;
        let lr_best_epoch = lr.best_epoch;
        let (scorer, mut position) = winner
            .finish(set, &validation, &ticker)
            .ok_or(TrainError::Cancelled)?;
        let (lr_scorer, lr_position) = lr
            .finish(set, &validation, &ticker)
            .ok_or(TrainError::Cancelled)?;
        let training_s = started.elapsed().as_secs_f64() - read_s - examples_s;
        let evaluation_started = Instant::now();
        steps.enter(EVALUATING)?;

        // Held-out evaluation at the logged positions, and within each position.
        let held_out: Vec<u32> = (trained as u32..exposures.len() as u32).collect();
        let labels: Vec<bool> = holdout.iter().map(|e| e.label).collect();
        let positions: Vec<u8> = holdout.iter().map(|e| e.position).collect();
        let probabilities = |z: Vec<f32>| -> Vec<f32> { z.into_iter().map(sigmoid).collect() };
        let model_p = probabilities(logits(&scorer, &position, set, &held_out));
        let lr_p = probabilities(logits(&lr_scorer, &lr_position, set, &held_out));
        let items = log.item_ids.len();
        let ctr_p = item_ctr_baseline(&exposures[..trained], holdout, items);
        let popularity = popularity_baseline(&exposures[..trained], holdout, items);

        let model_auc = auc(&model_p, &labels).unwrap_or(0.5);
        let headline = auc_within_position(&model_p, &labels, &positions).unwrap_or(model_auc);
        let observed = holdout_clicks as f64 / holdout.len() as f64;
        let passed = headline >= params.threshold;
        let mut metrics = Metrics::default();
        put_scores(&mut metrics, "", &model_p, &labels, &positions, true);
        metrics.put("model", json!(chosen.kind.name()));
        metrics.put("mean_predicted_ctr", json!(round(mean(&model_p))));
        metrics.put("observed_ctr", json!(round(observed)));
        metrics.put("calibration", json!(round(mean(&model_p) / observed)));
        metrics.put("examples_fit", json!(fit_len));
        metrics.put("examples_validation", json!(trained - fit_len));
        metrics.put("examples_holdout", json!(holdout.len()));
        metrics.put("clicks_holdout", json!(holdout_clicks));
        metrics.put("epochs_run", json!(epochs_run));
        metrics.put("best_epoch", json!(best_epoch));
        metrics.put(
            "validation_logloss",
            json!(history.iter().map(|s| round(s.logloss)).collect::<Vec<_>>()),
        );
        metrics.put(
            "validation_auc_within_position",
            json!(
                history
                    .iter()
                    .map(|s| round(s.auc_within_position))
                    .collect::<Vec<_>>()
            ),
        );
        metrics.put("baseline_lr_best_epoch", json!(lr_best_epoch));
        metrics.put("baseline_lr_examples_fit", json!(baseline_examples));
        metrics.put(
            "examples_per_validation_check",
            json!(fit_len.div_ceil(train::checks_per_pass(fit_len))),
        );
        metrics.put("feature_rows", json!(rows));
        metrics.put("repeat_click_share", json!(round(repeat)));
        metrics.put(
            "wide_learning_rate",
            json!(round(f64::from(config.deep.cross_learning_rate))),
        );
        metrics.put(
            "fields",
            json!(
                (0..nf)
                    .map(|f| built.schema.field_name(f as u8))
                    .collect::<Vec<_>>()
            ),
        );
        metrics.put(
            "position_bias",
            json!(
                position
                    .iter()
                    .take(11)
                    .map(|&b| round(f64::from(b)))
                    .collect::<Vec<_>>()
            ),
        );
        metrics.put("tuning", outcome.report);
        metrics.put(
            "examination",
            examination.as_ref().map_or_else(
                || {
                    json!(if params.separate_positions {
                        "none estimated (too few query × item pairs at several positions): learned jointly"
                    } else {
                        "learned jointly (position_terms=joint)"
                    })
                },
                examination::Examination::describe,
            ),
        );
        metrics.put(
            "evaluated_at",
            json!("logged positions (auc, logloss); each position apart (auc_within_position)"),
        );
        metrics.put(
            "quality_gate",
            json!(if passed {
                format!(
                    "passed: held-out auc_within_position {} ≥ available_threshold {}",
                    round(headline),
                    params.threshold
                )
            } else {
                format!(
                    "not passed: held-out auc_within_position {} < available_threshold {}; this generation \
                     does not serve",
                    round(headline),
                    params.threshold
                )
            }),
        );
        put_scores(
            &mut metrics,
            "baseline_lr_",
            &lr_p,
            &labels,
            &positions,
            true,
        );
        put_scores(
            &mut metrics,
            "baseline_pop_",
            &ctr_p,
            &labels,
            &positions,
            true,
        );
        put_scores(
            &mut metrics,
            "baseline_popularity_",
            &popularity,
            &labels,
            &positions,
            false,
        );

        steps.enter(WRITING)?;
        let mut logged = vec![0u64; MAX_POSITION as usize + 1];
        for e in &exposures[..trained] {
            logged[usize::from(e.position)] += 1;
        }
        fill_positions(&mut position, &logged);
        let row_of = |f: u8, k: u64| built.vocabulary.row(f, k);
        let mut items: Vec<(u64, Vec<u32>)> = catalogue
            .iter()
            .map(|(id, raw)| {
                (
                    item_hash(id),
                    raw.iter().map(|&(f, k)| row_of(f, k)).collect(),
                )
            })
            .collect();
        items.sort_unstable_by_key(|(h, _)| *h);
        items.dedup_by_key(|(h, _)| *h);
        let history = set
            .history
            .as_ref()
            .map(|h| UserHistories::served(h, &log.users.ids));
        if let Some(h) = &history {
            let rows: usize = h.users.iter().map(|(_, r)| r.len()).sum();
            metrics.put(
                "user_history",
                json!({"limit": h.limit, "users": h.users.len(), "items": rows,
                       "bytes": postcard::experimental::serialized_size(h).unwrap_or(0)}),
            );
        }
        let stored = Stored {
            item_fields: params.item_fields.clone(),
            schema: built.schema.clone(),
            scorer,
            position,
            vocabulary: built.vocabulary.keys.clone(),
            items,
            fitted: Some((split.whole_window().from_ms, eval_start)),
            history,
        };
        let artifact = model::encode(&stored).map_err(|e| TrainError::Failed(e.to_string()))?;
        metrics.put(
            "seconds",
            json!({
                "reading": round(read_s),
                "examples": round(examples_s),
                "training": round(training_s),
                "evaluation_and_writing": round(evaluation_started.elapsed().as_secs_f64()),
                "total": round(started.elapsed().as_secs_f64()),
            }),
        );
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into_map(),
            passed_quality_gate: passed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_never_logged_take_the_nearest_logged_one() {
        let mut position = vec![0.5, 2.0, 1.0, 0.0, 0.0];
        fill_positions(&mut position, &[0, 10, 5, 0, 0]);
        assert_eq!(position, vec![0.5, 2.0, 1.0, 1.0, 1.0]);
        // Nothing logged: every position is "not logged".
        let mut none = vec![0.3, 0.0, 0.0];
        fill_positions(&mut none, &[100, 0, 0]);
        assert_eq!(none, vec![0.3, 0.3, 0.3]);
    }
}
