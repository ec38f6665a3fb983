//! The examination curve, estimated on its own before any model trains: how much less a result is clicked at
//! position `k` than at position 1, whatever it is.
//!
//! When the logged ranker put relevant items first, a position term learned jointly with the model explains part
//! of relevance (the first position "is" good), and the model then learns too little relevance. Here the curve
//! comes from the same item shown for the same query at different positions (intervention harvesting, Agarwal et
//! al., WSDM 2019, in regression form): clicks as examination × relevance, with one free relevance term per
//! query × item and one examination term per position, fitted (as a Poisson model, the free terms eliminated) on
//! the query × item pairs seen at two positions or more, so that a position's term is identified by the clicks
//! of the same pair at other positions, never by which pairs the ranker put there. The models then train with
//! those terms (log examination, used as logit offsets: close at the click rates of search logs) held fixed,
//! and learn relevance alone.
//!
//! Positions too rarely seen in such pairs, and exposures without a logged position, keep a term learned jointly.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::deep::POSITIONS;
use super::evaluate::round;
use super::log::{Exposure, NO_QUERY};

/// Exposures a position needs among the pairs seen at several positions for its term to be fixed.
const MIN_EXPOSURES: u64 = 300;
/// Clicks all such pairs need together before any curve is estimated.
const MIN_CLICKS: u64 = 100;
/// Rounds of the fit.
const ROUNDS: usize = 50;

/// The estimated curve: a term per position index, and which of them are held fixed.
#[derive(Clone, Debug, PartialEq)]
pub struct Examination {
    pub terms: Vec<f32>,
    pub fixed: Vec<bool>,
    /// Query × item pairs seen at two positions or more, and their exposures.
    pub pairs: usize,
    pub exposures: u64,
}

impl Examination {
    pub fn describe(&self) -> Value {
        let last = (0..POSITIONS).rev().find(|&k| self.fixed[k]).unwrap_or(0);
        json!({
            "method": "intervention harvesting: the same query × item at different positions",
            "pairs": self.pairs,
            "exposures": self.exposures,
            "fixed_positions": (1..POSITIONS).filter(|&k| self.fixed[k]).count(),
            "terms": self.terms[..=last.max(1)].iter().map(|&t| round(f64::from(t))).collect::<Vec<_>>(),
        })
    }
}

/// Clicks and exposures of one pair at one position.
#[derive(Clone, Copy, Default)]
struct Cell {
    position: u8,
    shown: u32,
    clicked: u32,
}

