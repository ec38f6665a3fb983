//! The deep interaction model, of the DeepFM family: one embedding per feature row (a field's values pooled,
//! weighted as the other models weight them), a linear term, the factorization machine's pairwise interactions
//! of the field embeddings, and a multi-layer perceptron (ReLU) over their concatenation; the position term is
//! added to the logit and interacts with nothing.
//!
//! Trained by Adam on minibatches of the mean logistic loss, with L2 on the **whole** embedding table at every
//! step (rows not in the batch shrink too: what separated 0.979 from 0.984 in the reference runs of
//! `shared/notes/models.md`); tables of more than [`DENSE_ROWS`] rows are updated lazily instead. A minibatch is split into one contiguous part per thread; each thread computes
//! its part's gradients into its own buffers, and they are summed in thread order, so the result depends on the
//! seed and the thread count only. The dense products go through `matrixmultiply`'s SIMD kernels.

use serde::{Deserialize, Serialize};

use super::dense::gemm;
use super::examples::Active;
use super::features::{CATEGORY, ITEM, ITEM_TERM, MAX_POSITION};
use super::ffm::{Crosses, crosses};

pub(super) const POSITIONS: usize = MAX_POSITION as usize + 1;
pub(super) const BETA1: f32 = 0.9;
pub(super) const BETA2: f32 = 0.999;
pub(super) const EPSILON: f32 = 1e-8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeepConfig {
    /// Embedding length.
    pub dim: usize,
    /// Widths of the hidden layers (0: none from there on).
    pub hidden: [usize; 3],
    pub learning_rate: f32,
    /// L2 on every row of the embedding table and of the linear weights, at every step.
    pub embedding_l2: f32,
    pub batch: usize,
    /// Hashed crosses beside the linear term.
    pub crosses: Crosses,
    /// AdaGrad step size of the crosses' buckets (set from the log: `ctr::wide_learning_rate`).
    pub cross_learning_rate: f32,
}

impl DeepConfig {
    pub fn layers(&self) -> Vec<usize> {
        self.hidden.iter().copied().take_while(|&h| h > 0).collect()
    }

    /// Multiply-adds of one example's forward pass through the perceptron, for cost estimates.
    pub fn flops(&self, fields: usize) -> usize {
        let mut inputs = fields * self.dim;
        let mut total = 0;
        for h in self.layers() {
            total += inputs * h;
            inputs = h;
        }
        total + inputs
    }
}

/// A dense layer: `outputs = inputs · w + b`, `w` row-major `inputs × outputs`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// The served weights.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DeepWeights {
    pub fields: usize,
    /// Per field: its slot among the perceptron's inputs, `u8::MAX` for a field no fitted example has (a
    /// context-only log has no query or category: no inputs are spent on them).
    pub slots: Vec<u8>,
    pub dim: usize,
    pub bias: f32,
    /// One per feature row.
    pub linear: Vec<f32>,
    /// `rows × dim`.
    pub embeddings: Vec<f32>,
    /// Hidden layers (ReLU), then the output layer (one output, linear).
    pub layers: Vec<Dense>,
    /// Hashed crosses beside the linear term (the "wide" part): which, and a weight per bucket (none: empty).
    pub crosses: Crosses,
    pub cross: Vec<f32>,
}

impl DeepWeights {
    pub fn rows(&self) -> usize {
        self.linear.len()
    }

    /// Fields with a slot.
    pub fn used(&self) -> usize {
        self.slots.iter().filter(|&&s| s != u8::MAX).count()
    }

    /// Adds `a`'s embedding, weighted by its value, into a slot's `dim` inputs.
    fn pool(&self, a: &Active, into: &mut [f32]) {
        let dim = self.dim;
        let e = &self.embeddings[a.index as usize * dim..(a.index as usize + 1) * dim];
        for (x, e) in into.iter_mut().zip(e) {
            *x += a.x * e;
        }
    }

