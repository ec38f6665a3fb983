//! `hot`: the top searches of the window by searches (pv) or distinct searchers (uv), tagged by growth.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::DAY_MS;
use serde_json::{Map, json};

use super::model::{ListOrder, ListedQuery, MAX_HIT, QueryListModel};
use super::{ListSettings, insert_log_stats, ranked, rounded, tag};
use crate::query::log::{QueryCount, QueryLog};
use crate::scan::{Scan, param_error};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

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

fn build_hot(
    log: &QueryLog,
    settings: &ListSettings,
    to: i64,
    rising_ratio: f64,
    default_uv: bool,
) -> HotList {
    let window = settings.window_ms();
    let (kept, _) = log.kept(to - window, to, settings.filter);
    let counts = log.counts(&kept, to, None);
    // For the evaluated model the window before may start before the log does: its tags are then partial, and
    // unused (the evaluation compares lists, not tags).
    let (before_kept, _) = log.kept(to - 2 * window, to - window, settings.filter);
    let before = log.counts(&before_kept, to - window, None);
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

impl Trainer for HotTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let settings = ListSettings::read(job)?;
        let p = job.parameters;
        let rising_ratio = p.float("rising_ratio").map_err(param_error)?;
        let default_uv = p.get("sort_type").map_err(param_error)? == "uv";
        let window = settings.window_ms();
        let holdout_start = job.now_ms - settings.holdout_days * DAY_MS;
        let mut scan = Scan::new(progress);
        // Two windows: tags compare with the window before.
        let log = QueryLog::read(
            job.data,
            job.now_ms - 2 * window,
            job.now_ms,
            &mut scan,
            (1, 80),
        )?;
        settings.check_ready(Function::Hot, &log, job.now_ms - window, job.now_ms)?;

        scan.step("evaluating on held-out days", 80)?;
        let evaluated = build_hot(&log, &settings, holdout_start, rising_ratio, default_uv);
        let (held_out, _) = log.kept(holdout_start, job.now_ms, settings.filter);
        let held_out_counts = log.counts(&held_out, job.now_ms, None);
        let key = |c: &QueryCount| {
            if default_uv {
                (c.users, c.searches)
            } else {
                (c.searches, c.users)
            }
        };
        let real: Vec<u32> = ranked(&log, &held_out_counts, key)
            .into_iter()
            .filter(|id| settings.listable(log.query(*id)))
            .collect();
        let mut metrics = Map::new();
        for k in [10, 30] {
            let predicted = &evaluated.order[..evaluated.order.len().min(k)];
            let real = &real[..real.len().min(k)];
            metrics.insert(
                format!("holdout_top{k}_overlap"),
                json!(overlap(predicted, real).map(rounded)),
            );
        }
        metrics.insert("holdout_searches".into(), json!(held_out.len()));

        scan.step("ranking queries", 90)?;
        let served = build_hot(&log, &settings, job.now_ms, rising_ratio, default_uv);
        let (kept, capped) = log.kept(job.now_ms - window, job.now_ms, settings.filter);
        metrics.insert("searches_counted".into(), json!(kept.len()));
        metrics.insert("searches_capped_as_spam".into(), json!(capped));
        metrics.insert("distinct_queries".into(), json!(log.query_count()));
        metrics.insert(
            "listed".into(),
            json!(served.model.top(MAX_HIT, ListOrder::Default, None).len()),
        );
        insert_log_stats(&mut metrics, &log);
        Ok(TrainedModel {
            artifact: served.model.encode()?,
            metrics,
            passed_quality_gate: true,
        })
    }
}
