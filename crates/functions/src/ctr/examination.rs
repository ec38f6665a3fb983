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

/// One exposure with a query and a logged position, as the fit counts it.
#[derive(Clone, Copy)]
struct Seen {
    query: u32,
    item: u32,
    position: u8,
    clicked: bool,
}

/// The curve from the `exposures` (each with its query by `query_of_rn`); `None` when too few query × item
/// pairs were shown at several positions (no queries, no positions, or a ranker that never varies).
pub(crate) fn estimate(exposures: &[Exposure], query_of_rn: &[u32]) -> Option<Examination> {
    // Sorted, not counted in hash maps: an entry per query × item × position and a vector per pair held about
    // 650 MB at 10 M exposures, the trainer's peak; this list is 12 bytes per exposure, and sorting it puts each
    // pair's cells in position order, so that the fit's sums do not depend on a hash map's order.
    let mut seen: Vec<Seen> = exposures
        .iter()
        .filter_map(|e| {
            let query = query_of_rn.get(e.rn as usize).copied().unwrap_or(NO_QUERY);
            (e.position != 0 && query != NO_QUERY).then_some(Seen {
                query,
                item: e.item,
                position: e.position,
                clicked: e.label,
            })
        })
        .collect();
    seen.sort_unstable_by_key(|s| (s.query, s.item, s.position));
    // The cells of the pairs seen at two positions or more, flat, in (query, item, position) order, and where
    // each pair's cells end.
    let mut cells: Vec<Cell> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    for pair in seen.chunk_by(|a, b| (a.query, a.item) == (b.query, b.item)) {
        let start = cells.len();
        cells.extend(
            pair.chunk_by(|a, b| a.position == b.position)
                .map(|cell| Cell {
                    position: cell[0].position,
                    shown: cell.len() as u32,
                    clicked: cell.iter().filter(|s| s.clicked).count() as u32,
                }),
        );
        if cells.len() - start >= 2 {
            ends.push(cells.len());
        } else {
            cells.truncate(start);
        }
    }
    drop(seen);
    let pairs: Vec<&[Cell]> = ends
        .iter()
        .scan(0, |start, &end| {
            let pair = &cells[*start..end];
            *start = end;
            Some(pair)
        })
        .collect();
    let mut shown = [0u64; POSITIONS];
    let mut clicked = [0u64; POSITIONS];
    for cells in &pairs {
        for c in *cells {
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
        for cells in &pairs {
            let clicks: u32 = cells.iter().map(|c| c.clicked).sum();
            if clicks == 0 {
                continue;
            }
            let scale: f64 = cells
                .iter()
                .map(|c| f64::from(c.shown) * position[usize::from(c.position)].exp())
                .sum();
            for c in *cells {
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
    use std::collections::{HashMap, HashSet};

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
                    click_delay_ms: 0,
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
    fn the_curve_counts_every_pair_seen_at_several_positions_in_any_order_of_the_log() {
        let (exposures, query_of_rn) = confounded_log(0.9);
        let e = estimate(&exposures, &query_of_rn).unwrap();
        // Counted the plain way: the positions of each query × item pair, and its exposures.
        let mut by_pair: HashMap<(u32, u32), (HashSet<u8>, u64)> = HashMap::new();
        for x in &exposures {
            let pair = by_pair
                .entry((query_of_rn[x.rn as usize], x.item))
                .or_default();
            pair.0.insert(x.position);
            pair.1 += 1;
        }
        let several = by_pair.values().filter(|(p, _)| p.len() >= 2);
        assert_eq!(e.pairs, several.clone().count());
        assert_eq!(e.exposures, several.map(|(_, n)| n).sum::<u64>());
        // The same log in another order gives the same curve, to the last bit.
        let mut reversed = exposures.clone();
        reversed.reverse();
        assert_eq!(estimate(&reversed, &query_of_rn), Some(e));
    }

    #[test]
    fn without_queries_or_positions_there_is_no_curve() {
        let (mut exposures, query_of_rn) = confounded_log(0.9);
        assert!(estimate(&exposures, &[]).is_none());
        exposures.iter_mut().for_each(|e| e.position = 0);
        assert!(estimate(&exposures, &query_of_rn).is_none());
    }
}
