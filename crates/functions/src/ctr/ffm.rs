//! A field-aware factorization machine (Juan et al., 2016) with linear terms, trained by AdaGrad on the
//! logistic loss with L2 regularisation. With `k = 0` it is logistic regression. Either may add hashed crosses
//! of the user, the query and its terms with the item's category to the linear part: the baseline a user would
//! build by hand (and the `lr` model); in the FFM they remember what the factors would only approximate, as the
//! wide part of a wide-and-deep model does, so that the FFM contains the baseline.
//!
//! Every feature has one factor vector per field; the interaction of features `i` (field `f`) and `j` (field
//! `g`) is `<v[i][g], v[j][f]> x_i x_j`. Features of one field are summed first (`S[f][g] = Σ_{i∈f} x_i v[i][g]`),
//! so an example costs `O(features × fields × k)` instead of `O(features² × k)`; pairs within one field do not
//! interact (terms of one title with each other, say), which is what the crosses between fields are for.
//!
//! The position an example was shown at adds its own learned term to the logit and interacts with nothing.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::examples::{Active, Examples};
use super::features::{CATEGORY, ITEM, ITEM_TERM, MAX_POSITION, QUERY, QUERY_TERM, USER};
use super::train::Ticker;

/// Hashed cross rows of the logistic regression with crosses.
pub const CROSS_BUCKETS: u32 = 1 << 20;
const POSITIONS: usize = MAX_POSITION as usize + 1;

/// The weights of a trained model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Weights {
    /// Fields of the schema.
    pub fields: usize,
    /// Factor length; 0 for logistic regression.
    pub k: usize,
    /// Hashed cross rows after the feature rows (0: no crosses).
    pub cross_buckets: u32,
    pub crosses: Crosses,
    pub bias: f32,
    /// One per feature row, then one per cross bucket.
    pub linear: Vec<f32>,
    /// `rows × fields × k`: the factor vector of row `i` towards field `g` starts at `(i × fields + g) × k`.
    pub factors: Vec<f32>,
}

/// Reusable buffers of one thread.
pub struct Scratch {
    /// `S[f][g]`, `fields × fields × k`.
    sums: Vec<f32>,
    crossed: Vec<Active>,
}

impl Scratch {
    pub fn new(fields: usize, k: usize) -> Self {
        Scratch {
            sums: vec![0.0; fields * fields * k],
            crossed: Vec::new(),
        }
    }
}

fn present_fields(features: &[Active]) -> u32 {
    features.iter().fold(0, |m, a| m | (1 << a.field))
}

/// Which hashed crosses a model has in its linear part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Crosses {
    Off,
    /// The user, the query and its terms with every category prefix of the item: the crosses of the baseline a
    /// user would build by hand (issue 14's "crossed logistic regression").
    Named,
    /// The named crosses, and the user with the item and with its words: they remember what a user keeps
    /// choosing (an app used again, a liked brand), which factors of a few dimensions only approximate (measured
    /// in bench/README.md).
    Personal,
}

impl Crosses {
    /// Whether a feature of field `left` is crossed with one of field `right`.
    fn pairs(self, left: u8, right: u8) -> bool {
        match (self, left) {
            (Crosses::Off, _) => false,
            (_, QUERY | QUERY_TERM) => right == CATEGORY,
            (Crosses::Named, USER) => right == CATEGORY,
            (Crosses::Personal, USER) => matches!(right, CATEGORY | ITEM | ITEM_TERM),
            _ => false,
        }
    }
}

/// The cross rows of `shared` × `own` features (and within each), as `kind` pairs them.
pub(super) fn crosses(
    kind: Crosses,
    rows: usize,
    buckets: u32,
    features: &[&[Active]],
    out: &mut Vec<Active>,
) {
    out.clear();
    if buckets == 0 || kind == Crosses::Off {
        return;
    }
    for left in features.iter().flat_map(|f| f.iter()) {
        if !matches!(left.field, USER | QUERY | QUERY_TERM) {
            continue;
        }
        for right in features.iter().flat_map(|f| f.iter()) {
            if !kind.pairs(left.field, right.field) {
                continue;
            }
            let mut bytes = [0u8; 9];
            bytes[..4].copy_from_slice(&left.index.to_le_bytes());
            bytes[4..8].copy_from_slice(&right.index.to_le_bytes());
            bytes[8] = left.field;
            let bucket = (xxh3_64(&bytes) % u64::from(buckets)) as u32;
            out.push(Active {
                index: rows as u32 + bucket,
                field: left.field,
                x: left.x * right.x,
            });
        }
    }
}

