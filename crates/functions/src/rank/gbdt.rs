//! Gradient-boosted regression trees on histograms, for any objective that gives a gradient and a hessian per
//! example (here LambdaMART's, see [`super::lambdarank`]).
//!
//! Written here rather than taken from a crate: the pure-Rust GBDT crates measured on this machine
//! (`forust-ml` 0.8) offer a closed set of objectives (log loss, squared loss) with no way to hand in
//! gradients, and LightGBM's bindings need CMake ≥ 3.28 and libclang (about 210 s more build). Owning the trees
//! also gives the two things serving needs: the split gains (feature importance) and the value of every inner
//! node, from which a prediction decomposes into per-feature contributions along its path.
//!
//! Features are binned once ([`Binned`]): bin 0 holds missing values (NaN) and every split sends it left, which
//! [`Tree::predict`] does with raw values too. Trees grow best leaf first up to `num_leaves`, the smaller
//! child's histogram is built from its rows and the larger one's is its parent's minus it.

use serde::{Deserialize, Serialize};

/// How trees are grown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TreeConfig {
    pub num_leaves: usize,
    pub min_data_in_leaf: usize,
    pub min_sum_hessian: f64,
    pub l2: f64,
    pub learning_rate: f64,
}

/// Feature values cut into bins, one column per feature.
pub struct Binned {
    pub rows: usize,
    /// Per feature: the bin of each row.
    pub columns: Vec<Vec<u8>>,
    /// Per feature: `edges[b - 1]` is the largest value of bin `b` (bins start at 1; 0 is missing).
    pub edges: Vec<Vec<f32>>,
}

/// Upper edges of at most `max_bins - 1` bins for the (finite) values of one feature.
pub fn bin_edges(values: &[f32], max_bins: usize) -> Vec<f32> {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return Vec::new();
    }
    sorted.sort_unstable_by(f32::total_cmp);
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for v in sorted {
        match distinct.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => distinct.push((v, 1)),
        }
    }
    let bins = max_bins.saturating_sub(1).max(1);
    let midpoint = |a: f32, b: f32| {
        let m = a + (b - a) / 2.0;
        if m > a { m } else { b }
    };
    if distinct.len() <= bins {
        // One bin per value: the edge halfway to the next value.
        let mut edges: Vec<f32> = distinct
            .windows(2)
            .map(|w| midpoint(w[0].0, w[1].0))
            .collect();
        edges.push(f32::INFINITY);
        return edges;
    }
    // Quantiles: close a bin once it holds its share of the values.
    let total: usize = distinct.iter().map(|d| d.1).sum();
    let per_bin = total as f64 / bins as f64;
    let mut edges = Vec::with_capacity(bins);
    let mut seen = 0usize;
    let mut closed = 0usize;
    for (i, &(v, n)) in distinct.iter().enumerate() {
        seen += n;
        let due = ((edges.len() + 1) as f64 * per_bin) as usize;
        if seen >= due.max(closed + 1) && i + 1 < distinct.len() && edges.len() + 1 < bins {
            edges.push(midpoint(v, distinct[i + 1].0));
            closed = seen;
        }
    }
    edges.push(f32::INFINITY);
    edges
}

/// The bin of `value` under `edges` (0 for missing).
pub fn bin_of(edges: &[f32], value: f32) -> u8 {
    if value.is_nan() {
        return 0;
    }
    (1 + edges.partition_point(|&e| e < value)).min(edges.len().max(1)) as u8
}

impl Binned {
    /// Bins `columns` (one vector of values per feature, all of one length).
    pub fn new(columns: &[Vec<f32>], max_bins: usize) -> Binned {
        let max_bins = max_bins.clamp(2, 256);
        let rows = columns.first().map_or(0, Vec::len);
        let mut edges = Vec::with_capacity(columns.len());
        let mut binned = Vec::with_capacity(columns.len());
        for column in columns {
            // Edges from a strided sample keep binning linear in the rows.
            let step = (column.len() / 200_000).max(1);
            let sample: Vec<f32> = column.iter().step_by(step).copied().collect();
            let e = bin_edges(&sample, max_bins);
            binned.push(column.iter().map(|&v| bin_of(&e, v)).collect());
            edges.push(e);
        }
        Binned {
            rows,
            columns: binned,
            edges,
        }
    }

