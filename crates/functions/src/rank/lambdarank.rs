//! LambdaMART: boosting [`gbdt`] trees on the lambda gradients of NDCG (Burges, "From RankNet to LambdaRank to
//! LambdaMART", 2010), as LightGBM's `lambdarank` objective computes them: pairs of a group's examples with
//! different grades, each pushed apart by the change in NDCG that swapping them would make (only pairs with one
//! of them in the top [`TRUNCATION`] of the current order), and each group's lambdas normalised by
//! `log2(1 + Σ|λ|) / Σ|λ|`.
//!
//! A pair is weighted by the weight of its better example: with position debiasing, the inverse propensity of the
//! position it was logged at (see the trainer).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::gbdt::{Binned, Grower, Tree, TreeConfig, add_predictions};

/// Pairs are formed with examples within this rank of the current order.
pub const TRUNCATION: usize = 30;
/// NDCG's cut-off for early stopping.
pub const EVAL_AT: usize = 10;

/// Examples grouped by search, with their grades.
pub struct Groups<'a> {
    pub ranges: &'a [Range<u32>],
    pub grades: &'a [f32],
    /// Weight of each example when it is the better one of a pair.
    pub weights: &'a [f32],
}

fn gain(grade: f32) -> f64 {
    2f64.powf(f64::from(grade)) - 1.0
}

fn discount(rank: usize) -> f64 {
    1.0 / (rank as f64 + 2.0).log2()
}

/// NDCG@k of ordering `grades` by `scores` (descending; ties against the model); `None` when no grade is positive.
pub fn ndcg(k: usize, scores: &[f64], grades: &[f32]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .total_cmp(&scores[a])
            .then(grades[a].total_cmp(&grades[b]))
    });
    let mut ideal: Vec<f32> = grades.to_vec();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let best: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, &g)| gain(g) * discount(r))
        .sum();
    if best <= 0.0 {
        return None;
    }
    let dcg: f64 = order
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, &i)| gain(grades[i]) * discount(r))
        .sum();
    Some(dcg / best)
}

/// Reciprocal rank of the first example with a positive grade under `scores` (ties against the model).
pub fn reciprocal_rank(scores: &[f64], grades: &[f32]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .total_cmp(&scores[a])
            .then(grades[a].total_cmp(&grades[b]))
    });
    order
        .iter()
        .position(|&i| grades[i] > 0.0)
        .map(|r| 1.0 / (r as f64 + 1.0))
}

/// DCG@k of ordering by `scores` (ties against the model) and the best DCG@k, for the gains `2^grade - 1`
/// each multiplied by its `weight`.
pub fn weighted_dcg(k: usize, scores: &[f64], grades: &[f32], weights: &[f32]) -> (f64, f64) {
    let gains: Vec<f64> = grades
        .iter()
        .zip(weights)
        .map(|(&g, &w)| gain(g) * f64::from(w))
        .collect();
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .total_cmp(&scores[a])
            .then(gains[a].total_cmp(&gains[b]))
    });
    let dcg = order
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, &i)| gains[i] * discount(r))
        .sum();
    let mut ideal = gains;
    ideal.sort_by(|a, b| b.total_cmp(a));
    let best = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, &g)| g * discount(r))
        .sum();
    (dcg, best)
}

/// NDCG@k over groups as the ratio of summed DCGs to summed best DCGs, with weighted gains: with inverse
/// propensity weights an unbiased estimate from position-biased clicks, which the mean of per-group NDCGs is
/// not (a search's one click scores the same wherever the log showed it).
pub fn pooled_ndcg(
    k: usize,
    groups: &[Range<u32>],
    scores: &[f64],
    grades: &[f32],
    weights: &[f32],
) -> f64 {
    let (mut dcg, mut best) = (0.0, 0.0);
    for g in groups {
        let r = g.start as usize..g.end as usize;
        let (d, b) = weighted_dcg(k, &scores[r.clone()], &grades[r.clone()], &weights[r]);
        dcg += d;
        best += b;
    }
    if best > 0.0 { dcg / best } else { 0.0 }
}

/// Lambda gradients and hessians of one group, written into `g` and `h` (indexed like `scores`).
/// Buffers reused from one group to the next.
#[derive(Default)]
struct Scratch {
    order: Vec<usize>,
    ideal: Vec<f32>,
    lambdas: Vec<f64>,
    hessians: Vec<f64>,
    /// The group's gains, and [`discount`] by rank (grown as groups need it): a pair reads both twice, and
    /// `powf` and `log2` per pair were a tenth of the boosting.
    gains: Vec<f64>,
    discounts: Vec<f64>,
}