    /// Adds the wide part's terms of one example whose features are `features` to its logit `z`, leaving its
    /// cross rows in `buf`.
    fn add_wide(&self, z: &mut f32, features: &[&[Active]], buf: &mut Vec<Active>) {
        // Bucket numbers (the crosses' rows start at 0 here: they have a table of their own).
        crosses(self.crosses, 0, self.cross.len() as u32, features, buf);
        for c in buf.iter() {
            *z += self.cross[c.index as usize] * c.x;
        }
    }

    fn slot(&self, field: u8) -> Option<usize> {
        match self.slots.get(usize::from(field)) {
            Some(&s) if s != u8::MAX => Some(usize::from(s)),
            _ => None,
        }
    }

    /// Whether the shapes agree (a loaded artifact is checked before use).
    pub fn consistent(&self) -> bool {
        let mut inputs = self.used() * self.dim;
        for l in &self.layers {
            if l.inputs != inputs || l.w.len() != l.inputs * l.outputs || l.b.len() != l.outputs {
                return false;
            }
            inputs = l.outputs;
        }
        inputs == 1
            && (self.cross.is_empty() || self.crosses != Crosses::Off)
            && self.dim > 0
            && self.dim <= 256
            && self.embeddings.len() == self.linear.len() * self.dim
            && self.slots.len() == self.fields
            && self
                .slots
                .iter()
                .filter(|&&s| s != u8::MAX)
                .enumerate()
                .all(|(i, &s)| usize::from(s) == i)
    }

    /// Relevance logits of `n` examples whose features `fill(i, out)` writes (no position term).
    pub fn logits(
        &self,
        n: usize,
        fill: &mut dyn FnMut(usize, &mut Vec<Active>),
        work: &mut Work,
    ) -> Vec<f32> {
        forward(self, n, fill, work);
        work.z.clone()
    }

