//! `ctr`: the probability that a user clicks an item shown for a query, learned from exposures and clicks.
//!
//! **Examples.** One per exposure (`bhv_type=expose`) in the window `[now - train_window_days, now)`: the user,
//! the item and its catalogue attributes, the query of the search with the same `rn` (none when that search is not
//! in the window), the logged `position` and the event's `context`. An exposure is a positive example when one
//! of the `positive_behaviors` events has the same `rn` and item and happened within
//! `attribution_window_minutes` after it; a click without an exposure, or after the window, labels nothing. An
//! exposure logged twice (same `rn` and item) is one example.
//!
//! **Split by time.** Exposures of the last `holdout_days` are never trained on: every metric is computed there.
//! Of the rest, the most recent `validation_share` stops training when its loss stops falling; the model is fitted
//! on the older part.
//!
//! **Model.** A field-aware factorization machine ([`ffm`]) over the fields of [`features::Field`]; values seen
//! fewer than `min_count` times in the fitted examples share their field's out-of-vocabulary row. The same
//! trainer with no factors is the logistic-regression baseline; the item-popularity baseline is each item's
//! smoothed training click-through rate. The two models train at the same time, one per core.
//!
//! **Position bias.** Position is a feature, so the model learns how much of a click is owed to being shown
//! first. Evaluation scores each held-out exposure at its logged position (that is what was clicked or not);
//! serving scores every candidate at one fixed position (the `serving_position` usage parameter), so that the
//! ranking follows relevance and not the old order.

pub mod features;
pub mod ffm;
mod model;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use algocenter_domain::Function;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::{DAY_MS, WindowCounts, readiness};
use serde_json::{Map, Value, json};

use crate::evaluation::{auc, logloss};
use crate::held_out::{EVALUATING, Window, window_days};
use crate::params::param_error;
use crate::progress::{Step, Steps, step};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};
use features::{
    FIELDS, Field, ItemFields, MAX_POSITION, RawFeature, context_features, position_feature,
    query_features, user_feature,
};
use ffm::{Active, Examples, TrainConfig, Weights};
pub use model::{Candidate, CtrModel, Situation};
use model::{Stored, activate, item_hash};

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
/// Pseudo-exposures pulling an item's click-through rate towards the average (popularity baseline).
const POP_SMOOTHING: f64 = 20.0;
/// No search for this exposure's `rn`.
const NO_QUERY: u32 = u32::MAX;

pub struct CtrTrainer;

struct Params {
    window_days: i64,
    holdout_days: i64,
    item_fields: ItemFields,
    positives: HashSet<String>,
    attribution_ms: i64,
    min_count: u32,
    ffm: TrainConfig,
    validation_share: f64,
    threshold: f64,
}

fn params(job: &TrainingJob<'_>) -> Result<Params, TrainError> {
    let p = job.parameters;
    let text = |name: &str| p.get(name).map(str::to_string).map_err(param_error);
    let (window_days, holdout_days) = window_days(p)?;
    Ok(Params {
        window_days,
        holdout_days,
        item_fields: ItemFields {
            id: text("id_field")?,
            title: text("title_field")?,
            category: text("category_field")?,
            tags: text("tags_field")?,
            description: text("description_field")?,
        },
        positives: text("positive_behaviors")?
            .split(',')
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect(),
        attribution_ms: p.int("attribution_window_minutes").map_err(param_error)? * 60_000,
        min_count: p.int("min_count").map_err(param_error)?.max(1) as u32,
        ffm: TrainConfig {
            k: p.int("latent_dim").map_err(param_error)?.max(1) as usize,
            max_epochs: p.int("max_epochs").map_err(param_error)?.max(1) as usize,
            learning_rate: p.float("learning_rate").map_err(param_error)? as f32,
            l2: p.float("l2").map_err(param_error)? as f32,
            seed: p.int("seed").map_err(param_error)?.max(0) as u64,
        },
        validation_share: p.float("validation_share").map_err(param_error)?,
        threshold: p.float("available_threshold").map_err(param_error)?,
    })
}

/// Strings to dense ids.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    /// The id of `s`, and whether it is new.
    fn id(&mut self, s: &str) -> (u32, bool) {
        if let Some(&id) = self.ids.get(s) {
            return (id, false);
        }
        let id = self.ids.len() as u32;
        self.ids.insert(s.to_string(), id);
        (id, true)
    }
}