fn group_lambdas(
    scores: &[f64],
    grades: &[f32],
    weights: &[f32],
    g: &mut [f32],
    h: &mut [f32],
    scratch: &mut Scratch,
) {
    let Scratch {
        order,
        ideal,
        lambdas,
        hessians,
        gains,
        discounts,
    } = scratch;
    let n = scores.len();
    gains.clear();
    gains.extend(grades.iter().map(|&x| gain(x)));
    while discounts.len() < n {
        discounts.push(discount(discounts.len()));
    }
    g.iter_mut().for_each(|v| *v = 0.0);
    h.iter_mut().for_each(|v| *v = 0.0);
    order.clear();
    order.extend(0..n);
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    ideal.clear();
    ideal.extend_from_slice(grades);
    ideal.sort_by(|a, b| b.total_cmp(a));
    let max_dcg: f64 = ideal
        .iter()
        .take(TRUNCATION.max(EVAL_AT))
        .enumerate()
        .map(|(r, &x)| gain(x) * discount(r))
        .sum();
    if max_dcg <= 0.0 {
        return;
    }
    let inverse = 1.0 / max_dcg;
    let best = scores[order[0]];
    let worst = scores[order[n - 1]];
    let mut sum_lambdas = 0.0f64;
    lambdas.clear();
    lambdas.resize(n, 0.0);
    hessians.clear();
    hessians.resize(n, 0.0);
    for i in 0..n.min(TRUNCATION) {
        for j in i + 1..n {
            let (a, b) = (order[i], order[j]);
            if grades[a] == grades[b] {
                continue;
            }
            let (high, low, high_rank, low_rank) = if grades[a] > grades[b] {
                (a, b, i, j)
            } else {
                (b, a, j, i)
            };
            let delta_score = scores[high] - scores[low];
            let mut delta_ndcg = (gains[high] - gains[low]).abs()
                * (discounts[high_rank] - discounts[low_rank]).abs()
                * inverse;
            if best != worst {
                delta_ndcg /= 0.01 + delta_score.abs();
            }
            let rho = 1.0 / (1.0 + delta_score.exp());
            let w = f64::from(weights[high]);
            let lambda = -rho * delta_ndcg * w;
            let hessian = rho * (1.0 - rho) * delta_ndcg * w;
            lambdas[high] += lambda;
            hessians[high] += hessian;
            lambdas[low] -= lambda;
            hessians[low] += hessian;
            sum_lambdas -= 2.0 * lambda;
        }
    }
    let norm = if sum_lambdas > 0.0 {
        (1.0 + sum_lambdas).log2() / sum_lambdas
    } else {
        1.0
    };
    for i in 0..n {
        g[i] = (lambdas[i] * norm) as f32;
        h[i] = (hessians[i] * norm) as f32;
    }
}

/// Gradients and hessians of every training example. Groups are independent, so the first half of them on one
/// thread and the rest on another give the same values as one thread.
fn lambdas(groups: &Groups<'_>, scores: &[f64], g: &mut [f32], h: &mut [f32]) {
    // `g` and `h` from `offset` on, for `ranges` (which start at `offset` or later).
    let of_groups = |ranges: &[Range<u32>], offset: usize, g: &mut [f32], h: &mut [f32]| {
        let mut scratch = Scratch::default();
        for r in ranges {
            let r = r.start as usize..r.end as usize;
            let local = r.start - offset..r.end - offset;
            group_lambdas(
                &scores[r.clone()],
                &groups.grades[r.clone()],
                &groups.weights[r],
                &mut g[local.clone()],
                &mut h[local],
                &mut scratch,
            );
        }
    };
    let ranges = groups.ranges;
    // Groups are in row order (the trainer builds them so); otherwise, or when small, one thread.
    let ordered = ranges.windows(2).all(|w| w[0].end <= w[1].start);
    if ranges.len() < 2 || !ordered || scores.len() < 50_000 {
        of_groups(ranges, 0, g, h);
        return;
    }
    let (first, second) = ranges.split_at(ranges.len() / 2);
    let cut = second[0].start as usize;
    let (g1, g2) = g.split_at_mut(cut);
    let (h1, h2) = h.split_at_mut(cut);
    std::thread::scope(|s| {
        s.spawn(|| of_groups(second, cut, g2, h2));
        of_groups(first, 0, g1, h1);
    });
}

