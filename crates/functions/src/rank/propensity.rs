//! Examination propensities of the logged positions, by intervention harvesting (see the module documentation
//! of [`super`]): pairs of one query and one item logged at position 1 and at position k.

use serde_json::{Value, json};

use crate::evaluation::rounded;

/// Positions past this share one propensity.
pub const MAX_POSITION: u32 = 20;
/// Propensities are kept at least this, so that no click weighs more than 1 / it.
pub const MIN_PROPENSITY: f64 = 0.05;
/// Below this much pooled evidence a position's ratio falls back to its plain click-rate ratio.
const MIN_EVIDENCE: f64 = 20.0;

/// Propensity of each position `1..=MAX_POSITION` (index 0: position unknown, 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Propensities(Vec<f64>);

impl Propensities {
    pub fn none() -> Propensities {
        Propensities(vec![1.0; MAX_POSITION as usize + 1])
    }

    pub fn of(&self, position: u32) -> f64 {
        self.0[position.min(MAX_POSITION) as usize]
    }

    /// Pair weights of examples `(position, grade)`: inverse propensity, normalised to mean 1 over the graded
    /// examples (ungraded examples are never the better one of a pair).
    pub fn weights(&self, examples: impl Iterator<Item = (u32, f32)>) -> Vec<f32> {
        let raw: Vec<(f64, bool)> = examples.map(|(p, g)| (1.0 / self.of(p), g > 0.0)).collect();
        let graded: Vec<f64> = raw.iter().filter(|r| r.1).map(|r| r.0).collect();
        let mean = if graded.is_empty() {
            1.0
        } else {
            graded.iter().sum::<f64>() / graded.len() as f64
        };
        raw.iter().map(|(w, _)| (w / mean) as f32).collect()
    }

    pub fn describe(&self) -> Value {
        json!(self.0[1..].iter().map(|&p| rounded(p)).collect::<Vec<_>>())
    }
}

/// Estimates the propensities from exposures `(query key, item, position, clicked)`.
pub fn estimate(exposures: impl Iterator<Item = (u64, u32, u32, bool)>) -> Propensities {
    let slots = MAX_POSITION as usize + 1;
    // One record per exposure at a known position, sorted so that each (query, item) pair is a run: no map of
    // per-pair arrays (which at 10 M exposures cost more than the rest of the estimate), and the sums below
    // come in one fixed order, so the propensities do not change from run to run.
    let mut records: Vec<(u64, u32, u8, bool)> = exposures
        .filter(|e| e.2 != 0)
        .map(|(query, item, position, clicked)| {
            (query, item, position.min(MAX_POSITION) as u8, clicked)
        })
        .collect();
    records.sort_unstable();
    let mut by_position = vec![(0u64, 0u64); slots];
    // Per position k: pooled click rates at 1 and at k over the pairs seen at both, each pair weighted by its
    // evidence, and that evidence.
    let (mut at_1, mut at_k, mut evidence) = (vec![0.0; slots], vec![0.0; slots], vec![0.0; slots]);
    for pair in records.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let mut counts = [(0u32, 0u32); MAX_POSITION as usize + 1];
        for &(_, _, p, clicked) in pair {
            counts[p as usize].0 += 1;
            counts[p as usize].1 += u32::from(clicked);
            by_position[p as usize].0 += 1;
            by_position[p as usize].1 += u64::from(clicked);
        }
        let (n1, c1) = counts[1];
        if n1 == 0 {
            continue;
        }
        for k in 2..slots {
            let (nk, ck) = counts[k];
            if nk == 0 {
                continue;
            }
            let w = f64::from(n1) * f64::from(nk) / f64::from(n1 + nk);
            at_1[k] += w * f64::from(c1) / f64::from(n1);
            at_k[k] += w * f64::from(ck) / f64::from(nk);
            evidence[k] += w;
        }
    }
    let rate = |(n, c): (u64, u64)| if n == 0 { 0.0 } else { c as f64 / n as f64 };
    let mut out = vec![1.0; slots];
    for k in 2..slots {
        let ratio = if evidence[k] >= MIN_EVIDENCE && at_1[k] > 0.0 {
            at_k[k] / at_1[k]
        } else if rate(by_position[1]) > 0.0 {
            rate(by_position[k]) / rate(by_position[1])
        } else {
            1.0
        };
        out[k] = ratio.clamp(MIN_PROPENSITY, 1.0);
    }
    Propensities(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items shown at positions 1 and 3 alike, clicked half as often at 3: the propensity of 3 is 1/2, even
    /// though the logged order puts better items first.
    #[test]
    fn swapped_pairs_reveal_the_examination_at_each_position() {
        let mut exposures = Vec::new();
        for item in 0..50u32 {
            let relevance = if item < 25 { 0.8 } else { 0.2 };
            for n in 0..400u32 {
                // Better items are mostly logged first: a plain click-rate ratio would overstate the bias.
                let position = if (item < 25) == (n % 4 != 0) { 1 } else { 3 };
                let examined = if position == 1 { 1.0 } else { 0.5 };
                let clicked =
                    (n * 7919 + item * 104_729) % 1000 < (1000.0 * relevance * examined) as u32;
                exposures.push((7u64, item, position, clicked));
            }
        }
        let p = estimate(exposures.into_iter());
        assert!((p.of(3) - 0.5).abs() < 0.05, "{:?}", p);
        assert_eq!(p.of(1), 1.0);
        let w = p.weights([(1, 1.0), (3, 1.0), (3, 0.0)].into_iter());
        assert!((w[1] / w[0] - 2.0).abs() < 0.25, "{w:?}");
        assert_eq!(Propensities::none().of(9), 1.0);
    }
}
