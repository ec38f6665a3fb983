//! `hint`: queries ranked by fresh popularity and take-up, personalised for known users by `near_realtime`.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::DAY_MS;

use super::model::{ListedQuery, MAX_HIT, QueryListModel};
use super::personal::{Categories, insert_personal_metrics, personalise, read_categories};
use super::{ListSettings, insert_window_stats, read_log, tag};
use crate::evaluation::{Metrics, share};
use crate::held_out::{EVALUATING, Evaluation, HeldOutSplit, REFITTING, Window};
use crate::progress::{Step, Steps, step};
use crate::query::log::{QueryLog, READING_LOG};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

const READING_CATEGORIES: &str = "reading item categories";
const PLAN: &[Step] = &[
    step(READING_CATEGORIES, 5),
    step(READING_LOG, 70),
    step(EVALUATING, 15),
    step(REFITTING, 10),
];

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
    window: Window,
    half_life_ms: f64,
    categories: Option<&Categories>,
) -> HintList {
    let to = window.to_ms;
    let (kept, _) = log.kept(window.from_ms, to, settings.filter);
    let counts = log.counts(&kept, to, Some(half_life_ms));
    let before = window.before();
    let (before_kept, _) = log.kept(before.from_ms, before.to_ms, settings.filter);
    let before = log.counts(&before_kept, before.to_ms, None);
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

/// How many held-out searches the hints fitted before them cover, and how the personal ones did.
fn score(
    log: &QueryLog,
    settings: &ListSettings,
    evaluated: &HintList,
    evaluation: Evaluation,
    personal: bool,
) -> Metrics {
    let held_out = evaluation.held_out;
    let (searches, _) = log.kept(held_out.from_ms, held_out.to_ms, settings.filter);
    let mut metrics = Metrics::default();
    metrics.put("holdout_searches", searches.len());
    for k in [3, 10] {
        let hinted: HashSet<u32> = evaluated.order.iter().take(k).copied().collect();
        let covered = searches
            .iter()
            .filter(|&&s| hinted.contains(&log.searches[s as usize].query))
            .count();
        metrics.put(
            format!("holdout_coverage_at_{k}"),
            share(covered as u64, searches.len() as u64),
        );
    }
    if personal {
        insert_personal_metrics(&mut metrics, log, &searches, &evaluated.model);
    }
    metrics
}

impl Trainer for HintTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let split = HeldOutSplit::read(job)?;
        let settings = ListSettings::read(job)?;
        let half_life_ms = job.params().float("half_life_days")? * DAY_MS as f64;
        let personal = job.model_type == "near_realtime";
        let mut steps = Steps::new(progress, PLAN);
        let categories = if personal {
            steps.enter(READING_CATEGORIES)?;
            Some(read_categories(job, &mut steps)?)
        } else {
            None
        };
        let log = read_log(Function::Hint, job, &split, &mut steps)?;
        let (served, mut metrics) = split.evaluate_then_refit(
            &mut steps,
            |fit| {
                Ok(build_hint(
                    &log,
                    &settings,
                    fit.window(),
                    half_life_ms,
                    categories.as_ref(),
                ))
            },
            |evaluated, evaluation| Ok(score(&log, &settings, evaluated, evaluation, personal)),
        )?;
        insert_window_stats(&mut metrics, &log, &settings, split.whole_window());
        metrics.put("listed", served.model.len());
        if personal {
            metrics.put("user_profiles", served.model.profiles.len());
        }
        let artifact = served.model.encode()?;
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into(),
            passed_quality_gate: true,
        })
    }
}