    /// The logits [`DeepWeights::logits`] gives `n` candidates of one request whose features are `shared` (the
    /// user's, the query's, the context's) followed by the candidate's own, which `own(i, out)` appends to an
    /// empty `out`. What the candidates share is computed once instead of `n` times: the request fields'
    /// embeddings, their part of the first layer's product (most of its inputs) and of the pairwise
    /// interactions. Equal to `logits` up to the rounding of sums taken in another order, and a candidate's
    /// logit does not depend on the other candidates (unless one brings a feature of a request field, which
    /// candidates' item features never do: then all take the general pass).
    pub fn request_logits(
        &self,
        shared: &[Active],
        n: usize,
        own: &mut dyn FnMut(usize, &mut Vec<Active>),
        work: &mut Work,
    ) -> Vec<f32> {
        let dim = self.dim;
        let width = self.used() * dim;
        // The slots a candidate's features fill, in slot order; the others are the request's.
        let varying: Vec<usize> = CANDIDATE_FIELDS
            .iter()
            .filter_map(|&f| self.slot(f))
            .collect();
        let place = |slot: usize| varying.iter().position(|&s| s == slot);
        work.actives.clear();
        work.starts.clear();
        work.starts.push(0);
        for i in 0..n {
            work.buf.clear();
            own(i, &mut work.buf);
            work.actives.extend_from_slice(&work.buf);
            work.starts.push(work.actives.len() as u32);
        }
        let unexpected = work
            .actives
            .iter()
            .any(|a| self.slot(a.field).is_some_and(|s| place(s).is_none()));
        let Some(first) = self.layers.first().filter(|_| !unexpected) else {
            // A candidate feature in a request field (or no perceptron): the general pass.
            let actives = std::mem::take(&mut work.actives);
            let starts = std::mem::take(&mut work.starts);
            let mut fill = |i: usize, out: &mut Vec<Active>| {
                out.clear();
                out.extend_from_slice(shared);
                out.extend_from_slice(&actives[starts[i] as usize..starts[i + 1] as usize]);
            };
            let z = self.logits(n, &mut fill, work);
            (work.actives, work.starts) = (actives, starts);
            return z;
        };

        // The request's part: its fields' pooled embeddings (zero in the candidate slots), linear terms, sum and
        // squares for the pairwise interactions, and first-layer outputs.
        work.x_shared.clear();
        work.x_shared.resize(width, 0.0);
        work.shared_in_candidate_slots.clear();
        let mut z0 = self.bias;
        for a in shared {
            let Some(f) = self.slot(a.field) else {
                continue;
            };
            z0 += self.linear[a.index as usize] * a.x;
            if place(f).is_some() {
                work.shared_in_candidate_slots.push(*a);
                continue;
            }
            self.pool(a, &mut work.x_shared[f * dim..(f + 1) * dim]);
        }
        // `sums`: the request's sum of field embeddings, then each candidate's.
        work.sums.clear();
        work.sums.resize(2 * dim, 0.0);
        let (shared_sum, sum) = work.sums.split_at_mut(dim);
        let mut shared_squares = 0.0;
        for e in work.x_shared.chunks_exact(dim) {
            for (s, e) in shared_sum.iter_mut().zip(e) {
                *s += e;
                shared_squares += e * e;
            }
        }
        // One row times the layer: a plain loop that skips the zero inputs (the candidate slots) instead of a
        // product that would pack the whole matrix.
        work.h_shared.clear();
        work.h_shared.extend_from_slice(&first.b);
        for (x, w) in work
            .x_shared
            .iter()
            .zip(first.w.chunks_exact(first.outputs))
        {
            if *x != 0.0 {
                for (h, w) in work.h_shared.iter_mut().zip(w) {
                    *h += x * w;
                }
            }
        }
        // The first layer's rows of the candidate slots, together.
        work.w_candidate.clear();
        for &s in &varying {
            work.w_candidate.extend_from_slice(
                &first.w[s * dim * first.outputs..(s + 1) * dim * first.outputs],
            );
        }

        // Each candidate's part.
        let kv = varying.len() * dim;
        work.x0.clear();
        work.x0.resize(n * kv, 0.0);
        work.z.clear();
        work.z.resize(n, z0);
        for i in 0..n {
            let own = &work.actives[work.starts[i] as usize..work.starts[i + 1] as usize];
            let x = &mut work.x0[i * kv..(i + 1) * kv];
            // The request's linear terms are in `z0` already; its features in candidate slots pool here.
            for (a, linear) in work
                .shared_in_candidate_slots
                .iter()
                .map(|a| (a, false))
                .chain(own.iter().map(|a| (a, true)))
            {
                let Some(p) = self.slot(a.field).and_then(place) else {
                    continue;
                };
                if linear {
                    work.z[i] += self.linear[a.index as usize] * a.x;
                }
                self.pool(a, &mut x[p * dim..(p + 1) * dim]);
            }
            if !self.cross.is_empty() {
                self.add_wide(&mut work.z[i], &[shared, own], &mut work.cross_buf);
            }
            sum.copy_from_slice(shared_sum);
            let mut squares = shared_squares;
            for e in x.chunks_exact(dim) {
                for (s, e) in sum.iter_mut().zip(e) {
                    *s += e;
                    squares += e * e;
                }
            }
            work.z[i] += 0.5 * (sum.iter().map(|s| s * s).sum::<f32>() - squares);
        }
        work.acts.resize_with(self.layers.len(), Vec::new);
        let out = &mut work.acts[0];
        out.clear();
        for _ in 0..n {
            out.extend_from_slice(&work.h_shared);
        }
        gemm(
            n,
            kv,
            first.outputs,
            &work.x0,
            false,
            &work.w_candidate,
            false,
            1.0,
            out,
        );
        if self.layers.len() > 1 {
            out.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        perceptron(self, 1, n, work);
        work.z.clone()
    }
}

/// Fields whose features come with the candidate: its id, categories and title terms.
const CANDIDATE_FIELDS: [u8; 3] = [ITEM, CATEGORY, ITEM_TERM];

/// Buffers of one thread's part of a batch.
#[derive(Default)]
pub struct Work {
    buf: Vec<Active>,
    /// The actives of every example, flat.
    actives: Vec<Active>,
    starts: Vec<u32>,
    /// `n × fields·dim`: the pooled field embeddings.
    x0: Vec<f32>,
    /// `n × dim`: their sum.
    sums: Vec<f32>,
    /// Output of each layer, `n × outputs`.
    acts: Vec<Vec<f32>>,
    /// Cross rows of every example (bucket numbers), flat, and where each example's start.
    pub(super) crossed: Vec<Active>,
    pub(super) cross_starts: Vec<u32>,
    cross_buf: Vec<Active>,
    /// Logits.
    pub(super) z: Vec<f32>,
    /// Serving one request ([`DeepWeights::request_logits`]): the request fields' pooled embeddings, its
    /// features that fall in candidate slots, its first-layer outputs, and the first layer's rows of the
    /// candidate slots.
    x_shared: Vec<f32>,
    shared_in_candidate_slots: Vec<Active>,
    h_shared: Vec<f32>,
    w_candidate: Vec<f32>,
    grad_a: Vec<f32>,
    grad_b: Vec<f32>,
}

/// The forward pass: fills `work` and leaves the logits (without position term) in `work.z`.
pub(super) fn forward(
    w: &DeepWeights,
    n: usize,
    fill: &mut dyn FnMut(usize, &mut Vec<Active>),
    work: &mut Work,
) {
    let dim = w.dim;
    let width = w.used() * dim;
    work.actives.clear();
    work.starts.clear();
    work.starts.push(0);
    work.crossed.clear();
    work.cross_starts.clear();
    work.cross_starts.push(0);
    work.x0.clear();
    work.x0.resize(n * width, 0.0);
    work.sums.clear();
    work.sums.resize(n * dim, 0.0);
    work.z.clear();
    work.z.resize(n, w.bias);
    for i in 0..n {
        fill(i, &mut work.buf);
        let x0 = &mut work.x0[i * width..(i + 1) * width];
        for a in &work.buf {
            let Some(f) = w.slot(a.field) else {
                continue;
            };
            work.z[i] += w.linear[a.index as usize] * a.x;
            w.pool(a, &mut x0[f * dim..(f + 1) * dim]);
        }
        if !w.cross.is_empty() {
            w.add_wide(&mut work.z[i], &[&work.buf], &mut work.cross_buf);
            work.crossed.extend_from_slice(&work.cross_buf);
        }
        work.cross_starts.push(work.crossed.len() as u32);
        work.actives.extend_from_slice(&work.buf);
        work.starts.push(work.actives.len() as u32);
        // Pairwise interactions of the fields: (‖Σ e_f‖² − Σ ‖e_f‖²) / 2.
        let s = &mut work.sums[i * dim..(i + 1) * dim];
        let mut squares = 0.0;
        for e in x0.chunks_exact(dim) {
            for (s, e) in s.iter_mut().zip(e) {
                *s += e;
                squares += e * e;
            }
        }
        work.z[i] += 0.5 * (s.iter().map(|s| s * s).sum::<f32>() - squares);
    }
    work.acts.resize_with(w.layers.len(), Vec::new);
    perceptron(w, 0, n, work);
}

/// The perceptron's layers from `from` on (the input of the first is `work.x0`, of the others the previous
/// layer's output in `work.acts`), then its output added to the logits `work.z`.
fn perceptron(w: &DeepWeights, from: usize, n: usize, work: &mut Work) {
    for (l, layer) in w.layers.iter().enumerate().skip(from) {
        let (done, rest) = work.acts.split_at_mut(l);
        let input: &[f32] = if l == 0 { &work.x0 } else { &done[l - 1] };
        let out = &mut rest[0];
        out.clear();
        for _ in 0..n {
            out.extend_from_slice(&layer.b);
        }
        gemm(
            n,
            layer.inputs,
            layer.outputs,
            input,
            false,
            &layer.w,
            false,
            1.0,
            out,
        );
        if l + 1 < w.layers.len() {
            out.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    }
    if let Some(last) = work.acts.last() {
        for (z, o) in work.z.iter_mut().zip(last) {
            *z += o;
        }
    }
}

/// Gradients of one thread.
#[derive(Clone)]
pub(super) struct Grads {
    pub bias: f32,
    pub linear: Vec<f32>,
    pub embeddings: Vec<f32>,
    pub layers: Vec<(Vec<f32>, Vec<f32>)>,
    pub position: Vec<f32>,
    /// `(bucket, gradient)` of the crosses, in example order.
    pub cross: Vec<(u32, f32)>,
    /// Rows with a gradient in this batch (each once), and which rows those are.
    pub touched: Vec<u32>,
    pub marked: Vec<bool>,
}

impl Grads {
    pub(super) fn zeros(w: &DeepWeights) -> Grads {
        Grads {
            bias: 0.0,
            linear: vec![0.0; w.linear.len()],
            embeddings: vec![0.0; w.embeddings.len()],
            layers: w
                .layers
                .iter()
                .map(|l| (vec![0.0; l.w.len()], vec![0.0; l.b.len()]))
                .collect(),
            position: vec![0.0; POSITIONS],
            cross: Vec::new(),
            touched: Vec::new(),
            marked: vec![false; w.linear.len()],
        }
    }
}

/// Tables of more rows than this are updated lazily (only the rows of the batch, L2 on those alone): updating
/// every row at every step would cost more than the batch itself.
pub(super) const DENSE_ROWS: usize = 50_000;

/// Backward pass of the examples of the last `forward`, whose loss gradients (per example, already scaled to
/// the batch mean) are `g`; adds into `grads`.
pub(super) fn backward(
    w: &DeepWeights,
    g: &[f32],
    positions: &[u8],
    work: &mut Work,
    grads: &mut Grads,
) {
    let n = g.len();
    let dim = w.dim;
    let width = w.used() * dim;
    for (&g, &p) in g.iter().zip(positions) {
        grads.bias += g;
        grads.position[usize::from(p)] += g;
    }
    for (i, &gi) in g.iter().enumerate() {
        let crossed =
            &work.crossed[work.cross_starts[i] as usize..work.cross_starts[i + 1] as usize];
        grads
            .cross
            .extend(crossed.iter().map(|c| (c.index, gi * c.x)));
    }
    let layers = w.layers.len();
    // grad_a: gradient w.r.t. the current layer's output, n × outputs.
    work.grad_a.clear();
    work.grad_a.extend_from_slice(g);
    for l in (0..layers).rev() {
        let layer = &w.layers[l];
        if l + 1 < layers {
            // Through the ReLU.
            for (d, a) in work.grad_a.iter_mut().zip(&work.acts[l]) {
                if *a <= 0.0 {
                    *d = 0.0;
                }
            }
        }
        let input: &[f32] = if l == 0 { &work.x0 } else { &work.acts[l - 1] };
        let (gw, gb) = &mut grads.layers[l];
        gemm(
            layer.inputs,
            n,
            layer.outputs,
            input,
            true,
            &work.grad_a,
            false,
            1.0,
            gw,
        );
        for row in work.grad_a.chunks_exact(layer.outputs) {
            for (b, d) in gb.iter_mut().zip(row) {
                *b += d;
            }
        }
        work.grad_b.clear();
        work.grad_b.resize(n * layer.inputs, 0.0);
        gemm(
            n,
            layer.outputs,
            layer.inputs,
            &work.grad_a,
            false,
            &layer.w,
            true,
            0.0,
            &mut work.grad_b,
        );
        std::mem::swap(&mut work.grad_a, &mut work.grad_b);
    }
    if layers == 0 {
        work.grad_a.clear();
        work.grad_a.resize(n * width, 0.0);
    }
    // grad_a is now d loss / d x0; add the interactions' part, then spread to the rows.
    #[allow(clippy::needless_range_loop)] // i indexes five arrays of different strides
    for i in 0..n {
        let dx = &mut work.grad_a[i * width..(i + 1) * width];
        let x0 = &work.x0[i * width..(i + 1) * width];
        let s = &work.sums[i * dim..(i + 1) * dim];
        for (dx, e) in dx.chunks_exact_mut(dim).zip(x0.chunks_exact(dim)) {
            for ((d, s), e) in dx.iter_mut().zip(s).zip(e) {
                *d += g[i] * (s - e);
            }
        }
        let actives = &work.actives[work.starts[i] as usize..work.starts[i + 1] as usize];
        for a in actives {
            let Some(f) = w.slot(a.field) else {
                continue;
            };
            let row = a.index as usize;
            if !grads.marked[row] {
                grads.marked[row] = true;
                grads.touched.push(a.index);
            }
            grads.linear[row] += g[i] * a.x;
            let ge = &mut grads.embeddings[row * dim..(row + 1) * dim];
            for (ge, d) in ge.iter_mut().zip(&dx[f * dim..(f + 1) * dim]) {
                *ge += a.x * d;
            }
        }
    }
}

pub(super) fn zeroed(w: &DeepWeights) -> DeepWeights {
    DeepWeights {
        fields: w.fields,
        slots: w.slots.clone(),
        dim: w.dim,
        bias: 0.0,
        linear: vec![0.0; w.linear.len()],
        embeddings: vec![0.0; w.embeddings.len()],
        layers: w
            .layers
            .iter()
            .map(|l| Dense {
                inputs: l.inputs,
                outputs: l.outputs,
                w: vec![0.0; l.w.len()],
                b: vec![0.0; l.b.len()],
            })
            .collect(),
        // The crosses learn by AdaGrad (the learner's own accumulators): Adam's moments need none.
        crosses: w.crosses,
        cross: Vec::new(),
    }
}

pub(super) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z.clamp(-35.0, 35.0)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctr::deep_train::Learner;
    use crate::ctr::examples::Examples;
    use crate::ctr::train::Ticker;
    use crate::ctr::train::tests::interaction_data;
    use crate::evaluation::logloss;

    fn config() -> DeepConfig {
        DeepConfig {
            dim: 4,
            hidden: [16, 8, 0],
            learning_rate: 0.01,
            embedding_l2: 0.0,
            batch: 64,
            crosses: Crosses::Off,
            cross_learning_rate: 0.05,
        }
    }

    /// Weights of every kind of part, drawn at random: user, item, query, query term, category, item term and
    /// one context field; the `CONTEXT_OTHER` field has no slot.
    fn drawn_weights(seed: u64) -> DeepWeights {
        use rand::rngs::SmallRng;
        use rand::{RngExt, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random::<f32>() - 0.5).collect() };
        let (rows, dim) = (60, 4);
        let slots = vec![0, 1, 2, 3, 4, 5, u8::MAX, 6];
        let mut layers = Vec::new();
        for (inputs, outputs) in [(7 * dim, 16), (16, 8), (8, 1)] {
            layers.push(Dense {
                inputs,
                outputs,
                w: draw(inputs * outputs),
                b: draw(outputs),
            });
        }
        DeepWeights {
            fields: slots.len(),
            slots,
            dim,
            bias: 0.1,
            linear: draw(rows),
            embeddings: draw(rows * dim),
            layers,
            crosses: Crosses::Personal,
            cross: draw(97),
        }
    }

