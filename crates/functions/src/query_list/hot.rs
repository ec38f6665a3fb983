//! `hot`: the top searches of the window by searches (pv) or distinct searchers (uv), tagged by growth.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;

use super::model::{ListOrder, ListedQuery, MAX_HIT, QueryListModel};
use super::{ListSettings, insert_window_stats, ranked, read_log, tag};
use crate::evaluation::{Metrics, rounded};
use crate::held_out::{EVALUATING, Evaluation, HeldOutSplit, REFITTING, Window};
use crate::progress::{Step, Steps, step};
use crate::query::log::{QueryCount, QueryLog, READING_LOG};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

const PLAN: &[Step] = &[
    step(READING_LOG, 80),
    step(EVALUATING, 10),
    step(REFITTING, 10),
];

/// Share of the real top list the predicted list has, both cut to the real list's length (when the held-out
/// days have fewer queries than asked for, more guesses must not inflate the figure).
fn overlap(predicted: &[u32], real: &[u32]) -> Option<f64> {
    if real.is_empty() {
        return None;
    }
    let predicted = &predicted[..predicted.len().min(real.len())];
    let real: HashSet<u32> = real.iter().copied().collect();
    let hits = predicted.iter().filter(|id| real.contains(id)).count();
    Some(hits as f64 / real.len() as f64)
}

pub struct HotTrainer;

struct HotList {
    model: QueryListModel,
    /// The query ids listed by the default order, without the pinned ones.
    order: Vec<u32>,
}

/// The list of the searches of `window`, tagged against the window before it. For the evaluated list that
/// window may start before the log does: its tags are then partial, and unused (the evaluation compares lists,
/// not tags).
fn build_hot(
    log: &QueryLog,
    settings: &ListSettings,
    window: Window,
    rising_ratio: f64,
    default_uv: bool,
) -> HotList {
    let (kept, _) = log.kept(window.from_ms, window.to_ms, settings.filter);
    let counts = log.counts(&kept, window.to_ms, None);
    let before = window.before();
    let (before_kept, _) = log.kept(before.from_ms, before.to_ms, settings.filter);
    let before = log.counts(&before_kept, before.to_ms, None);
    let mut model = QueryListModel {
        default_uv,
        ..Default::default()
    };
    model.pin(&settings.whitelist, log, &counts);
    let listable = |id: &u32| settings.listable(log.query(*id));
    let by_pv: Vec<u32> = ranked(log, &counts, |c| (c.searches, c.users))
        .into_iter()
        .filter(listable)
        .take(MAX_HIT)
        .collect();
    let by_uv: Vec<u32> = ranked(log, &counts, |c| (c.users, c.searches))
        .into_iter()
        .filter(listable)
        .take(MAX_HIT)
        .collect();
    let mut index = HashMap::new();
    let mut entry_of = |model: &mut QueryListModel, id: u32| {
        let c = counts[id as usize];
        model.entry(&mut index, id, || ListedQuery {
            query: log.display(id).to_string(),
            pv: u64::from(c.searches),
            uv: u64::from(c.users),
            tags: tag(&c, before.get(id as usize), rising_ratio),
        })
    };
    model.by_pv = by_pv.iter().map(|&id| entry_of(&mut model, id)).collect();
    model.by_uv = by_uv.iter().map(|&id| entry_of(&mut model, id)).collect();
    HotList {
        model,
        order: if default_uv { by_uv } else { by_pv },
    }
}

/// How the list fitted before the held-out days overlaps their real top queries.
fn score(
    log: &QueryLog,
    settings: &ListSettings,
    evaluated: &HotList,
    evaluation: Evaluation,
    default_uv: bool,
) -> Metrics {
    let held_out = evaluation.held_out;
    let (searches, _) = log.kept(held_out.from_ms, held_out.to_ms, settings.filter);
    let held_out_counts = log.counts(&searches, held_out.to_ms, None);
    let key = |c: &QueryCount| {
        if default_uv {
            (c.users, c.searches)
        } else {
            (c.searches, c.users)
        }
    };
    let real: Vec<u32> = ranked(log, &held_out_counts, key)
        .into_iter()
        .filter(|id| settings.listable(log.query(*id)))
        .collect();
    let mut metrics = Metrics::default();
    for k in [10, 30] {
        let predicted = &evaluated.order[..evaluated.order.len().min(k)];
        let real = &real[..real.len().min(k)];
        metrics.put(
            format!("holdout_top{k}_overlap"),
            overlap(predicted, real).map(rounded),
        );
    }
    metrics.put("holdout_searches", searches.len());
    metrics
}

impl Trainer for HotTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let split = HeldOutSplit::read(job)?;
        let settings = ListSettings::read(job)?;
        let p = job.params();
        let rising_ratio = p.float("rising_ratio")?;
        let default_uv = p.text("sort_type")? == "uv";
        let mut steps = Steps::new(progress, PLAN);
        let log = read_log(Function::Hot, job, &split, &mut steps)?;
        let (served, mut metrics) = split.evaluate_then_refit(
            &mut steps,
            |fit| {
                Ok(build_hot(
                    &log,
                    &settings,
                    fit.window(),
                    rising_ratio,
                    default_uv,
                ))
            },
            |evaluated, evaluation| Ok(score(&log, &settings, evaluated, evaluation, default_uv)),
        )?;
        insert_window_stats(&mut metrics, &log, &settings, split.whole_window());
        metrics.put(
            "listed",
            served.model.top(MAX_HIT, ListOrder::Default, None).len(),
        );
        let artifact = served.model.encode()?;
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into(),
            passed_quality_gate: true,
        })
    }
}
