//! How a `category` model fitted before the held-out days predicts the categories their clicks landed in.

use std::collections::HashMap;

use super::model::CategoryModel;
use super::text::Catalogue;
use super::trainer::{CategorySettings, click_counts};
use crate::evaluation::{Metrics, rounded, share};
use crate::held_out::Evaluation;
use crate::query::log::QueryLog;

/// Predictions scored below this are not counted by the evaluation's precision.
const EVAL_MIN_SCORE: f32 = 0.05;

/// Sums of the evaluation.
#[derive(Default)]
struct Tally {
    queries: u64,
    clicks: u64,
    predicted: [u64; 2],
    predicted_clicked: [u64; 2],
    clicks_covered: [u64; 2],
    seen: (u64, u64),
    unseen: (u64, u64),
}

/// Predicts every query searched and clicked in the held-out days with the model fitted before them.
pub(super) fn evaluate(
    model: &CategoryModel,
    log: &QueryLog,
    catalogue: &Catalogue,
    settings: &CategorySettings,
    evaluation: Evaluation,
) -> Metrics {
    let trained: HashMap<u32, HashMap<u16, u32>> =
        click_counts(log, catalogue, settings, evaluation.fit);
    let truth = click_counts(log, catalogue, settings, evaluation.held_out);
    let mut t = Tally::default();
    for (&query, by_category) in &truth {
        let total: u32 = by_category.values().sum();
        if total == 0 {
            continue;
        }
        t.queries += 1;
        t.clicks += u64::from(total);
        // Compare by category name: the evaluated model numbers categories as the catalogue does.
        let prediction = model.predict(log.query(query), 3);
        let predicted: Vec<u16> = prediction
            .categories
            .iter()
            .filter(|(_, p)| *p >= EVAL_MIN_SCORE)
            .filter_map(|(name, _)| catalogue.category_ids.get(name).copied())
            .collect();
        for (i, k) in [1usize, 3].into_iter().enumerate() {
            let top = &predicted[..predicted.len().min(k)];
            t.predicted[i] += top.len() as u64;
            t.predicted_clicked[i] +=
                top.iter().filter(|c| by_category.contains_key(c)).count() as u64;
            t.clicks_covered[i] += top
                .iter()
                .map(|c| u64::from(by_category.get(c).copied().unwrap_or(0)))
                .sum::<u64>();
        }
        let majority = by_category
            .iter()
            .max_by_key(|(c, k)| (**k, std::cmp::Reverse(**c)))
            .map(|(c, _)| *c);
        let correct = u64::from(predicted.first().copied() == majority);
        let evidence: u32 = trained.get(&query).map_or(0, |m| m.values().sum());
        if evidence >= settings.min_evidence {
            t.seen.0 += 1;
            t.seen.1 += correct;
        } else if log.first_seen_ms(query) >= evaluation.held_out.from_ms {
            t.unseen.0 += 1;
            t.unseen.1 += correct;
        }
    }
    let mut metrics = Metrics::default();
    metrics.put("holdout_queries", t.queries);
    metrics.put("holdout_clicks", t.clicks);
    for (i, k) in [1, 3].into_iter().enumerate() {
        let precision = share(t.predicted_clicked[i], t.predicted[i]);
        let recall = share(t.clicks_covered[i], t.clicks);
        let f1 = match (precision, recall) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(rounded(2.0 * p * r / (p + r))),
            _ => None,
        };
        metrics.put(format!("precision_at_{k}"), precision);
        metrics.put(format!("recall_at_{k}"), recall);
        metrics.put(format!("f1_at_{k}"), f1);
    }
    // recall@3 in percent, as OpenSearch's `ExtendInfo` has it.
    metrics.put(
        "recall",
        share(t.clicks_covered[1], t.clicks).map(|r| (r * 100.0).round() as i64),
    );
    metrics.put("top1_accuracy_seen", share(t.seen.1, t.seen.0));
    metrics.put("holdout_queries_seen", t.seen.0);
    metrics.put("top1_accuracy_unseen", share(t.unseen.1, t.unseen.0));
    metrics.put("holdout_queries_unseen", t.unseen.0);
    metrics
}