    /// Bins `columns` with the edges of another binning (validation and held-out rows with the training edges).
    pub fn with_edges(columns: &[Vec<f32>], edges: &[Vec<f32>]) -> Binned {
        Binned {
            rows: columns.first().map_or(0, Vec::len),
            columns: columns
                .iter()
                .zip(edges)
                .map(|(c, e)| c.iter().map(|&v| bin_of(e, v)).collect())
                .collect(),
            edges: edges.to_vec(),
        }
    }

    fn bins(&self, feature: usize) -> usize {
        self.edges[feature].len() + 1
    }
}

/// One node; a leaf has `left == right == 0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    /// Rows with a value at most this (or missing) go left.
    pub threshold: f32,
    pub left: u32,
    pub right: u32,
    /// The tree's output if it stopped here (shrunk by the learning rate): the leaf's value for a leaf.
    pub value: f32,
    /// The loss reduction of this split (0 for a leaf).
    pub gain: f32,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        self.left == 0 && self.right == 0
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Whether the tree is one `predict` can walk over rows of `columns` values: a root, every split's feature
    /// a column, its children after it (as trees are grown) so that every walk ends at a leaf. A loaded artifact
    /// is checked once, so that a damaged one is an error rather than a panic or a loop at serving.
    pub fn is_walkable(&self, columns: usize) -> bool {
        !self.nodes.is_empty()
            && self.nodes.iter().enumerate().all(|(i, n)| {
                n.is_leaf()
                    || ((n.feature as usize) < columns
                        && (n.left as usize) > i
                        && (n.right as usize) > i
                        && (n.left as usize) < self.nodes.len()
                        && (n.right as usize) < self.nodes.len())
            })
    }

    fn leaf_of(&self, value: impl Fn(usize) -> f32) -> usize {
        let mut i = 0;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return i;
            }
            let v = value(n.feature as usize);
            i = if v.is_nan() || v <= n.threshold {
                n.left
            } else {
                n.right
            } as usize;
        }
    }

    pub fn predict(&self, row: &[f32]) -> f32 {
        self.nodes[self.leaf_of(|f| row[f])].value
    }

    /// Adds each split's share of the prediction to `contributions` (by feature) and returns the root's value:
    /// root + Σ contributions = prediction.
    pub fn attribute(&self, row: &[f32], contributions: &mut [f32]) -> f32 {
        let mut i = 0;
        loop {
            let n = &self.nodes[i];
            if n.is_leaf() {
                return self.nodes[0].value;
            }
            let v = row[n.feature as usize];
            let next = if v.is_nan() || v <= n.threshold {
                n.left
            } else {
                n.right
            } as usize;
            contributions[n.feature as usize] += self.nodes[next].value - n.value;
            i = next;
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

#[derive(Clone, Copy, Default)]
struct Sums {
    g: f64,
    h: f64,
    n: u32,
}

#[derive(Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: u8,
    left: Sums,
}

struct Leaf {
    node: usize,
    start: usize,
    end: usize,
    sums: Sums,
    hist: Vec<Bin>,
    best: Option<Split>,
}

/// Grows one tree on `rows` of `data` for the gradients `g` and hessians `h` (indexed by row).
pub struct Grower<'a> {
    data: &'a Binned,
    config: TreeConfig,
    /// The bins again, row by row (`rows × features`): a histogram reads each row's bins from one cache line
    /// instead of one line per feature, which is what its time is spent on once the rows outgrow the caches.
    row_bins: Vec<u8>,
    /// Offset of each feature's bins in a histogram.
    offsets: Vec<usize>,
    hist_len: usize,
}

fn score(s: Sums, l2: f64) -> f64 {
    s.g * s.g / (s.h + l2)
}

impl<'a> Grower<'a> {
    pub fn new(data: &'a Binned, config: TreeConfig) -> Self {
        let mut offsets = Vec::with_capacity(data.columns.len());
        let mut total = 0;
        for f in 0..data.columns.len() {
            offsets.push(total);
            total += data.bins(f);
        }
        let features = data.columns.len();
        let mut row_bins = vec![0u8; data.rows * features];
        for (f, column) in data.columns.iter().enumerate() {
            for (r, &b) in column.iter().enumerate() {
                row_bins[r * features + f] = b;
            }
        }
        Grower {
            data,
            config,
            row_bins,
            offsets,
            hist_len: total,
        }
    }

