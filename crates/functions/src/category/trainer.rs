//! The `category` trainer: the catalogue and the query log are read once; a model fitted on the window before
//! the held-out days is evaluated on them, and the served model is refit on the whole window.

use std::collections::HashMap;

use algocenter_domain::Function;
use algocenter_domain::data::WindowCounts;

use super::evaluation::evaluate;
use super::model::{CategoryModel, KEPT_PER_QUERY, parse_intervention};
use super::text::{Catalogue, TextModel, fit_text, read_catalogue};
use crate::held_out::{EVALUATING, HeldOutSplit, REFITTING, Window};
use crate::progress::{Step, Steps, step};
use crate::query::log::{LogFilter, QueryLog, READING_LOG};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob, ensure_ready};

const READING_ITEMS: &str = "reading items";
const PLAN: &[Step] = &[
    step(READING_ITEMS, 10),
    step(READING_LOG, 60),
    step(EVALUATING, 15),
    step(REFITTING, 15),
];

pub(super) struct CategorySettings {
    pub min_evidence: u32,
    pub smoothing: f64,
    pub filter: LogFilter,
}

/// Per query: clicks per category, from the kept searches of `window`.
pub(super) fn click_counts(
    log: &QueryLog,
    catalogue: &Catalogue,
    settings: &CategorySettings,
    window: Window,
) -> HashMap<u32, HashMap<u16, u32>> {
    let to = window.to_ms;
    let (kept, _) = log.kept(window.from_ms, to, settings.filter);
    let mut counts: HashMap<u32, HashMap<u16, u32>> = HashMap::new();
    for s in kept {
        let query = log.searches[s as usize].query;
        for click in log.clicks_of(s, to) {
            if let Some(&c) = catalogue.item_category.get(log.item(click.item)) {
                *counts.entry(query).or_default().entry(c).or_default() += 1;
            }
        }
    }
    counts
}

/// Trains a model on the clicks of `window` and the catalogue.
fn fit(
    log: &QueryLog,
    catalogue: &Catalogue,
    settings: &CategorySettings,
    window: Window,
    intervention: &HashMap<String, Vec<(String, u8)>>,
) -> CategoryModel {
    let clicks = click_counts(log, catalogue, settings, window);
    let TextModel {
        vocabulary,
        postings,
        prior,
        unseen,
    } = fit_text(catalogue, &clicks);
    let mut model = CategoryModel {
        categories: catalogue.categories.clone(),
        known: HashMap::new(),
        vocabulary,
        postings,
        prior,
        unseen,
        intervention: intervention.clone(),
    };

    // Queries with enough clicks: their clicks, smoothed towards the text model.
    let mut known = HashMap::new();
    for (&query, by_category) in &clicks {
        let total: u32 = by_category.values().sum();
        if total < settings.min_evidence {
            continue;
        }
        let normal = log.query(query);
        let text = model
            .text_distribution(normal)
            .unwrap_or_else(|| model.prior_distribution());
        let mut distribution: Vec<f64> = text
            .iter()
            .enumerate()
            .map(|(c, &p)| {
                let k = by_category.get(&(c as u16)).copied().unwrap_or(0);
                (f64::from(k) + settings.smoothing * p) / (f64::from(total) + settings.smoothing)
            })
            .collect();
        let sum: f64 = distribution.iter().sum();
        if sum > 0.0 {
            distribution.iter_mut().for_each(|p| *p /= sum);
        }
        known.insert(normal.to_string(), model.top(&distribution, KEPT_PER_QUERY));
    }
    model.known = known;
    model
}

pub struct CategoryTrainer;

impl Trainer for CategoryTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let p = job.params();
        let split = HeldOutSplit::read(job)?;
        let settings = CategorySettings {
            min_evidence: p.int("min_evidence")?.max(1) as u32,
            smoothing: p.float("smoothing")?,
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap")?.max(1) as u32,
                drop_no_result: false,
                drop_no_click: false,
            },
        };
        let intervention = match job.resource("intervention_dict") {
            Some(content) => parse_intervention(content).map_err(TrainError::Failed)?,
            None => HashMap::new(),
        };
        let mut steps = Steps::new(progress, PLAN);
        steps.enter(READING_ITEMS)?;
        let mut catalogue = read_catalogue(job, &mut steps)?;
        if catalogue.categories.is_empty() {
            return Err(TrainError::InsufficientData(format!(
                "no item has a '{}' attribute: the categories to predict come from the items",
                p.text("category_field")?
            )));
        }
        steps.enter(READING_LOG)?;
        let whole = split.whole_window();
        let read = Window {
            from_ms: split.evaluated_window().from_ms,
            to_ms: whole.to_ms,
        };
        let log = QueryLog::read(job.data, read, &mut steps)?;
        catalogue.add_text(&log);
        let joined_clicks = log
            .clicks
            .iter()
            .filter(|c| log.searches[c.search as usize].at_ms >= whole.from_ms)
            .count() as u64;
        let counts = WindowCounts {
            searches: log.searches_in(whole),
            clicks: joined_clicks,
            ..Default::default()
        };
        ensure_ready(
            Function::Category,
            &counts,
            format_args!(
                "(searches with a usable raw_query, and clicks joined to them by rn, in the last {} days)",
                split.window_days()
            ),
        )?;

        // Interventions apply to the served model only: the evaluation measures what was learned.
        let no_intervention = HashMap::new();
        let (served, mut metrics) = split.evaluate_then_refit(
            &mut steps,
            |fit_on| {
                let rules = if fit_on.is_served() {
                    &intervention
                } else {
                    &no_intervention
                };
                Ok(fit(&log, &catalogue, &settings, fit_on.window(), rules))
            },
            |evaluated, evaluation| {
                Ok(evaluate(evaluated, &log, &catalogue, &settings, evaluation))
            },
        )?;
        metrics.put("categories", served.category_count());
        metrics.put("queries_with_click_evidence", served.known_queries());
        metrics.put("vocabulary", served.vocabulary_size());
        metrics.put("intervention_queries", intervention.len());
        metrics.put("log_searches", log.stats.searches);
        metrics.put("unjoined_clicks", log.stats.unjoined_clicks);
        let artifact = served.encode()?;
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into(),
            passed_quality_gate: true,
        })
    }
}