/// How a model is boosted.
#[derive(Clone, Copy, Debug)]
pub struct BoostConfig {
    pub tree: TreeConfig,
    pub max_trees: usize,
    pub early_stopping_rounds: usize,
}

/// What boosting starts from before the first tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Start {
    /// Zero: the trees are the whole score.
    #[default]
    Zero,
    /// The logit of a probability column (the ctr instance's click probability): the trees then learn what that
    /// model misses, and with no tree the order is that model's.
    LogitOf(u32),
}

/// Probabilities this close to 0 or 1 are clamped, so a logit stays finite.
const LOGIT_CLAMP: f32 = 1e-6;

impl Start {
    /// The start of a model row.
    pub fn of(self, row: &[f32]) -> f32 {
        match self {
            Start::Zero => 0.0,
            Start::LogitOf(column) => row
                .get(column as usize)
                .map_or(0.0, |&p| self.of_probability(p)),
        }
    }

    /// The start of a row whose start column holds `p` (a missing score, NaN, starts at zero).
    pub fn of_probability(self, p: f32) -> f32 {
        match self {
            Start::Zero => 0.0,
            Start::LogitOf(_) if !p.is_finite() => 0.0,
            Start::LogitOf(_) => {
                let p = p.clamp(LOGIT_CLAMP, 1.0 - LOGIT_CLAMP);
                (p / (1.0 - p)).ln()
            }
        }
    }
}

/// A trained ensemble: the prediction is its start plus the sum of its trees.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    pub trees: Vec<Tree>,
    /// Not in the ensemble's own encoding: the rank artifact stores it after the model (format 3), so the
    /// artifacts of earlier formats, which boosted from zero, decode unchanged.
    #[serde(skip)]
    pub start: Start,
}

impl Ensemble {
    pub fn predict(&self, row: &[f32]) -> f32 {
        self.start.of(row) + self.trees.iter().map(|t| t.predict(row)).sum::<f32>()
    }

    /// Per-feature contributions of a prediction, and the part no feature explains (the roots' values). A start
    /// from a column counts as that column's contribution.
    pub fn attribute(&self, row: &[f32], features: usize) -> (f32, Vec<f32>) {
        let mut contributions = vec![0.0; features];
        if let Start::LogitOf(column) = self.start
            && let Some(c) = contributions.get_mut(column as usize)
        {
            *c += self.start.of(row);
        }
        let bias = self
            .trees
            .iter()
            .map(|t| t.attribute(row, &mut contributions))
            .sum();
        (bias, contributions)
    }

    /// Total split gain of every feature.
    pub fn gains(&self, features: usize) -> Vec<f64> {
        let mut out = vec![0.0; features];
        for n in self.trees.iter().flat_map(|t| &t.nodes) {
            if !n.is_leaf() {
                out[n.feature as usize] += f64::from(n.gain);
            }
        }
        out
    }
}

/// What boosting did.
#[derive(Clone, Debug, Default)]
pub struct BoostReport {
    pub trees_built: usize,
    pub best_trees: usize,
    pub validation_ndcg: f64,
}

/// The scores boosting starts from: of the training rows and of the validation rows.
pub struct Initial<'a> {
    pub start: Start,
    pub train: &'a [f64],
    pub validation: &'a [f64],
}