    fn value(&self, s: Sums) -> f32 {
        (-s.g / (s.h + self.config.l2) * self.config.learning_rate) as f32
    }

    /// Histogram of `rows`, row by row; split across two threads when it is large, each filling a histogram of
    /// its own that are then added (always the first half's plus the second's: the same for the same thread
    /// count).
    fn histogram(&self, rows: &[u32], g: &[f32], h: &[f32]) -> Vec<Bin> {
        let features = self.data.columns.len();
        let fill = |rows: &[u32], out: &mut [Bin]| {
            for &r in rows {
                let r = r as usize;
                let (gr, hr) = (f64::from(g[r]), f64::from(h[r]));
                let bins = &self.row_bins[r * features..(r + 1) * features];
                for (&offset, &b) in self.offsets.iter().zip(bins) {
                    let bin = &mut out[offset + b as usize];
                    bin.g += gr;
                    bin.h += hr;
                    bin.n += 1;
                }
            }
        };
        let mut hist = vec![Bin::default(); self.hist_len];
        if rows.len() * features < 200_000 {
            fill(rows, &mut hist);
        } else {
            let (first, second) = rows.split_at(rows.len() / 2);
            let mut other = vec![Bin::default(); self.hist_len];
            std::thread::scope(|s| {
                s.spawn(|| fill(second, &mut other));
                fill(first, &mut hist);
            });
            for (a, b) in hist.iter_mut().zip(&other) {
                a.g += b.g;
                a.h += b.h;
                a.n += b.n;
            }
        }
        hist
    }

    fn best_split(&self, hist: &[Bin], total: Sums) -> Option<Split> {
        let c = &self.config;
        let parent = score(total, c.l2);
        let mut best: Option<Split> = None;
        for f in 0..self.data.columns.len() {
            let bins = &hist[self.offsets[f]..self.offsets[f] + self.data.bins(f)];
            let mut left = Sums::default();
            for (b, bin) in bins.iter().enumerate().take(bins.len() - 1) {
                left.g += bin.g;
                left.h += bin.h;
                left.n += bin.n;
                let right = Sums {
                    g: total.g - left.g,
                    h: total.h - left.h,
                    n: total.n - left.n,
                };
                if (left.n as usize) < c.min_data_in_leaf || (right.n as usize) < c.min_data_in_leaf
                {
                    continue;
                }
                if left.h < c.min_sum_hessian || right.h < c.min_sum_hessian {
                    continue;
                }
                let gain = score(left, c.l2) + score(right, c.l2) - parent;
                if gain > 1e-12 && best.is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        gain,
                        feature: f,
                        bin: b as u8,
                        left,
                    });
                }
            }
        }
        best
    }

    fn threshold(&self, feature: usize, bin: u8) -> f32 {
        if bin == 0 {
            f32::NEG_INFINITY
        } else {
            self.data.edges[feature][bin as usize - 1]
        }
    }

    /// Grows a tree over `rows` (reordered in place; faster when given in ascending order).
    pub fn grow(&self, rows: &mut [u32], g: &[f32], h: &[f32]) -> Tree {
        let mut right: Vec<u32> = Vec::with_capacity(rows.len());
        let mut total = Sums::default();
        for &r in rows.iter() {
            total.g += f64::from(g[r as usize]);
            total.h += f64::from(h[r as usize]);
            total.n += 1;
        }
        let mut nodes = vec![Node {
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
            value: self.value(total),
            gain: 0.0,
        }];
        let hist = self.histogram(rows, g, h);
        let best = self.best_split(&hist, total);
        let mut leaves = vec![Leaf {
            node: 0,
            start: 0,
            end: rows.len(),
            sums: total,
            hist,
            best,
        }];
        let mut count = 1;
        while count < self.config.num_leaves {
            let Some((i, split)) = leaves
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.best.map(|s| (i, s)))
                .max_by(|a, b| a.1.gain.total_cmp(&b.1.gain))
            else {
                break;
            };
            let leaf = leaves.swap_remove(i);
            let column = &self.data.columns[split.feature];
            // Partition the leaf's rows, bin ≤ split.bin first, keeping their order on both sides: rows given
            // in ascending order stay ascending in every leaf, so histograms read memory front to back.
            let slice = &mut rows[leaf.start..leaf.end];
            right.clear();
            let mut k = 0;
            for j in 0..slice.len() {
                let r = slice[j];
                if column[r as usize] <= split.bin {
                    slice[k] = r;
                    k += 1;
                } else {
                    right.push(r);
                }
            }
            slice[k..].copy_from_slice(&right);
            let mid = leaf.start + k;
            let left_sums = split.left;
            let right_sums = Sums {
                g: leaf.sums.g - left_sums.g,
                h: leaf.sums.h - left_sums.h,
                n: leaf.sums.n - left_sums.n,
            };
            let (small, large_is_left) = if k <= slice.len() - k {
                (&rows[leaf.start..mid], false)
            } else {
                (&rows[mid..leaf.end], true)
            };
            let small_hist = self.histogram(small, g, h);
            let mut large_hist = leaf.hist;
            for (l, s) in large_hist.iter_mut().zip(&small_hist) {
                l.g -= s.g;
                l.h -= s.h;
                l.n -= s.n;
            }
            let (left_hist, right_hist) = if large_is_left {
                (large_hist, small_hist)
            } else {
                (small_hist, large_hist)
            };
            let left_node = nodes.len();
            let right_node = left_node + 1;
            let parent = &mut nodes[leaf.node];
            parent.feature = split.feature as u32;
            parent.threshold = self.threshold(split.feature, split.bin);
            parent.left = left_node as u32;
            parent.right = right_node as u32;
            parent.gain = split.gain as f32;
            for sums in [left_sums, right_sums] {
                nodes.push(Node {
                    feature: 0,
                    threshold: 0.0,
                    left: 0,
                    right: 0,
                    value: self.value(sums),
                    gain: 0.0,
                });
            }
            leaves.push(Leaf {
                node: left_node,
                start: leaf.start,
                end: mid,
                sums: left_sums,
                best: self.best_split(&left_hist, left_sums),
                hist: left_hist,
            });
            leaves.push(Leaf {
                node: right_node,
                start: mid,
                end: leaf.end,
                sums: right_sums,
                best: self.best_split(&right_hist, right_sums),
                hist: right_hist,
            });
            count += 1;
        }
        Tree { nodes }
    }
}

