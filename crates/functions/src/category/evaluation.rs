//! How a `category` model fitted before the held-out days predicts the categories their clicks landed in.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::model::CategoryModel;
use super::text::Catalogue;
use super::trainer::{CategorySettings, click_counts};
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

pub(super) fn evaluate(
    model: &CategoryModel,
    log: &QueryLog,
    catalogue: &Catalogue,
    settings: &CategorySettings,
    holdout: (i64, i64),
    trained: &HashMap<u32, HashMap<u16, u32>>,
) -> Map<String, Value> {
    let truth = click_counts(log, catalogue, settings, holdout.0, holdout.1);
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
        } else if log.first_seen_ms(query) >= holdout.0 {
            t.unseen.0 += 1;
            t.unseen.1 += correct;
        }
    }
    let ratio =
        |a: u64, b: u64| (b > 0).then(|| ((a as f64 / b as f64) * 10_000.0).round() / 10_000.0);
    let mut metrics = Map::new();
    metrics.insert("holdout_queries".into(), json!(t.queries));
    metrics.insert("holdout_clicks".into(), json!(t.clicks));
    for (i, k) in [1, 3].into_iter().enumerate() {
        let precision = ratio(t.predicted_clicked[i], t.predicted[i]);
        let recall = ratio(t.clicks_covered[i], t.clicks);
        let f1 = match (precision, recall) {
            (Some(p), Some(r)) if p + r > 0.0 => {
                Some(((2.0 * p * r / (p + r)) * 10_000.0).round() / 10_000.0)
            }
            _ => None,
        };
        metrics.insert(format!("precision_at_{k}"), json!(precision));
        metrics.insert(format!("recall_at_{k}"), json!(recall));
        metrics.insert(format!("f1_at_{k}"), json!(f1));
    }
    metrics.insert(
        "recall".into(),
        json!(ratio(t.clicks_covered[1], t.clicks).map(|r| (r * 100.0).round() as i64)),
    );
    metrics.insert(
        "top1_accuracy_seen".into(),
        json!(ratio(t.seen.1, t.seen.0)),
    );
    metrics.insert("holdout_queries_seen".into(), json!(t.seen.0));
    metrics.insert(
        "top1_accuracy_unseen".into(),
        json!(ratio(t.unseen.1, t.unseen.0)),
    );
    metrics.insert("holdout_queries_unseen".into(), json!(t.unseen.0));
    metrics
}