/// Boosts trees on `train` while the validation's pooled NDCG@10 (gains weighted by `validation.3`) rises; `on_tree(done)` reports progress and returns
/// false to stop (cancellation). Returns `None` when stopped. From an `initial` start, no tree at all is kept
/// when none improves the validation order over the start's.
pub fn boost(
    config: BoostConfig,
    train: (&Binned, &Groups<'_>),
    validation: (&Binned, &[Range<u32>], &[f32], &[f32]),
    initial: Option<Initial<'_>>,
    on_tree: &mut dyn FnMut(f64) -> bool,
) -> Option<(Ensemble, BoostReport)> {
    let (data, groups) = train;
    let (vdata, vgroups, vgrades, vweights) = validation;
    let grower = Grower::new(data, config.tree);
    let (mut scores, mut vscores, start) = match &initial {
        Some(i) if i.train.len() == data.rows && i.validation.len() == vdata.rows => {
            (i.train.to_vec(), i.validation.to_vec(), i.start)
        }
        // No start, or (a caller's bug) one that does not fit the rows: from zero rather than a panic in a task.
        _ => (
            vec![0.0f64; data.rows],
            vec![0.0f64; vdata.rows],
            Start::Zero,
        ),
    };
    let (mut g, mut h) = (vec![0.0f32; data.rows], vec![0.0f32; data.rows]);
    // Only rows of groups with a pair to order carry gradients; ascending, and handed to every tree so (the
    // grower reorders its copy, and reads memory front to back when its rows are ascending).
    let mut ordered: Vec<u32> = groups
        .ranges
        .iter()
        .filter(|r| {
            let grades = &groups.grades[r.start as usize..r.end as usize];
            grades.iter().any(|&x| x != grades[0])
        })
        .flat_map(|r| r.clone())
        .collect();
    ordered.sort_unstable();
    let mut rows = ordered.clone();
    let mut trees: Vec<Tree> = Vec::new();
    let mut report = BoostReport::default();
    let has_validation = !vgroups.is_empty();
    let mut best = if start != Start::Zero && has_validation {
        pooled_ndcg(EVAL_AT, vgroups, &vscores, vgrades, vweights)
    } else {
        f64::NEG_INFINITY
    };
    for t in 0..config.max_trees {
        lambdas(groups, &scores, &mut g, &mut h);
        rows.copy_from_slice(&ordered);
        let tree = grower.grow(&mut rows, &g, &h);
        add_predictions(&tree, data, &mut scores);
        add_predictions(&tree, vdata, &mut vscores);
        trees.push(tree);
        report.trees_built = t + 1;
        if has_validation {
            let v = pooled_ndcg(EVAL_AT, vgroups, &vscores, vgrades, vweights);
            if v > best + 1e-9 {
                best = v;
                report.best_trees = t + 1;
            } else if t + 1 - report.best_trees >= config.early_stopping_rounds {
                break;
            }
        } else {
            report.best_trees = t + 1;
        }
        if !on_tree((t + 1) as f64 / config.max_trees as f64) {
            return None;
        }
    }
    // From zero, one tree at least (an empty model would tie every candidate).
    let kept = if start == Start::Zero {
        report.best_trees.max(1)
    } else {
        report.best_trees
    };
    trees.truncate(kept);
    report.validation_ndcg = if has_validation { best } else { 0.0 };
    Some((Ensemble { trees, start }, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_and_reciprocal_rank_of_known_orders() {
        let grades = [0.0, 3.0, 1.0];
        assert_eq!(ndcg(10, &[3.0, 2.0, 1.0], &[3.0, 1.0, 0.0]), Some(1.0));
        let v = ndcg(10, &[3.0, 2.0, 1.0], &grades).unwrap();
        // DCG = 7/log2(3) + 1/log2(4); ideal = 7 + 1/log2(3).
        let expected = (7.0 / 3f64.log2() + 0.5) / (7.0 + 1.0 / 3f64.log2());
        assert!((v - expected).abs() < 1e-12, "{v}");
        assert_eq!(ndcg(10, &[1.0, 1.0], &[0.0, 0.0]), None);
        assert!(
            ndcg(10, &[1.0; 3], &grades).unwrap() < 1.0,
            "ties earn nothing"
        );
        assert_eq!(reciprocal_rank(&[3.0, 2.0, 1.0], &grades), Some(0.5));
        assert_eq!(reciprocal_rank(&[1.0, 2.0], &[0.0, 0.0]), None);
    }

    #[test]
    fn lambdas_push_the_better_example_up_and_sum_to_zero() {
        let (mut g, mut h) = (vec![0.0; 3], vec![0.0; 3]);
        group_lambdas(
            &[0.0, 0.0, 0.0],
            &[0.0, 2.0, 1.0],
            &[1.0; 3],
            &mut g,
            &mut h,
            &mut Scratch::default(),
        );
        assert!(g[1] < 0.0 && g[0] > 0.0, "{g:?}");
        assert!(g.iter().sum::<f32>().abs() < 1e-6);
        assert!(h.iter().all(|&x| x > 0.0));
        // A weight on the better example scales its pairs.
        let (mut g2, mut h2) = (vec![0.0; 2], vec![0.0; 2]);
        group_lambdas(
            &[0.0; 2],
            &[1.0, 0.0],
            &[1.0, 1.0],
            &mut g2,
            &mut h2,
            &mut Scratch::default(),
        );
        let (mut g3, mut h3) = (vec![0.0; 2], vec![0.0; 2]);
        group_lambdas(
            &[0.0; 2],
            &[1.0, 0.0],
            &[3.0, 1.0],
            &mut g3,
            &mut h3,
            &mut Scratch::default(),
        );
        assert!(g3[0] < g2[0], "{g2:?} {g3:?}");
    }

    /// Uniform numbers in [0, 1) from a seed (an LCG: the tests need reproducible data, not good randomness).
    fn uniform(seed: u64) -> impl FnMut() -> f32 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f32 / (1u64 << 31) as f32
        }
    }

    /// Enough groups for two threads: every group's lambdas are those it gets on its own.
    #[test]
    fn lambdas_of_many_groups_are_each_groups_own() {
        let (groups, size) = (6_000u32, 10u32);
        let rows = (groups * size) as usize;
        let mut next = uniform(99);
        let scores: Vec<f64> = (0..rows).map(|_| f64::from(next())).collect();
        let grades: Vec<f32> = (0..rows).map(|_| (next() * 3.0).floor()).collect();
        let weights: Vec<f32> = (0..rows).map(|_| 0.5 + next()).collect();
        let ranges: Vec<Range<u32>> = (0..groups).map(|k| k * size..(k + 1) * size).collect();
        let (mut g, mut h) = (vec![9.0f32; rows], vec![9.0f32; rows]);
        let all = Groups {
            ranges: &ranges,
            grades: &grades,
            weights: &weights,
        };
        lambdas(&all, &scores, &mut g, &mut h);
        let mut scratch = Scratch::default();
        let (mut g1, mut h1) = (vec![0.0f32; size as usize], vec![0.0f32; size as usize]);
        for r in &ranges {
            let r = r.start as usize..r.end as usize;
            group_lambdas(
                &scores[r.clone()],
                &grades[r.clone()],
                &weights[r.clone()],
                &mut g1,
                &mut h1,
                &mut scratch,
            );
            assert_eq!(
                (&g[r.clone()], &h[r.clone()]),
                (&g1[..], &h1[..]),
                "group at {}",
                r.start
            );
        }
        assert!(g.iter().any(|&x| x != 0.0));
    }

    /// Groups of 10 whose grade follows feature 0 and not feature 1: boosting learns to order by feature 0.
    #[test]
    fn boosting_learns_the_order_the_grades_follow() {
        let groups = 300;
        let (mut x0, mut x1, mut grades) = (Vec::new(), Vec::new(), Vec::new());
        let mut next = uniform(12345);
        for _ in 0..groups {
            for _ in 0..10 {
                let a = next();
                x0.push(a);
                x1.push(next());
                grades.push(if a > 0.8 {
                    2.0
                } else if a > 0.5 {
                    1.0
                } else {
                    0.0
                });
            }
        }
        let ranges: Vec<Range<u32>> = (0..groups as u32).map(|g| g * 10..g * 10 + 10).collect();
        let data = Binned::new(&[x0.clone(), x1.clone()], 32);
        let weights = vec![1.0; grades.len()];
        let config = BoostConfig {
            tree: TreeConfig {
                num_leaves: 7,
                min_data_in_leaf: 10,
                min_sum_hessian: 1e-3,
                l2: 1.0,
                learning_rate: 0.1,
            },
            max_trees: 30,
            early_stopping_rounds: 10,
        };
        let train = Groups {
            ranges: &ranges[..200],
            grades: &grades,
            weights: &weights,
        };
        let (model, report) = boost(
            config,
            (&data, &train),
            (&data, &ranges[200..], &grades, &weights),
            None,
            &mut |_| true,
        )
        .unwrap();
        assert!(report.validation_ndcg > 0.95, "{report:?}");
        let gains = model.gains(2);
        assert!(gains[0] > 10.0 * gains[1], "{gains:?}");
        assert!(model.predict(&[0.9, 0.0]) > model.predict(&[0.1, 0.0]));
    }

    /// Groups of 10 whose grade is `a + b` banded; column 2 is a click probability that knows `b` only.
    fn half_known(groups: u32) -> (Vec<Vec<f32>>, Vec<f32>, Vec<Range<u32>>) {
        let mut next = uniform(7);
        let (mut columns, mut grades) = (vec![Vec::new(), Vec::new(), Vec::new()], Vec::new());
        for _ in 0..groups * 10 {
            let (a, b) = (next(), next());
            columns[0].push(a);
            columns[1].push(b);
            columns[2].push(1.0 / (1.0 + (-4.0 * (b - 0.5)).exp()));
            grades.push(((a + b) * 1.5).floor());
        }
        let ranges = (0..groups).map(|g| g * 10..g * 10 + 10).collect();
        (columns, grades, ranges)
    }

    fn small() -> BoostConfig {
        BoostConfig {
            tree: TreeConfig {
                num_leaves: 7,
                min_data_in_leaf: 10,
                min_sum_hessian: 1e-3,
                l2: 1.0,
                learning_rate: 0.1,
            },
            max_trees: 40,
            early_stopping_rounds: 10,
        }
    }

    #[test]
    fn boosting_from_a_start_learns_what_the_start_misses() {
        let (columns, grades, ranges) = half_known(300);
        let data = Binned::new(&columns, 32);
        let weights = vec![1.0; grades.len()];
        let start = Start::LogitOf(2);
        let rows = |r: &[Range<u32>]| r.iter().flat_map(|g| g.clone()).collect::<Vec<u32>>();
        let logits = |idx: &[u32]| -> Vec<f64> {
            idx.iter()
                .map(|&i| f64::from(start.of(&[0.0, 0.0, columns[2][i as usize]])))
                .collect()
        };
        // Train and validate on the same rows' indices; the scores are indexed by row.
        let all = logits(&rows(&ranges));
        let train = Groups {
            ranges: &ranges[..200],
            grades: &grades,
            weights: &weights,
        };
        let validation = (&data, &ranges[200..], grades.as_slice(), weights.as_slice());
        let start_alone = pooled_ndcg(EVAL_AT, &ranges[200..], &all, &grades, &weights);
        let initial = Initial {
            start,
            train: &all,
            validation: &all,
        };
        let (model, report) = boost(
            small(),
            (&data, &train),
            validation,
            Some(initial),
            &mut |_| true,
        )
        .unwrap();
        assert!(!model.trees.is_empty());
        assert!(
            report.validation_ndcg > start_alone + 0.02,
            "{start_alone} → {report:?}"
        );
        // The prediction is the start's logit plus the trees, and explaining it counts the logit to column 2.
        let row = [0.7, 0.4, 0.3];
        let trees: f32 = model.trees.iter().map(|t| t.predict(&row)).sum();
        assert!((model.predict(&row) - trees - start.of(&row)).abs() < 1e-5);
        let (bias, contributions) = model.attribute(&row, 3);
        let explained = bias + contributions.iter().sum::<f32>();
        assert!(
            (explained - model.predict(&row)).abs() < 1e-4,
            "{explained}"
        );
    }

    #[test]
    fn from_a_start_no_tree_is_kept_when_none_improves_the_order() {
        let (mut columns, grades, ranges) = half_known(300);
        // The probability now orders every group exactly as its grades do.
        columns[2] = grades.iter().map(|g| 0.1 + 0.2 * g).collect();
        let data = Binned::new(&columns, 32);
        let weights = vec![1.0; grades.len()];
        let all: Vec<f64> = columns[2]
            .iter()
            .map(|&p| f64::from(Start::LogitOf(2).of(&[0.0, 0.0, p])))
            .collect();
        let train = Groups {
            ranges: &ranges[..200],
            grades: &grades,
            weights: &weights,
        };
        let initial = Initial {
            start: Start::LogitOf(2),
            train: &all,
            validation: &all,
        };
        let (model, report) = boost(
            small(),
            (&data, &train),
            (&data, &ranges[200..], &grades, &weights),
            Some(initial),
            &mut |_| true,
        )
        .unwrap();
        assert!((report.validation_ndcg - 1.0).abs() < 1e-9, "{report:?}");
        assert!(model.trees.is_empty(), "{} trees", model.trees.len());
        // The start is kept: the model scores the probability's logit.
        assert_eq!(model.start, Start::LogitOf(2));
        assert!((model.predict(&[0.0, 0.0, 0.9]) - 9f32.ln()).abs() < 1e-4);
    }
}