impl Weights {
    pub fn rows(&self) -> usize {
        self.linear.len() - self.cross_buckets as usize
    }

    /// The relevance logit of an example (no position term).
    pub fn logit(&self, features: &[Active], scratch: &mut Scratch) -> f32 {
        let mut crossed = std::mem::take(&mut scratch.crossed);
        crosses(
            self.crosses,
            self.rows(),
            self.cross_buckets,
            &[features],
            &mut crossed,
        );
        let z = logit(
            self.fields,
            self.bias,
            |i| self.linear[i],
            &self.factors,
            self.k,
            self.k,
            features,
            scratch,
        ) + crossed
            .iter()
            .map(|a| self.linear[a.index as usize] * a.x)
            .sum::<f32>();
        scratch.crossed = crossed;
        z
    }

    /// The part of the logit owed to features many examples share (a request's user, query and context),
    /// computed once for all of them.
    pub fn partial(&self, shared: &[Active]) -> Partial {
        let (k, nf) = (self.k, self.fields);
        let mut z = self.bias;
        let mut sums = vec![0.0; nf * nf * k];
        for a in shared {
            z += self.linear[a.index as usize] * a.x;
            add_towards_all(nf, &self.factors, k, a, &mut sums);
        }
        Partial {
            linear: z,
            sums,
            present: present_fields(shared),
            shared: shared.to_vec(),
        }
    }

    /// The relevance logit of an example made of `partial`'s shared features and its `own`: the same as
    /// [`Weights::logit`] on all of them (up to rounding).
    pub fn logit_with(&self, partial: &Partial, own: &[Active], scratch: &mut Scratch) -> f32 {
        let (k, nf) = (self.k, self.fields);
        let mut z = partial.linear;
        for a in own {
            z += self.linear[a.index as usize] * a.x;
        }
        if self.cross_buckets > 0 {
            let mut crossed = std::mem::take(&mut scratch.crossed);
            crosses(
                self.crosses,
                self.rows(),
                self.cross_buckets,
                &[&partial.shared, own],
                &mut crossed,
            );
            z += crossed
                .iter()
                .map(|a| self.linear[a.index as usize] * a.x)
                .sum::<f32>();
            scratch.crossed = crossed;
        }
        if k > 0 {
            let sums = &mut scratch.sums;
            sums.copy_from_slice(&partial.sums);
            for a in own {
                add_towards_all(nf, &self.factors, k, a, sums);
            }
            z += pairs(nf, sums, k, partial.present | present_fields(own));
        }
        z
    }
}

/// The logit of an example over weights laid out with the factor vector of `(row, field)` at
/// `(row × fields + field) × stride` (`stride` = k for served weights; the learner keeps its AdaGrad sums next to
/// them, so that one cache line brings both). Leaves the field sums `S[f][g]` in `scratch`.
#[allow(clippy::too_many_arguments)]
fn logit(
    nf: usize,
    bias: f32,
    linear: impl Fn(usize) -> f32,
    factors: &[f32],
    k: usize,
    stride: usize,
    features: &[Active],
    scratch: &mut Scratch,
) -> f32 {
    let mut z = bias;
    for a in features {
        z += linear(a.index as usize) * a.x;
    }
    if k == 0 {
        return z;
    }
    let present = present_fields(features);
    let sums = &mut scratch.sums;
    sums.iter_mut().for_each(|s| *s = 0.0);
    for a in features {
        let f = a.field as usize;
        let row = a.index as usize * nf * stride;
        for g in 0..nf {
            if g == f || present & (1 << g) == 0 {
                continue;
            }
            let v = &factors[row + g * stride..row + g * stride + k];
            let s = &mut sums[(f * nf + g) * k..(f * nf + g + 1) * k];
            for (s, v) in s.iter_mut().zip(v) {
                *s += a.x * v;
            }
        }
    }
    z + pairs(nf, sums, k, present)
}