    fn active(index: u32, field: u8, x: f32) -> Active {
        Active { index, field, x }
    }

    #[test]
    fn a_request_scores_its_candidates_as_the_general_pass_does() {
        let w = drawn_weights(5);
        assert!(w.consistent());
        use crate::ctr::features::{CONTEXT_OTHER, FIRST_CONTEXT, QUERY, QUERY_TERM, USER};
        let shared = [
            active(1, USER, 1.0),
            active(2, QUERY, 1.0),
            active(3, QUERY_TERM, 0.5),
            active(4, QUERY_TERM, 0.5),
            active(5, FIRST_CONTEXT, 1.0),
            // A field without a slot: left out by both passes.
            active(6, CONTEXT_OTHER, 1.0),
        ];
        let candidates: Vec<Vec<Active>> = (0..40)
            .map(|i| {
                vec![
                    active(10 + i, ITEM, 1.0),
                    active(50 + i % 3, CATEGORY, 1.0),
                    active(53 + i % 5, ITEM_TERM, 0.7),
                    active(54, ITEM_TERM, 0.7),
                ]
            })
            .collect();
        let served = |shared: &[Active], candidates: &[Vec<Active>]| {
            let mut work = Work::default();
            let mut fill = |i: usize, out: &mut Vec<Active>| {
                out.clear();
                out.extend_from_slice(shared);
                out.extend_from_slice(&candidates[i]);
            };
            let general = w.logits(candidates.len(), &mut fill, &mut work);
            let mut own = |i: usize, out: &mut Vec<Active>| out.extend_from_slice(&candidates[i]);
            let request = w.request_logits(shared, candidates.len(), &mut own, &mut work);
            assert_eq!(request.len(), general.len());
            for (r, g) in request.iter().zip(&general) {
                assert!((r - g).abs() < 1e-5 * (1.0 + g.abs()), "{r} {g}");
            }
            request
        };
        let all = served(&shared, &candidates);
        let spread = all.iter().fold(0.0f32, |m, z| m.max((z - all[0]).abs()));
        assert!(spread > 0.1, "candidates scored alike: {all:?}");
        // A candidate's logit does not depend on the others.
        assert_eq!(served(&shared, &candidates[7..8])[0], all[7]);
        assert_eq!(served(&shared, &candidates[..0]), Vec::<f32>::new());
        // The request giving a feature of a candidate field, a candidate one of a request field (the general
        // pass then), and no request features at all.
        let mut odd = shared.to_vec();
        odd.push(active(20, ITEM, 0.5));
        served(&odd, &candidates);
        let mut with_user = candidates.clone();
        with_user[3].push(active(7, USER, 1.0));
        served(&shared, &with_user);
        served(&[], &candidates);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let data = interaction_data();
        let mut learner = Learner::new(2, 0b11, 4, config(), 1, 3);
        // Move away from the initial point so that ReLUs and interactions are active.
        let order: Vec<u32> = (0..2_000).collect();
        learner.pass(&data, &order, &Ticker::default());
        let w = learner.weights.clone();
        let ids: Vec<u32> = (0..32).collect();
        let loss = |w: &DeepWeights| -> f64 {
            let mut work = Work::default();
            forward(
                w,
                ids.len(),
                &mut |i, o| data.features(ids[i] as usize, o),
                &mut work,
            );
            let p: Vec<f32> = work.z.iter().map(|&z| sigmoid(z)).collect();
            let labels: Vec<bool> = ids.iter().map(|&i| data.label(i as usize)).collect();
            logloss(&p, &labels).unwrap()
        };
        let mut work = Work::default();
        forward(
            &w,
            ids.len(),
            &mut |i, o| data.features(ids[i] as usize, o),
            &mut work,
        );
        let g: Vec<f32> = ids
            .iter()
            .zip(&work.z)
            .map(|(&i, &z)| (sigmoid(z) - f32::from(u8::from(data.label(i as usize)))) / 32.0)
            .collect();
        let mut grads = Grads::zeros(&w);
        backward(&w, &g, &[0; 32], &mut work, &mut grads);
        let check = |analytic: f32, bump: &dyn Fn(&mut DeepWeights, f32)| {
            let h = 1e-2;
            let (mut up, mut down) = (w.clone(), w.clone());
            bump(&mut up, h);
            bump(&mut down, -h);
            let numeric = (loss(&up) - loss(&down)) / (2.0 * f64::from(h));
            assert!(
                (numeric - f64::from(analytic)).abs() < 2e-3 + 0.05 * numeric.abs(),
                "numeric {numeric} analytic {analytic}"
            );
        };
        check(grads.embeddings[5], &|w, h| w.embeddings[5] += h);
        check(grads.embeddings[13], &|w, h| w.embeddings[13] += h);
        check(grads.linear[2], &|w, h| w.linear[2] += h);
        check(grads.layers[0].0[7], &|w, h| w.layers[0].w[7] += h);
        check(grads.layers[1].1[3], &|w, h| w.layers[1].b[3] += h);
        check(grads.layers[2].0[1], &|w, h| w.layers[2].w[1] += h);
        check(grads.bias, &|w, h| w.bias += h);
    }
}