#[derive(Clone, Copy)]
struct Exposure {
    rn: u32,
    item: u32,
    user: u32,
    context: u32,
    time_ms: i64,
    /// 0: not logged.
    position: u32,
    label: bool,
}

/// Everything read from the window, before features become rows.
#[derive(Default)]
struct Log {
    exposures: Vec<Exposure>,
    /// `(rn, item, time)` of positive behaviour.
    positives: Vec<(u32, u32, i64)>,
    /// Per `rn`: the query of its search.
    query_of_rn: Vec<u32>,
    rns: Interner,
    items: Interner,
    item_ids: Vec<String>,
    users: Interner,
    user_raw: Vec<RawFeature>,
    queries: Interner,
    query_raw: Vec<Vec<RawFeature>>,
    contexts: Interner,
    /// The last exposure's context and its id: the exposures of a page share theirs.
    last_context: Option<(Vec<(String, String)>, u32)>,
    context_raw: Vec<Vec<RawFeature>>,
}

impl Log {
    fn rn(&mut self, rn: &str) -> u32 {
        let (id, new) = self.rns.id(rn);
        if new {
            self.query_of_rn.push(NO_QUERY);
        }
        id
    }

    fn item(&mut self, item: &str) -> u32 {
        let (id, new) = self.items.id(item);
        if new {
            self.item_ids.push(item.to_string());
        }
        id
    }

    /// Takes in one event of the window.
    fn add(&mut self, e: &BehaviourEvent, positives: &HashSet<String>) {
        match e.bhv_type.as_str() {
            "search" => {
                let rn = self.rn(&e.rn);
                let (q, new) = self.queries.id(&e.raw_query);
                if new {
                    self.query_raw.push(query_features(&e.raw_query));
                }
                self.query_of_rn[rn as usize] = q;
            }
            // Behaviour on no item (or of a type this function does not read) labels nothing.
            _ if e.item_id.is_empty() => {}
            "expose" => {
                let rn = self.rn(&e.rn);
                let item = self.item(&e.item_id);
                let (user, new) = self.users.id(e.user());
                if new {
                    self.user_raw.push(user_feature(e.user()));
                }
                let context = match &self.last_context {
                    Some((last, id)) if *last == e.context => *id,
                    _ => {
                        let key: String = e
                            .context
                            .iter()
                            .map(|(k, v)| format!("{k}={v}\u{1}"))
                            .collect();
                        let (id, new) = self.contexts.id(&key);
                        if new {
                            self.context_raw.push(context_features(&e.context));
                        }
                        self.last_context = Some((e.context.clone(), id));
                        id
                    }
                };
                self.exposures.push(Exposure {
                    rn,
                    item,
                    user,
                    context,
                    time_ms: e.bhv_time_ms,
                    position: e.position.unwrap_or(0),
                    label: false,
                });
            }
            t if positives.contains(t) => {
                let rn = self.rn(&e.rn);
                let item = self.item(&e.item_id);
                self.positives.push((rn, item, e.bhv_time_ms));
            }
            _ => {}
        }
    }

    /// Labels every exposure and keeps one of each `(rn, item)`; then orders them by time.
    fn label(&mut self, attribution_ms: i64) {
        self.exposures
            .sort_unstable_by_key(|e| (e.rn, e.item, e.time_ms));
        self.exposures
            .dedup_by(|later, first| later.rn == first.rn && later.item == first.item);
        self.positives.sort_unstable();
        let mut p = 0;
        for e in &mut self.exposures {
            while p < self.positives.len()
                && (self.positives[p].0, self.positives[p].1) < (e.rn, e.item)
            {
                p += 1;
            }
            let mut q = p;
            while q < self.positives.len()
                && (self.positives[q].0, self.positives[q].1) == (e.rn, e.item)
            {
                let t = self.positives[q].2;
                if t >= e.time_ms && t <= e.time_ms + attribution_ms {
                    e.label = true;
                    break;
                }
                q += 1;
            }
        }
        self.exposures.sort_by_key(|e| (e.time_ms, e.rn, e.item));
    }
}