/// `Σ_{f<g} ⟨S[f][g], S[g][f]⟩` over the fields present.
fn pairs(nf: usize, sums: &[f32], k: usize, present: u32) -> f32 {
    let mut z = 0.0;
    for f in 0..nf {
        if present & (1 << f) == 0 {
            continue;
        }
        for g in f + 1..nf {
            if present & (1 << g) == 0 {
                continue;
            }
            let a = &sums[(f * nf + g) * k..(f * nf + g + 1) * k];
            let b = &sums[(g * nf + f) * k..(g * nf + f + 1) * k];
            z += a.iter().zip(b).map(|(a, b)| a * b).sum::<f32>();
        }
    }
    z
}

/// Adds feature `a`'s factor vectors towards every other field to the sums (served layout, stride k).
fn add_towards_all(nf: usize, factors: &[f32], k: usize, a: &Active, sums: &mut [f32]) {
    let f = a.field as usize;
    let row = a.index as usize * nf * k;
    for g in 0..nf {
        if g == f {
            continue;
        }
        let v = &factors[row + g * k..row + (g + 1) * k];
        let s = &mut sums[(f * nf + g) * k..(f * nf + g + 1) * k];
        for (s, v) in s.iter_mut().zip(v) {
            *s += a.x * v;
        }
    }
}

/// See [`Weights::partial`].
pub struct Partial {
    linear: f32,
    sums: Vec<f32>,
    present: u32,
    shared: Vec<Active>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FfmConfig {
    pub k: usize,
    pub learning_rate: f32,
    pub l2: f32,
    /// Hashed crosses in the linear part.
    pub crosses: Crosses,
}

/// The learner: weights and their AdaGrad accumulators, side by side.
#[derive(Clone)]
pub struct Learner {
    nf: usize,
    rows: usize,
    bias: [f32; 2],
    /// Per row (and cross bucket): weight, accumulator.
    linear: Vec<[f32; 2]>,
    /// Per row and field: the factor vector (k), then its accumulators (k).
    cells: Vec<f32>,
    /// Per position index: weight, accumulator.
    position: Vec<[f32; 2]>,
    /// Position terms held at an estimate of their own ([`Learner::fix_positions`]).
    position_fixed: Vec<bool>,
    config: FfmConfig,
    scratch_sums: Vec<f32>,
}

impl Learner {
    pub fn new(fields: usize, rows: usize, config: FfmConfig, seed: u64) -> Self {
        let k = config.k;
        let mut rng = SmallRng::seed_from_u64(seed);
        // Small symmetric initial factors: with ~8 fields present the initial interactions stay near zero.
        let scale = 0.1 / (k.max(1) as f32).sqrt();
        let mut cells = Vec::with_capacity(rows * fields * 2 * k);
        for _ in 0..rows * fields {
            cells.extend((0..k).map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale));
            // AdaGrad accumulators start at 1 (as in LIBFFM) so that the first steps are not huge.
            cells.extend(std::iter::repeat_n(1.0, k));
        }
        let buckets = if config.crosses != Crosses::Off {
            CROSS_BUCKETS as usize
        } else {
            0
        };
        Learner {
            nf: fields,
            rows,
            bias: [0.0, 1.0],
            linear: vec![[0.0, 1.0]; rows + buckets],
            cells,
            position: vec![[0.0, 1.0]; POSITIONS],
            position_fixed: vec![false; POSITIONS],
            config,
            scratch_sums: vec![0.0; fields * fields * k],
        }
    }

    fn buckets(&self) -> u32 {
        (self.linear.len() - self.rows) as u32
    }

    /// Holds the position terms that `fixed` marks at `terms` from now on (the others keep learning).
    pub fn fix_positions(&mut self, terms: &[f32], fixed: &[bool]) {
        for (k, (&t, &f)) in terms.iter().zip(fixed).enumerate().take(POSITIONS) {
            if f {
                self.position[k][0] = t;
                self.position_fixed[k] = true;
            }
        }
    }

