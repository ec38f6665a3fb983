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
use super::features::MAX_POSITION;
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
}

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
            let e = &w.embeddings[a.index as usize * dim..(a.index as usize + 1) * dim];
            for (x, e) in x0[f * dim..(f + 1) * dim].iter_mut().zip(e) {
                *x += a.x * e;
            }
        }
        if !w.cross.is_empty() {
            // Bucket numbers (the crosses' rows start at 0 here: they have a table of their own).
            crosses(
                w.crosses,
                0,
                w.cross.len() as u32,
                &[&work.buf],
                &mut work.cross_buf,
            );
            for c in &work.cross_buf {
                work.z[i] += w.cross[c.index as usize] * c.x;
            }
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
    for (l, layer) in w.layers.iter().enumerate() {
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
