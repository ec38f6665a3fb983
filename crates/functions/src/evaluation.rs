//! What a trained generation's evaluation reports: the metrics as they go to `ExtendInfo` ([`Metrics`], every
//! figure [`rounded`] alike) and the ranking measures computed on held-out data.

use serde_json::{Map, Value};

/// The metrics of a generation, by name, as they go to `ExtendInfo`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics(Map<String, Value>);

impl Metrics {
    pub fn put(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(name.into(), value.into());
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl From<Metrics> for Map<String, Value> {
    fn from(metrics: Metrics) -> Self {
        metrics.0
    }
}

/// A figure as metrics report it: four decimals.
pub fn rounded(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// `part / whole`, rounded; `None` when `whole` is 0.
pub fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| rounded(part as f64 / whole as f64))
}

/// Ranks of `values` (1-based, ties share their average rank).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = average;
        }
        i = j + 1;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 2 {
        return None;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

/// Spearman's rank correlation (ties averaged); `None` when either side is constant or too short.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&ranks(x), &ranks(y))
}

/// NDCG@k of ordering items by `scores` (descending) when their true gains are `gains`.
pub fn ndcg_at(k: usize, scores: &[f64], gains: &[f64]) -> Option<f64> {
    let dcg = |order: &[usize]| -> f64 {
        order
            .iter()
            .take(k)
            .enumerate()
            .map(|(rank, &i)| gains[i] / ((rank + 2) as f64).log2())
            .sum()
    };
    let mut by_score: Vec<usize> = (0..scores.len()).collect();
    // Ties are broken against the model (lowest gain first) so that a constant score earns no credit.
    by_score.sort_by(|&a, &b| {
        scores[b]
            .total_cmp(&scores[a])
            .then(gains[a].total_cmp(&gains[b]))
    });
    let mut ideal: Vec<usize> = (0..gains.len()).collect();
    ideal.sort_by(|&a, &b| gains[b].total_cmp(&gains[a]));
    let best = dcg(&ideal);
    (best > 0.0).then(|| dcg(&by_score) / best)
}

/// Area under the ROC curve of `scores` for binary `labels` (ties count half); `None` without both classes.
pub fn auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Rank sum of the positives, ties sharing their average rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        let tied_positives = order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        rank_sum += average * tied_positives;
        i = j + 1;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Mean negative log-likelihood of `labels` under the probabilities `p` (clamped away from 0 and 1).
pub fn logloss(p: &[f32], labels: &[bool]) -> Option<f64> {
    if p.is_empty() {
        return None;
    }
    let sum: f64 = p
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = f64::from(p).clamp(1e-7, 1.0 - 1e-7);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    Some(sum / p.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_known_cases() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        // Ties get average ranks: x ranks [1.5, 1.5, 3], y ranks [1, 2, 3].
        let r = spearman(&[5.0, 5.0, 9.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((r - 0.866_025).abs() < 1e-5, "{r}");
    }

    #[test]
    fn ndcg_is_one_for_the_ideal_order_and_lower_otherwise() {
        let gains = [3.0, 0.0, 1.0, 2.0];
        assert_eq!(ndcg_at(10, &[4.0, 1.0, 2.0, 3.0], &gains), Some(1.0));
        let reversed = ndcg_at(10, &[1.0, 4.0, 3.0, 2.0], &gains).unwrap();
        assert!(reversed < 0.8, "{reversed}");
        let constant = ndcg_at(10, &[1.0; 4], &gains).unwrap();
        assert!(constant < 1.0, "ties earn no credit: {constant}");
        assert_eq!(ndcg_at(10, &[1.0, 2.0], &[0.0, 0.0]), None);
    }
    #[test]
    fn auc_of_known_cases() {
        let labels = [false, true, false, true];
        assert_eq!(auc(&[0.1, 0.9, 0.2, 0.8], &labels), Some(1.0));
        assert_eq!(auc(&[0.9, 0.1, 0.8, 0.2], &labels), Some(0.0));
        assert_eq!(auc(&[0.5; 4], &labels), Some(0.5), "ties count half");
        // One positive above one negative of two: 3 of 4 pairs ordered right.
        assert_eq!(auc(&[0.1, 0.3, 0.4, 0.9], &labels), Some(0.75));
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn logloss_of_known_cases() {
        let l = logloss(&[0.5, 0.5], &[true, false]).unwrap();
        assert!((l - std::f64::consts::LN_2).abs() < 1e-9, "{l}");
        let confident = logloss(&[0.99, 0.01], &[true, false]).unwrap();
        assert!(confident < 0.02, "{confident}");
        assert!(logloss(&[1.0], &[false]).unwrap().is_finite(), "clamped");
    }
}