    /// The full logit (position term included); leaves the field sums in `scratch` and the crosses in `crossed`.
    fn logit(
        &self,
        features: &[Active],
        position: u8,
        scratch: &mut Scratch,
        crossed: &mut Vec<Active>,
    ) -> f32 {
        let k = self.config.k;
        crosses(
            self.config.crosses,
            self.rows,
            self.buckets(),
            &[features],
            crossed,
        );
        logit(
            self.nf,
            self.bias[0],
            |i| self.linear[i][0],
            &self.cells,
            k,
            2 * k,
            features,
            scratch,
        ) + crossed
            .iter()
            .map(|a| self.linear[a.index as usize][0] * a.x)
            .sum::<f32>()
            + self.position[usize::from(position)][0]
    }

    /// The weights alone, as served.
    pub fn weights(&self) -> (Weights, Vec<f32>) {
        let k = self.config.k;
        (
            Weights {
                fields: self.nf,
                k,
                cross_buckets: self.buckets(),
                crosses: self.config.crosses,
                bias: self.bias[0],
                linear: self.linear.iter().map(|l| l[0]).collect(),
                factors: self
                    .cells
                    .chunks_exact(2 * k.max(1))
                    .flat_map(|c| c[..k].iter().copied())
                    .collect(),
            },
            self.position.iter().map(|p| p[0]).collect(),
        )
    }

    /// One AdaGrad step on one example.
    fn step(
        &mut self,
        features: &[Active],
        position: u8,
        label: bool,
        scratch: &mut Scratch,
        crossed: &mut Vec<Active>,
    ) {
        let p = sigmoid(self.logit(features, position, scratch, crossed));
        let g = p - if label { 1.0 } else { 0.0 };
        let (eta, l2, k) = (self.config.learning_rate, self.config.l2, self.config.k);
        let adagrad = |w: &mut [f32; 2], grad: f32| {
            w[1] += grad * grad;
            w[0] -= eta * grad / w[1].sqrt();
        };
        adagrad(&mut self.bias, g);
        if !self.position_fixed[usize::from(position)] {
            adagrad(&mut self.position[usize::from(position)], g);
        }
        for a in features.iter().chain(crossed.iter()) {
            let w = &mut self.linear[a.index as usize];
            let gl = g * a.x + l2 * w[0];
            adagrad(w, gl);
        }
        if k == 0 {
            return;
        }
        let nf = self.nf;
        let present = present_fields(features);
        let stride = 2 * k;
        for a in features {
            let f = a.field as usize;
            let row = a.index as usize * nf * stride;
            let gx = g * a.x;
            for gf in 0..nf {
                if gf == f || present & (1 << gf) == 0 {
                    continue;
                }
                // d logit / d v[i][gf] = x_i × S[gf][f]
                let other = &scratch.sums[(gf * nf + f) * k..(gf * nf + f + 1) * k];
                let at = row + gf * stride;
                let (v, acc) = self.cells[at..at + stride].split_at_mut(k);
                // Zipped slices of equal length: no bounds checks, and the loop vectorises (sqrt included).
                for ((v, acc), other) in v.iter_mut().zip(acc.iter_mut()).zip(other) {
                    let grad = gx * other + l2 * *v;
                    *acc += grad * grad;
                    *v -= eta * grad / acc.sqrt();
                }
            }
        }
    }

    /// One pass over the examples in `order`; `false` when cancelled.
    pub fn pass(&mut self, examples: &dyn Examples, order: &[u32], ticker: &Ticker) -> bool {
        let mut scratch = Scratch {
            sums: std::mem::take(&mut self.scratch_sums),
            crossed: Vec::new(),
        };
        let mut crossed = Vec::new();
        let mut buf = Vec::new();
        let mut ok = true;
        for chunk in order.chunks(4096) {
            if !ticker.tick(chunk.len()) {
                ok = false;
                break;
            }
            for &i in chunk {
                let i = i as usize;
                examples.features(i, &mut buf);
                self.step(
                    &buf,
                    examples.position(i),
                    examples.label(i),
                    &mut scratch,
                    &mut crossed,
                );
            }
        }
        self.scratch_sums = scratch.sums;
        ok
    }

    /// Full logits (position term included) of the examples of `indices`.
    pub fn logits(&self, examples: &dyn Examples, indices: &[u32]) -> Vec<f32> {
        let mut scratch = Scratch::new(self.nf, self.config.k);
        let mut crossed = Vec::new();
        let mut buf = Vec::new();
        indices
            .iter()
            .map(|&i| {
                examples.features(i as usize, &mut buf);
                self.logit(
                    &buf,
                    examples.position(i as usize),
                    &mut scratch,
                    &mut crossed,
                )
            })
            .collect()
    }