/// The curve from the `exposures` (each with its query by `query_of_rn`); `None` when too few query × item
/// pairs were shown at several positions (no queries, no positions, or a ranker that never varies).
pub(crate) fn estimate(exposures: &[Exposure], query_of_rn: &[u32]) -> Option<Examination> {
    let mut counts: HashMap<(u32, u32, u8), (u32, u32)> = HashMap::new();
    for e in exposures {
        let query = query_of_rn.get(e.rn as usize).copied().unwrap_or(NO_QUERY);
        if e.position == 0 || query == NO_QUERY {
            continue;
        }
        let c = counts.entry((query, e.item, e.position)).or_default();
        c.0 += 1;
        c.1 += u32::from(e.label);
    }
    let mut by_pair: HashMap<(u32, u32), Vec<Cell>> = HashMap::new();
    for ((query, item, position), (shown, clicked)) in counts {
        by_pair.entry((query, item)).or_default().push(Cell {
            position,
            shown,
            clicked,
        });
    }
    // In a fixed order, so that the fit does not depend on the hash map's.
    let mut pairs: Vec<((u32, u32), Vec<Cell>)> =
        by_pair.into_iter().filter(|(_, c)| c.len() >= 2).collect();
    pairs.sort_unstable_by_key(|(k, _)| *k);
    let mut shown = [0u64; POSITIONS];
    let mut clicked = [0u64; POSITIONS];
    for (_, cells) in &pairs {
        for c in cells {
            shown[usize::from(c.position)] += u64::from(c.shown);
            clicked[usize::from(c.position)] += u64::from(c.clicked);
        }
    }
    let total_shown: u64 = shown.iter().sum();
    let total_clicked: u64 = clicked.iter().sum();
    if total_clicked < MIN_CLICKS || total_clicked == total_shown {
        return None;
    }
    let fixed: Vec<bool> = shown
        .iter()
        .zip(&clicked)
        .map(|(&n, &c)| n >= MIN_EXPOSURES && c > 0)
        .collect();
    if fixed.iter().filter(|&&f| f).count() < 2 {
        return None;
    }
    let mut position = [0.0f64; POSITIONS];
    for _ in 0..ROUNDS {
        // The multiplicative update of a Poisson model with a free term per pair (iterative proportional
        // fitting): a position's examination is its clicks over what the pairs it showed would expect there.
        let mut expected = [0.0f64; POSITIONS];
        for (_, cells) in &pairs {
            let clicks: u32 = cells.iter().map(|c| c.clicked).sum();
            if clicks == 0 {
                continue;
            }
            let scale: f64 = cells
                .iter()
                .map(|c| f64::from(c.shown) * position[usize::from(c.position)].exp())
                .sum();
            for c in cells {
                expected[usize::from(c.position)] += f64::from(clicks) * f64::from(c.shown) / scale;
            }
        }
        for k in 0..POSITIONS {
            if fixed[k] && clicked[k] > 0 && expected[k] > 0.0 {
                position[k] = (clicked[k] as f64 / expected[k]).ln();
            }
        }
        // Position 1 (else the first fixed one) is the reference.
        let reference = (1..POSITIONS)
            .find(|&k| fixed[k])
            .map_or(0.0, |k| position[k]);
        for k in 0..POSITIONS {
            if fixed[k] {
                position[k] -= reference;
            }
        }
    }
    Some(Examination {
        terms: position.iter().map(|&t| t as f32).collect(),
        fixed,
        pairs: pairs.len(),
        exposures: total_shown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};

    /// Pages of 10 from a ranker that puts relevant items first (with noise), clicks = examination × relevance.
    fn confounded_log(bias: f64) -> (Vec<Exposure>, Vec<u32>) {
        let mut rng = SmallRng::seed_from_u64(5);
        let mut exposures = Vec::new();
        let mut query_of_rn = Vec::new();
        for rn in 0..20_000u32 {
            let query = rng.random_range(0..200u32);
            query_of_rn.push(query);
            // Items 0..30 of the query, relevance falling with the item number; the ranker sorts by a noisy view.
            let mut page: Vec<(u32, f64)> = (0..10)
                .map(|_| {
                    let item = rng.random_range(0..30u32);
                    let noisy = -f64::from(item) + 6.0 * (rng.random::<f64>() - 0.5);
                    (item, noisy)
                })
                .collect();
            page.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (slot, (item, _)) in page.into_iter().enumerate() {
                let position = slot as u8 + 1;
                let relevance = 0.2 * (-f64::from(item) / 10.0).exp();
                let examined = f64::from(position).powf(-bias);
                exposures.push(Exposure {
                    rn,
                    item: query * 100 + item,
                    user: 0,
                    context: 0,
                    time_ms: 0,
                    position,
                    label: rng.random::<f64>() < relevance * examined,
                });
            }
        }
        (exposures, query_of_rn)
    }

    #[test]
    fn the_curve_comes_from_the_same_pair_at_different_positions_not_from_the_ranker() {
        let (exposures, query_of_rn) = confounded_log(0.9);
        let e = estimate(&exposures, &query_of_rn).unwrap();
        assert!(e.fixed[1] && e.fixed[10] && !e.fixed[0]);
        // Clicks are examination × relevance, examination k^-0.9: the terms are its logarithm (the deepest
        // positions, where the ranker put the pairs that are rarely clicked, are the noisiest).
        for k in 2..=8 {
            let truth = -0.9 * (k as f64).ln();
            assert!(
                (f64::from(e.terms[k]) - truth).abs() < 0.2,
                "position {k}: {:?}",
                e.terms
            );
        }
        // The raw click-through gap also holds the ranker's order of relevance: far larger.
        let span = f64::from(e.terms[1] - e.terms[8]);
        let ctr = |k: u8| {
            let at: Vec<&Exposure> = exposures.iter().filter(|x| x.position == k).collect();
            at.iter().filter(|x| x.label).count() as f64 / at.len() as f64
        };
        let raw = (ctr(1) / ctr(8)).ln();
        assert!(raw > span + 0.5, "raw {raw} estimated {span}");
    }

    #[test]
    fn without_queries_or_positions_there_is_no_curve() {
        let (mut exposures, query_of_rn) = confounded_log(0.9);
        assert!(estimate(&exposures, &[]).is_none());
        exposures.iter_mut().for_each(|e| e.position = 0);
        assert!(estimate(&exposures, &query_of_rn).is_none());
    }
}