/// Feature rows of every entity, flat.
#[derive(Default)]
struct Table {
    start: Vec<u32>,
    active: Vec<Active>,
}

impl Table {
    fn push(&mut self, raw: &[RawFeature], row_of: &dyn Fn(Field, u64) -> u32) {
        if self.start.is_empty() {
            self.start.push(0);
        }
        activate(raw, row_of, &mut self.active);
        self.start.push(self.active.len() as u32);
    }

    fn get(&self, i: u32) -> &[Active] {
        let i = i as usize;
        &self.active[self.start[i] as usize..self.start[i + 1] as usize]
    }
}

/// The examples as the learners read them.
struct ExampleSet<'a> {
    exposures: &'a [Exposure],
    query_of_rn: &'a [u32],
    users: Table,
    items: Table,
    queries: Table,
    contexts: Table,
    /// Row of each position `0..=MAX_POSITION` (0: none).
    positions: Vec<Option<Active>>,
}

impl Examples for ExampleSet<'_> {
    fn features(&self, i: usize, out: &mut Vec<Active>) {
        out.clear();
        let e = &self.exposures[i];
        out.extend_from_slice(self.users.get(e.user));
        out.extend_from_slice(self.items.get(e.item));
        let q = self.query_of_rn[e.rn as usize];
        if q != NO_QUERY {
            out.extend_from_slice(self.queries.get(q));
        }
        if let Some(p) = self.positions[e.position.min(MAX_POSITION) as usize] {
            out.push(p);
        }
        out.extend_from_slice(self.contexts.get(e.context));
    }

    fn label(&self, i: usize) -> bool {
        self.exposures[i].label
    }
}

/// The vocabulary: `(field, key)` of every value seen at least `min_count` times, in a deterministic order.
fn vocabulary(counts: HashMap<(u8, u64), u64>, min_count: u32) -> Vec<(u8, u64)> {
    let mut kept: Vec<(u8, u64)> = counts
        .into_iter()
        .filter(|&(_, n)| n >= u64::from(min_count))
        .map(|(k, _)| k)
        .collect();
    kept.sort_unstable();
    kept
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&p| f64::from(p)).sum::<f64>() / v.len().max(1) as f64
}

