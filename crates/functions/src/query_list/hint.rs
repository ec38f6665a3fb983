//! `hint`: queries ranked by fresh popularity and take-up, personalised for known users by `near_realtime`.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::DAY_MS;
use serde_json::{Map, json};

use super::model::{ListedQuery, MAX_HIT, QueryListModel};
use super::personal::{Categories, insert_personal_metrics, personalise, read_categories};
use super::{ListSettings, insert_log_stats, rounded, tag};
use crate::query::log::QueryLog;
use crate::scan::{Scan, param_error};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

/// Pseudo-searches pulling a query's click-through towards the average.
const CTR_PSEUDO_SEARCHES: f64 = 10.0;

/// Growth from which a hint is tagged rising (`hot` has its `rising_ratio` parameter).
const HINT_RISING_RATIO: f64 = 2.0;

pub struct HintTrainer;

struct HintList {
    model: QueryListModel,
    /// Query ids of the overall list, best first, without the pinned ones.
    order: Vec<u32>,
}

fn build_hint(
    log: &QueryLog,
    settings: &ListSettings,
    to: i64,
    half_life_ms: f64,
    categories: Option<&Categories>,
) -> HintList {
    let window = settings.window_ms();
    let (kept, _) = log.kept(to - window, to, settings.filter);
    let counts = log.counts(&kept, to, Some(half_life_ms));
    let (before_kept, _) = log.kept(to - 2 * window, to - window, settings.filter);
    let before = log.counts(&before_kept, to - window, None);
    let (searches, clicked) = counts.iter().fold((0u64, 0u64), |(s, c), q| {
        (s + u64::from(q.searches), c + u64::from(q.clicked))
    });
    // Without any click joined there is no take-up to weigh by: fresh popularity alone ranks.
    let average_ctr = (searches > 0 && clicked > 0).then(|| clicked as f64 / searches as f64);
    let score: Vec<f64> = counts
        .iter()
        .map(|c| match average_ctr {
            Some(average) => {
                let ctr = (f64::from(c.clicked) + CTR_PSEUDO_SEARCHES * average)
                    / (f64::from(c.searches) + CTR_PSEUDO_SEARCHES);
                c.weight * ctr / average
            }
            None => c.weight,
        })
        .collect();
    let mut ids: Vec<u32> = (0..counts.len() as u32)
        .filter(|&id| counts[id as usize].searches > 0 && settings.listable(log.query(id)))
        .collect();
    ids.sort_by(|&a, &b| {
        score[b as usize]
            .total_cmp(&score[a as usize])
            .then_with(|| log.query(a).cmp(log.query(b)))
    });

    let mut model = QueryListModel::default();
    model.pin(&settings.whitelist, log, &counts);
    let mut index: HashMap<u32, u32> = HashMap::new();
    let mut entry_of = |model: &mut QueryListModel, index: &mut HashMap<u32, u32>, id: u32| {
        let c = counts[id as usize];
        model.entry(index, id, || ListedQuery {
            query: log.display(id).to_string(),
            pv: u64::from(c.searches),
            uv: u64::from(c.users),
            tags: tag(&c, before.get(id as usize), HINT_RISING_RATIO),
        })
    };
    let order: Vec<u32> = ids.iter().copied().take(MAX_HIT).collect();
    model.by_pv = order
        .iter()
        .map(|&id| entry_of(&mut model, &mut index, id))
        .collect();

    if let Some(categories) = categories {
        personalise(
            &mut model,
            &mut index,
            &mut entry_of,
            log,
            &kept,
            categories,
            (to, half_life_ms),
            (&ids, &score),
        );
    }
    HintList { model, order }
}

impl Trainer for HintTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let settings = ListSettings::read(job)?;
        let half_life_ms = job
            .parameters
            .float("half_life_days")
            .map_err(param_error)?
            * DAY_MS as f64;
        let personal = job.model_type == "near_realtime";
        let window = settings.window_ms();
        let holdout_start = job.now_ms - settings.holdout_days * DAY_MS;
        let mut scan = Scan::new(progress);
        let categories = if personal {
            scan.step("reading item categories", 1)?;
            Some(read_categories(job, &mut scan)?)
        } else {
            None
        };
        let log = QueryLog::read(
            job.data,
            job.now_ms - 2 * window,
            job.now_ms,
            &mut scan,
            (5, 75),
        )?;
        settings.check_ready(Function::Hint, &log, job.now_ms - window, job.now_ms)?;

        scan.step("evaluating on held-out days", 75)?;
        let evaluated = build_hint(
            &log,
            &settings,
            holdout_start,
            half_life_ms,
            categories.as_ref(),
        );
        let (held_out, _) = log.kept(holdout_start, job.now_ms, settings.filter);
        let mut metrics = Map::new();
        metrics.insert("holdout_searches".into(), json!(held_out.len()));
        for k in [3, 10] {
            let hinted: HashSet<u32> = evaluated.order.iter().take(k).copied().collect();
            let covered = held_out
                .iter()
                .filter(|&&s| hinted.contains(&log.searches[s as usize].query))
                .count();
            metrics.insert(
                format!("holdout_coverage_at_{k}"),
                json!(
                    (!held_out.is_empty()).then(|| rounded(covered as f64 / held_out.len() as f64))
                ),
            );
        }
        if personal {
            insert_personal_metrics(&mut metrics, &log, &held_out, &evaluated.model);
        }

        scan.step("ranking queries", 90)?;
        let served = build_hint(
            &log,
            &settings,
            job.now_ms,
            half_life_ms,
            categories.as_ref(),
        );
        let (kept, capped) = log.kept(job.now_ms - window, job.now_ms, settings.filter);
        metrics.insert("searches_counted".into(), json!(kept.len()));
        metrics.insert("searches_capped_as_spam".into(), json!(capped));
        metrics.insert("distinct_queries".into(), json!(log.query_count()));
        metrics.insert("listed".into(), json!(served.model.len()));
        if personal {
            metrics.insert("user_profiles".into(), json!(served.model.profiles.len()));
        }
        insert_log_stats(&mut metrics, &log);
        Ok(TrainedModel {
            artifact: served.model.encode()?,
            metrics,
            passed_quality_gate: true,
        })
    }
}