    /// Bytes the learner holds.
    pub fn bytes(&self) -> usize {
        4 * (2 * self.linear.len() + self.cells.len())
    }
}

pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z.clamp(-35.0, 35.0)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctr::train::tests::{Interaction, interaction_data};

    fn train(config: FfmConfig, data: &Interaction, epochs: usize) -> Learner {
        let mut learner = Learner::new(2, 4, config, 1);
        let order: Vec<u32> = (0..16_000).collect();
        for _ in 0..epochs {
            assert!(learner.pass(data, &order, &Ticker::default()));
        }
        learner
    }

    fn config(k: usize) -> FfmConfig {
        FfmConfig {
            k,
            learning_rate: 0.1,
            l2: 0.0,
            crosses: Crosses::Off,
        }
    }

    fn loss(learner: &Learner, data: &Interaction) -> f64 {
        let held: Vec<u32> = (16_000..20_000).collect();
        let z = learner.logits(data, &held);
        let p: Vec<f32> = z.iter().map(|&z| sigmoid(z)).collect();
        let labels: Vec<bool> = held.iter().map(|&i| data.label(i as usize)).collect();
        crate::evaluation::logloss(&p, &labels).unwrap()
    }

    #[test]
    fn factors_learn_an_interaction_that_a_linear_model_cannot() {
        let data = interaction_data();
        let ffm = train(config(4), &data, 5);
        let lr = train(config(0), &data, 5);
        let (ffm_loss, lr_loss) = (loss(&ffm, &data), loss(&lr, &data));
        assert!(ffm_loss < lr_loss - 0.1, "ffm {ffm_loss} lr {lr_loss}");
        // The served weights and position term give the learner's logits, and the split computation the same.
        let (w, position) = ffm.weights();
        let mut scratch = Scratch::new(2, 4);
        let mut buf = Vec::new();
        for i in 0..50 {
            data.features(i, &mut buf);
            let whole = w.logit(&buf, &mut scratch);
            let learner = ffm.logits(&data, &[i as u32])[0];
            let split = w.logit_with(&w.partial(&buf[..1]), &buf[1..], &mut scratch);
            assert!(
                (whole + position[0] - learner).abs() < 1e-5,
                "{whole} {learner}"
            );
            assert!((whole - split).abs() < 1e-5, "{whole} {split}");
        }
        let i = (0..20_000)
            .position(|i| data.data[i].0 == 1 && data.data[i].1 == 1)
            .unwrap();
        data.features(i, &mut buf);
        let p = sigmoid(w.logit(&buf, &mut scratch) + position[0]);
        assert!((p - 0.8).abs() < 0.05, "{p}");
    }

    #[test]
    fn crosses_serve_as_they_train() {
        let data = interaction_data();
        let lr = train(
            FfmConfig {
                crosses: Crosses::Personal,
                ..config(0)
            },
            &data,
            2,
        );
        let (w, _) = lr.weights();
        assert_eq!(w.cross_buckets, CROSS_BUCKETS);
        let mut scratch = Scratch::new(2, 0);
        let mut buf = Vec::new();
        for i in 0..20 {
            data.features(i, &mut buf);
            let whole = w.logit(&buf, &mut scratch);
            let split = w.logit_with(&w.partial(&buf[..1]), &buf[1..], &mut scratch);
            assert!((whole - split).abs() < 1e-5, "{whole} {split}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_weights() {
        let data = interaction_data();
        let a = train(config(4), &data, 1).weights();
        let b = train(config(4), &data, 1).weights();
        assert_eq!(a, b);
        let mut other = Learner::new(2, 4, config(4), 2);
        other.pass(&data, &(0..16_000).collect::<Vec<_>>(), &Ticker::default());
        assert_ne!(a, other.weights());
    }

    #[test]
    fn cancelling_stops_a_pass() {
        let data = interaction_data();
        let mut learner = Learner::new(2, 4, config(4), 1);
        let ticker = Ticker::default();
        ticker.cancel();
        assert!(!learner.pass(&data, &[0, 1, 2], &ticker));
    }
}