impl Trainer for CtrTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let started = std::time::Instant::now();
        let params = params(job)?;
        let eval_start = job.now_ms - params.holdout_days * DAY_MS;
        let train_start = job.now_ms - params.window_days * DAY_MS;
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
        let window = Window {
            from_ms: train_start,
            to_ms: job.now_ms,
        };
        steps.for_each_event(job.data, window, |e| log.add(e, &params.positives))?;

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
                params.window_days - params.holdout_days,
                params.holdout_days
            )));
        }
        let holdout = &exposures[trained..];
        let holdout_clicks = holdout.iter().filter(|e| e.label).count();
        if holdout_clicks == 0 || holdout_clicks == holdout.len() {
            return Err(TrainError::InsufficientData(format!(
                "the held-out last {} days have {} exposures and {holdout_clicks} clicks: both clicked and \
                 unclicked exposures are needed to evaluate",
                params.holdout_days,
                holdout.len()
            )));
        }
        let fit_len = ((trained as f64) * (1.0 - params.validation_share)).round() as usize;
        let fit_len = fit_len.clamp(1, trained - 1);

        // Vocabulary from the fitted examples only.
        let (mut user_n, mut item_n, mut query_n, mut context_n) = (
            vec![0u64; log.user_raw.len()],
            vec![0u64; log.item_ids.len()],
            vec![0u64; log.query_raw.len()],
            vec![0u64; log.context_raw.len()],
        );
        let mut position_n = [0u64; MAX_POSITION as usize + 1];
        for e in &exposures[..fit_len] {
            user_n[e.user as usize] += 1;
            item_n[e.item as usize] += 1;
            let q = log.query_of_rn[e.rn as usize];
            if q != NO_QUERY {
                query_n[q as usize] += 1;
            }
            context_n[e.context as usize] += 1;
            position_n[e.position.min(MAX_POSITION) as usize] += 1;
        }
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
        let mut value_counts: HashMap<(u8, u64), u64> = HashMap::new();
        let mut count = |raw: &[RawFeature], n: u64| {
            if n > 0 {
                for &(f, k) in raw {
                    *value_counts.entry((f as u8, k)).or_default() += n;
                }
            }
        };
        for (raw, &n) in log.user_raw.iter().zip(&user_n) {
            count(std::slice::from_ref(raw), n);
        }
        for (raw, &n) in item_raw.iter().zip(&item_n) {
            count(raw, n);
        }
        for (raw, &n) in log.query_raw.iter().zip(&query_n) {
            count(raw, n);
        }
        for (raw, &n) in log.context_raw.iter().zip(&context_n) {
            count(raw, n);
        }
        for (p, &n) in position_n.iter().enumerate().skip(1) {
            count(&[position_feature(p as u32)], n);
        }
        let vocabulary = vocabulary(value_counts, params.min_count);
        let row_index: HashMap<(u8, u64), u32> = vocabulary
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, (FIELDS + i) as u32))
            .collect();
        let row_of = |f: Field, k: u64| row_index.get(&(f as u8, k)).copied().unwrap_or(f as u32);
        let rows = FIELDS + vocabulary.len();

        let mut set = ExampleSet {
            exposures,
            query_of_rn: &log.query_of_rn,
            users: Table::default(),
            items: Table::default(),
            queries: Table::default(),
            contexts: Table::default(),
            positions: (0..=MAX_POSITION)
                .map(|p| {
                    (p > 0).then(|| {
                        let (f, k) = position_feature(p);
                        Active {
                            index: row_of(f, k),
                            field: f as u8,
                            x: 1.0,
                        }
                    })
                })
                .collect(),
        };
        for raw in &log.user_raw {
            set.users.push(std::slice::from_ref(raw), &row_of);
        }
        for raw in &item_raw {
            set.items.push(raw, &row_of);
        }
        for raw in &log.query_raw {
            set.queries.push(raw, &row_of);
        }
        for raw in &log.context_raw {
            set.contexts.push(raw, &row_of);
        }
        // Tables for zero entities would have no start offset.
        for t in [
            &mut set.users,
            &mut set.items,
            &mut set.queries,
            &mut set.contexts,
        ] {
            if t.start.is_empty() {
                t.start.push(0);
            }
        }

        let examples_s = started.elapsed().as_secs_f64() - read_s;
        // Train the model and the logistic-regression baseline side by side.
        let fit = pages(exposures, 0..fit_len);
        let validation = pages(exposures, fit_len..trained);
        let held_out: Vec<u32> = (trained as u32..exposures.len() as u32).collect();
        let lr_config = TrainConfig { k: 0, ..params.ffm };
        let stop = AtomicBool::new(false);
        steps.enter(TRAINING)?;
        let (ffm, ffm_s, lr) = std::thread::scope(|s| {
            let lr = s.spawn(|| {
                let t = std::time::Instant::now();
                let lr = ffm::train(rows, lr_config, &set, &fit, &validation, &mut |_| {
                    !stop.load(Ordering::Relaxed)
                });
                (lr, t.elapsed().as_secs_f64())
            });
            let t = std::time::Instant::now();
            let ffm = ffm::train(rows, params.ffm, &set, &fit, &validation, &mut |done| {
                let ok = steps.fraction(done).is_ok();
                if !ok {
                    stop.store(true, Ordering::Relaxed);
                }
                ok
            });
            if ffm.is_none() {
                stop.store(true, Ordering::Relaxed);
            }
            let ffm_s = t.elapsed().as_secs_f64();
            (ffm, ffm_s, lr.join())
        });
        let (weights, report) = ffm.ok_or(TrainError::Cancelled)?;
        let (lr, lr_s) =
            lr.map_err(|_| TrainError::Failed("the baseline trainer panicked".into()))?;
        let (lr_weights, lr_report) = lr.ok_or(TrainError::Cancelled)?;
        let evaluation_started = std::time::Instant::now();
        steps.enter(EVALUATING)?;

        // Held-out evaluation at the logged positions.
        let labels: Vec<bool> = holdout.iter().map(|e| e.label).collect();
        let predict = |w: &Weights| -> Vec<f32> {
            let mut scratch = ffm::Scratch::new(w.k);
            let mut buf = Vec::new();
            held_out
                .iter()
                .map(|&i| {
                    set.features(i as usize, &mut buf);
                    w.predict(&buf, &mut scratch)
                })
                .collect()
        };
        let model_p = predict(&weights);
        let lr_p = predict(&lr_weights);
        let pop_p = popularity_baseline(&exposures[..trained], holdout, log.item_ids.len());

        let model_auc = auc(&model_p, &labels).unwrap_or(0.5);
        let observed = holdout_clicks as f64 / holdout.len() as f64;
        let passed = model_auc >= params.threshold;
        let mut metrics = Map::new();
        let mut put = |k: &str, v: Value| {
            metrics.insert(k.into(), v);
        };
        let round = |x: f64| (x * 1e4).round() / 1e4;
        put("auc", json!(round(model_auc)));
        put("logloss", json!(logloss(&model_p, &labels).map(round)));
        put("mean_predicted_ctr", json!(round(mean(&model_p))));
        put("observed_ctr", json!(round(observed)));
        put("calibration", json!(round(mean(&model_p) / observed)));
        put("baseline_lr_auc", json!(auc(&lr_p, &labels).map(round)));
        put(
            "baseline_lr_logloss",
            json!(logloss(&lr_p, &labels).map(round)),
        );
        put("baseline_pop_auc", json!(auc(&pop_p, &labels).map(round)));
        put(
            "baseline_pop_logloss",
            json!(logloss(&pop_p, &labels).map(round)),
        );
        put("examples_fit", json!(fit_len));
        put("examples_validation", json!(trained - fit_len));
        put("examples_holdout", json!(holdout.len()));
        put("clicks_holdout", json!(holdout_clicks));
        put("epochs_run", json!(report.epochs_run));
        put("best_epoch", json!(report.best_epoch));
        put(
            "validation_logloss",
            json!(
                report
                    .validation_logloss
                    .iter()
                    .map(|&l| round(l))
                    .collect::<Vec<_>>()
            ),
        );
        put("baseline_lr_best_epoch", json!(lr_report.best_epoch));
        put("feature_rows", json!(rows));
        put("latent_dim", json!(params.ffm.k));
        put("evaluated_at", json!("logged positions"));
        put(
            "quality_gate",
            json!(if passed {
                format!(
                    "passed: held-out AUC {} ≥ available_threshold {}",
                    round(model_auc),
                    params.threshold
                )
            } else {
                format!(
                    "not passed: held-out AUC {} < available_threshold {}; this generation does not serve",
                    round(model_auc),
                    params.threshold
                )
            }),
        );

        steps.enter(WRITING)?;
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
        let stored = Stored {
            item_fields: params.item_fields.clone(),
            weights,
            vocabulary,
            items,
        };
        let artifact = model::encode(&stored).map_err(|e| TrainError::Failed(e.to_string()))?;
        metrics.insert(
            "seconds".into(),
            json!({
                "reading": round(read_s),
                "examples": round(examples_s),
                "model": round(ffm_s),
                "baseline_lr": round(lr_s),
                "evaluation_and_writing": round(evaluation_started.elapsed().as_secs_f64()),
                "total": round(started.elapsed().as_secs_f64()),
            }),
        );
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics,
            passed_quality_gate: passed,
        })
    }
}

