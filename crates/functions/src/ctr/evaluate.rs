//! Held-out figures that position cannot game, and the baselines scored next to the model.
//!
//! `auc` at the logged positions rewards a model for knowing that the first result gets clicked, which the
//! logged ranker already knew. [`auc_within_position`] compares only exposures shown at the same position, so it
//! measures what a model knows about relevance beyond the old order.

use serde_json::json;

use super::log::Exposure;
use crate::evaluation::{Metrics, auc, logloss};

/// Pseudo-exposures pulling an item's click-through rate towards the average (item click-through baseline).
const CTR_SMOOTHING: f64 = 20.0;

/// AUC computed among the exposures of each position, averaged with the exposures of each position as weights;
/// positions without both clicked and unclicked exposures are left out. `None` when no position has both.
pub fn auc_within_position(scores: &[f32], labels: &[bool], positions: &[u8]) -> Option<f64> {
    let mut by_position: Vec<(Vec<f32>, Vec<bool>)> = vec![(Vec::new(), Vec::new()); 256];
    for ((&s, &l), &p) in scores.iter().zip(labels).zip(positions) {
        let slot = &mut by_position[usize::from(p)];
        slot.0.push(s);
        slot.1.push(l);
    }
    let (mut sum, mut weight) = (0.0, 0.0);
    for (s, l) in &by_position {
        if let Some(a) = auc(s, l) {
            sum += a * s.len() as f64;
            weight += s.len() as f64;
        }
    }
    (weight > 0.0).then(|| sum / weight)
}

/// Each held-out exposure scored by its item's training click-through rate, smoothed towards the average.
pub fn item_ctr_baseline(trained: &[Exposure], holdout: &[Exposure], items: usize) -> Vec<f32> {
    let (shown, clicked) = counts(trained, items);
    let average = clicked.iter().map(|&c| f64::from(c)).sum::<f64>() / trained.len().max(1) as f64;
    holdout
        .iter()
        .map(|e| {
            let i = e.item as usize;
            ((f64::from(clicked[i]) + CTR_SMOOTHING * average)
                / (f64::from(shown[i]) + CTR_SMOOTHING)) as f32
        })
        .collect()
}

/// Each held-out exposure scored by its item's training clicks (a ranking, not a probability).
pub fn popularity_baseline(trained: &[Exposure], holdout: &[Exposure], items: usize) -> Vec<f32> {
    let (_, clicked) = counts(trained, items);
    holdout
        .iter()
        .map(|e| clicked[e.item as usize] as f32)
        .collect()
}

fn counts(trained: &[Exposure], items: usize) -> (Vec<u32>, Vec<u32>) {
    let mut shown = vec![0u32; items];
    let mut clicked = vec![0u32; items];
    for e in trained {
        shown[e.item as usize] += 1;
        clicked[e.item as usize] += u32::from(e.label);
    }
    (shown, clicked)
}

pub fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Writes `auc`, `auc_within_position` and (for probabilities) `logloss` of `scores` as `{prefix}auc`, ….
pub fn put_scores(
    metrics: &mut Metrics,
    prefix: &str,
    scores: &[f32],
    labels: &[bool],
    positions: &[u8],
    probabilities: bool,
) {
    metrics.put(
        format!("{prefix}auc"),
        json!(auc(scores, labels).map(round)),
    );
    metrics.put(
        format!("{prefix}auc_within_position"),
        json!(auc_within_position(scores, labels, positions).map(round)),
    );
    if probabilities {
        metrics.put(
            format!("{prefix}logloss"),
            json!(logloss(scores, labels).map(round)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_cannot_game_the_within_position_auc() {
        // A scorer that only knows the position: perfect at logged positions (clicks at 1, none at 2), but it
        // orders nothing within a position.
        let labels = [true, false, false, false, false, true, false, false];
        let positions = [1, 1, 2, 2, 1, 1, 2, 2];
        let by_position = [2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0];
        assert!(auc(&by_position, &labels).unwrap() > 0.7);
        assert_eq!(
            auc_within_position(&by_position, &labels, &positions),
            Some(0.5),
            "position 2 has no click and is left out"
        );
        // Within position 1 the right order: 1.0.
        let relevance = [0.9, 0.1, 0.5, 0.5, 0.2, 0.8, 0.5, 0.5];
        assert_eq!(
            auc_within_position(&relevance, &labels, &positions),
            Some(1.0)
        );
        assert_eq!(auc_within_position(&[0.1], &[true], &[1]), None);
    }
}