/// The leaf value of every row of `data` under `tree`, added to `scores`.
pub fn add_predictions(tree: &Tree, data: &Binned, scores: &mut [f64]) {
    // Binned rows compare bins, not values: a row goes left when its bin is at most the split's.
    let split_bins: Vec<u8> = tree
        .nodes
        .iter()
        .map(|n| {
            if n.is_leaf() {
                0
            } else {
                let edges = &data.edges[n.feature as usize];
                if n.threshold == f32::NEG_INFINITY {
                    0
                } else {
                    (1 + edges.partition_point(|&e| e < n.threshold)) as u8
                }
            }
        })
        .collect();
    let rows = scores.len().min(data.rows);
    // Rows from `first` on; each row's score is its own, so two threads give what one gives.
    let walk = |first: usize, scores: &mut [f64]| {
        for (r, score) in (first..).zip(scores.iter_mut()) {
            let mut i = 0;
            loop {
                let n = &tree.nodes[i];
                if n.is_leaf() {
                    *score += f64::from(n.value);
                    break;
                }
                i = if data.columns[n.feature as usize][r] <= split_bins[i] {
                    n.left
                } else {
                    n.right
                } as usize;
            }
        }
    };
    let scores = &mut scores[..rows];
    if rows < 100_000 {
        walk(0, scores);
    } else {
        let (first, second) = scores.split_at_mut(rows / 2);
        std::thread::scope(|s| {
            s.spawn(|| walk(rows / 2, second));
            walk(0, first);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_values_get_a_bin_each_and_many_get_quantiles() {
        let e = bin_edges(&[3.0, 1.0, 2.0, 2.0, f32::NAN], 16);
        assert_eq!(e, [1.5, 2.5, f32::INFINITY]);
        assert_eq!(bin_of(&e, f32::NAN), 0);
        assert_eq!(bin_of(&e, 1.0), 1);
        assert_eq!(bin_of(&e, 2.0), 2);
        assert_eq!(bin_of(&e, 3.0), 3);
        assert_eq!(bin_of(&e, 99.0), 3, "above every value seen: the last bin");
        let many: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let e = bin_edges(&many, 11);
        assert_eq!(e.len(), 10);
        let counts = (1..=10).map(|b| many.iter().filter(|&&v| bin_of(&e, v) == b).count());
        for c in counts {
            assert!((90..=110).contains(&c), "{c}");
        }
    }

    /// Enough rows for two threads: every row's binned score is the tree's prediction of its raw values, in both
    /// halves.
    #[test]
    fn predictions_of_many_rows_are_each_rows_own() {
        let x = |n: usize| -> Vec<Vec<f32>> {
            vec![
                (0..n).map(|i| (i % 100) as f32 / 100.0).collect(),
                (0..n).map(|i| ((i * 7) % 13) as f32 / 13.0).collect(),
            ]
        };
        let small = x(2000);
        let data = Binned::new(&small, 64);
        let g: Vec<f32> = small[0]
            .iter()
            .zip(&small[1])
            .map(|(&a, &b)| -(a * a + b))
            .collect();
        let config = TreeConfig {
            num_leaves: 8,
            min_data_in_leaf: 5,
            min_sum_hessian: 1e-3,
            l2: 0.0,
            learning_rate: 1.0,
        };
        let mut rows: Vec<u32> = (0..2000).collect();
        let tree = Grower::new(&data, config).grow(&mut rows, &g, &vec![1.0; 2000]);
        let large = x(150_001);
        let binned = Binned::with_edges(&large, &data.edges);
        let mut scores = vec![0.5; 150_001];
        add_predictions(&tree, &binned, &mut scores);
        for (i, s) in scores.iter().enumerate() {
            let p = tree.predict(&[large[0][i], large[1][i]]);
            assert!((0.5 + f64::from(p) - s).abs() < 1e-6, "row {i}: {s} vs {p}");
        }
    }

    /// Squared loss on y = 3·[x0 > 0.5] + x1: a tree grown on the gradients at 0 predicts y closely.
    #[test]
    fn a_tree_fits_a_step_and_its_paths_explain_its_predictions() {
        let n = 2000;
        let x0: Vec<f32> = (0..n).map(|i| (i % 100) as f32 / 100.0).collect();
        let x1: Vec<f32> = (0..n).map(|i| ((i * 7) % 13) as f32 / 13.0).collect();
        let y: Vec<f32> = x0
            .iter()
            .zip(&x1)
            .map(|(&a, &b)| if a > 0.5 { 3.0 } else { 0.0 } + b)
            .collect();
        let data = Binned::new(&[x0.clone(), x1.clone()], 64);
        let config = TreeConfig {
            num_leaves: 16,
            min_data_in_leaf: 5,
            min_sum_hessian: 1e-3,
            l2: 0.0,
            learning_rate: 1.0,
        };
        // Squared loss at prediction 0: g = -y, h = 1.
        let g: Vec<f32> = y.iter().map(|v| -v).collect();
        let h = vec![1.0; n];
        let mut rows: Vec<u32> = (0..n as u32).collect();
        let tree = Grower::new(&data, config).grow(&mut rows, &g, &h);
        assert_eq!(tree.nodes[0].feature, 0, "the step is the best first split");
        let mut binned_scores = vec![0.0; n];
        add_predictions(&tree, &data, &mut binned_scores);
        let mut error = 0.0;
        for i in 0..n {
            let row = [x0[i], x1[i]];
            let p = tree.predict(&row);
            assert!(
                (f64::from(p) - binned_scores[i]).abs() < 1e-6,
                "raw and binned paths agree"
            );
            error += (p - y[i]).powi(2);
            let mut contributions = [0.0f32; 2];
            let bias = tree.attribute(&row, &mut contributions);
            assert!((bias + contributions[0] + contributions[1] - p).abs() < 1e-4);
        }
        assert!(error / (n as f32) < 0.02, "mse {}", error / n as f32);
        // Missing values go left, as in training.
        assert_eq!(
            tree.predict(&[f32::NAN, f32::NAN]),
            tree.predict(&[-1.0, -1.0])
        );
    }
}