/// The exposures of `range` cut into runs of one result page (the same `rn`).
fn pages(exposures: &[Exposure], range: Range<usize>) -> Vec<Range<u32>> {
    let mut out = Vec::new();
    let mut start = range.start;
    for i in range.clone() {
        if i + 1 == range.end || exposures[i + 1].rn != exposures[i].rn {
            out.push(start as u32..i as u32 + 1);
            start = i + 1;
        }
    }
    out
}

/// Each held-out exposure scored by its item's training click-through rate, smoothed towards the average.
fn popularity_baseline(trained: &[Exposure], holdout: &[Exposure], items: usize) -> Vec<f32> {
    let mut shown = vec![0u32; items];
    let mut clicked = vec![0u32; items];
    for e in trained {
        shown[e.item as usize] += 1;
        clicked[e.item as usize] += u32::from(e.label);
    }
    let average = clicked.iter().map(|&c| f64::from(c)).sum::<f64>() / trained.len().max(1) as f64;
    holdout
        .iter()
        .map(|e| {
            let i = e.item as usize;
            ((f64::from(clicked[i]) + POP_SMOOTHING * average)
                / (f64::from(shown[i]) + POP_SMOOTHING)) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_790_000_000_000;

    fn event(kind: &str, rn: &str, item: &str, at: i64) -> BehaviourEvent {
        BehaviourEvent {
            user_id: "u1".into(),
            imei: String::new(),
            biz_id: String::new(),
            trace_id: String::new(),
            rn: rn.into(),
            item_id: item.into(),
            item_type: "item".into(),
            bhv_type: kind.into(),
            bhv_time_ms: at,
            reach_time_ms: at,
            raw_query: if kind == "search" {
                "Red Dress".into()
            } else {
                String::new()
            },
            hits: None,
            position: (kind == "expose").then_some(1),
            context: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// `(rn, item)` → (clicked, has a query).
    type Labels = HashMap<(String, String), (bool, bool)>;

    /// Labels by `(rn, item)` after the hand-made events.
    fn labelled(events: &[BehaviourEvent]) -> (Log, Labels) {
        let positives: HashSet<String> = ["click", "buy"].iter().map(|s| s.to_string()).collect();
        let mut log = Log::default();
        for e in events {
            log.add(e, &positives);
        }
        log.label(30 * 60_000);
        let rns: HashMap<u32, String> = log.rns.ids.iter().map(|(k, &v)| (v, k.clone())).collect();
        let out = log
            .exposures
            .iter()
            .map(|e| {
                (
                    (rns[&e.rn].clone(), log.item_ids[e.item as usize].clone()),
                    (e.label, log.query_of_rn[e.rn as usize] != NO_QUERY),
                )
            })
            .collect();
        (log, out)
    }

    #[test]
    fn exposures_are_joined_to_their_search_and_later_clicks() {
        let minute = 60_000;
        let events = [
            event("search", "r1", "", T),
            event("expose", "r1", "a", T + 1),
            event("expose", "r1", "b", T + 1),
            event("expose", "r1", "c", T + 1),
            event("expose", "r1", "d", T + 1),
            // A click on a, a late click on b (outside the 30-minute window), a buy on c (a positive type), a
            // cart on d (not one).
            event("click", "r1", "a", T + 5_000),
            event("click", "r1", "b", T + 31 * minute),
            event("buy", "r1", "c", T + 10 * minute),
            event("cart", "r1", "d", T + 2 * minute),
            // A click without an exposure labels nothing and makes no example.
            event("click", "r1", "zz", T + 5_000),
            // An exposure whose search is not in the window, clicked: an example without a query.
            event("expose", "r2", "a", T + 2),
            event("click", "r2", "a", T + 3_000),
            // The same exposure logged twice, and a click before the exposure (clock skew) that does not count.
            event("click", "r3", "e", T),
            event("expose", "r3", "e", T + 10),
            event("expose", "r3", "e", T + 10),
        ];
        let (log, examples) = labelled(&events);
        assert_eq!(log.exposures.len(), 6, "{examples:?}");
        let label = |rn: &str, item: &str| examples[&(rn.to_string(), item.to_string())];
        assert_eq!(label("r1", "a"), (true, true));
        assert_eq!(label("r1", "b"), (false, true), "late click");
        assert_eq!(label("r1", "c"), (true, true), "buy is positive");
        assert_eq!(label("r1", "d"), (false, true), "cart is not");
        assert_eq!(label("r2", "a"), (true, false), "no search in the window");
        assert_eq!(
            label("r3", "e"),
            (false, false),
            "click before the exposure"
        );
        assert!(!examples.contains_key(&("r1".to_string(), "zz".to_string())));
        // Examples are in time order for the split.
        assert!(
            log.exposures
                .windows(2)
                .all(|w| w[0].time_ms <= w[1].time_ms)
        );
    }

    #[test]
    fn the_vocabulary_keeps_frequent_values_in_a_fixed_order() {
        let counts: HashMap<(u8, u64), u64> = [((1, 9), 5), ((0, 7), 9), ((1, 3), 4), ((0, 2), 5)]
            .into_iter()
            .collect();
        assert_eq!(vocabulary(counts, 5), vec![(0, 2), (0, 7), (1, 9)]);
    }
}
