//! The `category` trainer: the catalogue and the query log are read once; a model fitted on the window before
//! the held-out days is evaluated on them, and the served model is refit on the whole window.

use std::collections::HashMap;

use algocenter_domain::Function;
use algocenter_domain::data::{DAY_MS, WindowCounts, readiness};
use serde_json::json;

use super::evaluation::evaluate;
use super::model::{CategoryModel, KEPT_PER_QUERY, parse_intervention};
use super::text::{Catalogue, TextModel, fit_text, read_catalogue};
use crate::query::log::{LogFilter, QueryLog};
use crate::scan::{Scan, param_error, window_days};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

pub(super) struct CategorySettings {
    pub window_days: i64,
    pub min_evidence: u32,
    pub smoothing: f64,
    pub filter: LogFilter,
}

/// Per query: clicks per category, from the kept searches of `[from, to)`.
pub(super) fn click_counts(
    log: &QueryLog,
    catalogue: &Catalogue,
    settings: &CategorySettings,
    from: i64,
    to: i64,
) -> HashMap<u32, HashMap<u16, u32>> {
    let (kept, _) = log.kept(from, to, settings.filter);
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

/// Trains a model on the clicks of `[to - window, to)` and the catalogue.
fn fit(
    log: &QueryLog,
    catalogue: &Catalogue,
    settings: &CategorySettings,
    to: i64,
    intervention: &HashMap<String, Vec<(String, u8)>>,
) -> CategoryModel {
    let clicks = click_counts(
        log,
        catalogue,
        settings,
        to - settings.window_days * DAY_MS,
        to,
    );
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
        let p = job.parameters;
        let (window_days, holdout_days) = window_days(p)?;
        let settings = CategorySettings {
            window_days,
            min_evidence: p.int("min_evidence").map_err(param_error)?.max(1) as u32,
            smoothing: p.float("smoothing").map_err(param_error)?,
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap").map_err(param_error)?.max(1) as u32,
                drop_no_result: false,
                drop_no_click: false,
            },
        };
        let intervention = match job.resource("intervention_dict") {
            Some(content) => parse_intervention(content).map_err(TrainError::Failed)?,
            None => HashMap::new(),
        };
        let window = window_days * DAY_MS;
        let holdout_start = job.now_ms - holdout_days * DAY_MS;
        let mut scan = Scan::new(progress);
        scan.step("reading items", 1)?;
        let mut catalogue = read_catalogue(job, &mut scan)?;
        if catalogue.categories.is_empty() {
            return Err(TrainError::InsufficientData(format!(
                "no item has a '{}' attribute: the categories to predict come from the items",
                p.get("category_field").map_err(param_error)?
            )));
        }
        let log = QueryLog::read(
            job.data,
            holdout_start - window,
            job.now_ms,
            &mut scan,
            (10, 70),
        )?;
        catalogue.add_text(&log);
        let searches = log
            .searches
            .iter()
            .filter(|s| s.at_ms >= job.now_ms - window)
            .count() as u64;
        let joined_clicks = log
            .clicks
            .iter()
            .filter(|c| log.searches[c.search as usize].at_ms >= job.now_ms - window)
            .count() as u64;
        let ready = readiness(
            Function::Category,
            &WindowCounts {
                searches,
                clicks: joined_clicks,
                ..Default::default()
            },
        );
        if !ready.ready {
            return Err(TrainError::InsufficientData(format!(
                "{} (searches with a usable raw_query, and clicks joined to them by rn, in the last {window_days} days)",
                ready.reason
            )));
        }

        scan.step("evaluating on held-out days", 70)?;
        let evaluated = fit(&log, &catalogue, &settings, holdout_start, &HashMap::new());
        let trained = click_counts(
            &log,
            &catalogue,
            &settings,
            holdout_start - window,
            holdout_start,
        );
        let mut metrics = evaluate(
            &evaluated,
            &log,
            &catalogue,
            &settings,
            (holdout_start, job.now_ms),
            &trained,
        );

        scan.step("fitting the served model", 85)?;
        let served = fit(&log, &catalogue, &settings, job.now_ms, &intervention);
        metrics.insert("categories".into(), json!(served.category_count()));
        metrics.insert(
            "queries_with_click_evidence".into(),
            json!(served.known_queries()),
        );
        metrics.insert("vocabulary".into(), json!(served.vocabulary_size()));
        metrics.insert("intervention_queries".into(), json!(intervention.len()));
        metrics.insert("log_searches".into(), json!(log.stats.searches));
        metrics.insert("unjoined_clicks".into(), json!(log.stats.unjoined_clicks));
        Ok(TrainedModel {
            artifact: served.encode()?,
            metrics,
            passed_quality_gate: true,
        })
    }
}
