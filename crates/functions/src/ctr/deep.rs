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

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::examples::{Active, Examples};
use super::features::MAX_POSITION;
use super::train::Ticker;

const POSITIONS: usize = MAX_POSITION as usize + 1;
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPSILON: f32 = 1e-8;

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

/// `c (m×n) = beta·c + A·B`, where `A` is `a` (row-major `m×k`, or `k×m` when `a_t`: then `A = aᵀ`) and `B` is
/// `b` (row-major `k×n`, or `n×k` when `b_t`).
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    beta: f32,
    c: &mut [f32],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    let (rsa, csa) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rsb, csb) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the strides address elements within the first m×k of `a`, k×n of `b` and m×n of `c`, whose
    // lengths are checked above; `c` is borrowed mutably, so it overlaps neither input.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
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
    /// Logits.
    z: Vec<f32>,
    grad_a: Vec<f32>,
    grad_b: Vec<f32>,
}

/// The forward pass: fills `work` and leaves the logits (without position term) in `work.z`.
fn forward(
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
struct Grads {
    bias: f32,
    linear: Vec<f32>,
    embeddings: Vec<f32>,
    layers: Vec<(Vec<f32>, Vec<f32>)>,
    position: Vec<f32>,
    /// Rows with a gradient in this batch (each once), and which rows those are.
    touched: Vec<u32>,
    marked: Vec<bool>,
}

impl Grads {
    fn zeros(w: &DeepWeights) -> Grads {
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
            touched: Vec::new(),
            marked: vec![false; w.linear.len()],
        }
    }
}

/// Tables of more rows than this are updated lazily (only the rows of the batch, L2 on those alone): updating
/// every row at every step would cost more than the batch itself.
const DENSE_ROWS: usize = 50_000;

/// Backward pass of the examples of the last `forward`, whose loss gradients (per example, already scaled to
/// the batch mean) are `g`; adds into `grads`.
fn backward(w: &DeepWeights, g: &[f32], positions: &[u8], work: &mut Work, grads: &mut Grads) {
    let n = g.len();
    let dim = w.dim;
    let width = w.used() * dim;
    for (&g, &p) in g.iter().zip(positions) {
        grads.bias += g;
        grads.position[usize::from(p)] += g;
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

/// One Adam update of `params` with the sum of the threads' gradients (then zeroed) plus `l2 × params`.
fn adam(
    params: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grads: &mut [&mut [f32]],
    l2: f32,
    step: f32,
) {
    for i in 0..params.len() {
        let mut g = l2 * params[i];
        for t in grads.iter_mut() {
            g += t[i];
            t[i] = 0.0;
        }
        m[i] = BETA1 * m[i] + (1.0 - BETA1) * g;
        v[i] = BETA2 * v[i] + (1.0 - BETA2) * g * g;
        params[i] -= step * m[i] / (v[i].sqrt() + EPSILON);
    }
}

/// The same over `threads` contiguous parts of the arrays at once.
fn adam_parallel(
    threads: usize,
    params: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grads: Vec<&mut [f32]>,
    l2: f32,
    step: f32,
) {
    let len = params.len();
    if threads <= 1 || len < 65_536 {
        let mut grads = grads;
        adam(params, m, v, &mut grads, l2, step);
        return;
    }
    let chunk = len.div_ceil(threads);
    let mut per_part: Vec<Vec<&mut [f32]>> = (0..threads).map(|_| Vec::new()).collect();
    for g in grads {
        for (part, piece) in g.chunks_mut(chunk).enumerate() {
            per_part[part].push(piece);
        }
    }
    std::thread::scope(|s| {
        let mut parts = params
            .chunks_mut(chunk)
            .zip(m.chunks_mut(chunk))
            .zip(v.chunks_mut(chunk))
            .zip(per_part.iter_mut());
        let first = parts.next();
        for (((p, m), v), g) in parts {
            s.spawn(move || adam(p, m, v, g, l2, step));
        }
        if let Some((((p, m), v), g)) = first {
            adam(p, m, v, g, l2, step);
        }
    });
}

/// The learner: weights, Adam's moments, the position term and the threads' buffers.
#[derive(Clone)]
pub struct Learner {
    pub weights: DeepWeights,
    m: DeepWeights,
    v: DeepWeights,
    position: [Vec<f32>; 3],
    config: DeepConfig,
    threads: usize,
    steps: u64,
    /// Multiplies the learning rate (lowered on a plateau).
    pub rate_scale: f32,
}

impl Learner {
    /// A learner over `fields` fields, of which those of the bit mask `present` get inputs.
    pub fn new(
        fields: usize,
        present: u32,
        rows: usize,
        config: DeepConfig,
        threads: usize,
        seed: u64,
    ) -> Self {
        let mut used = 0u8;
        let slots: Vec<u8> = (0..fields)
            .map(|f| {
                if present & (1 << f) != 0 {
                    used += 1;
                    used - 1
                } else {
                    u8::MAX
                }
            })
            .collect();
        let mut rng = SmallRng::seed_from_u64(seed);
        let dim = config.dim;
        let mut normal = |std: f32| {
            // Sum of uniforms: close enough to normal for initial weights.
            let u: f32 = (0..4).map(|_| rng.random::<f32>()).sum::<f32>() - 2.0;
            u * std * (3.0f32).sqrt()
        };
        let embeddings = (0..rows * dim).map(|_| normal(0.01)).collect();
        let mut layers = Vec::new();
        let mut inputs = usize::from(used) * dim;
        for outputs in config.layers().into_iter().chain([1]) {
            // He initialisation for the ReLU layers.
            let std = (2.0 / inputs as f32).sqrt();
            layers.push(Dense {
                inputs,
                outputs,
                w: (0..inputs * outputs).map(|_| normal(std)).collect(),
                b: vec![0.0; outputs],
            });
            inputs = outputs;
        }
        let weights = DeepWeights {
            fields,
            slots,
            dim,
            bias: 0.0,
            linear: vec![0.0; rows],
            embeddings,
            layers,
        };
        let zero = zeroed(&weights);
        Learner {
            m: zero.clone(),
            v: zero,
            weights,
            position: [
                vec![0.0; POSITIONS],
                vec![0.0; POSITIONS],
                vec![0.0; POSITIONS],
            ],
            config,
            threads: threads.max(1),
            steps: 0,
            rate_scale: 1.0,
        }
    }

    pub fn position(&self) -> &[f32] {
        &self.position[0]
    }

    pub fn bytes(&self) -> usize {
        let one = 4 * (self.weights.linear.len() + self.weights.embeddings.len());
        one * (3 + self.threads)
    }

    /// One pass over the examples in `order`, in minibatches; `false` when cancelled.
    pub fn pass(&mut self, examples: &dyn Examples, order: &[u32], ticker: &Ticker) -> bool {
        let threads = self.threads;
        let mut works: Vec<Work> = (0..threads).map(|_| Work::default()).collect();
        let mut grads: Vec<Grads> = (0..threads).map(|_| Grads::zeros(&self.weights)).collect();
        for batch in order.chunks(self.config.batch.max(1)) {
            if !ticker.tick(batch.len()) {
                return false;
            }
            let scale = 1.0 / batch.len() as f32;
            let part = batch.len().div_ceil(threads);
            let weights = &self.weights;
            let position = &self.position[0];
            let run = |ids: &[u32], work: &mut Work, grads: &mut Grads| {
                forward(
                    weights,
                    ids.len(),
                    &mut |i, out| examples.features(ids[i] as usize, out),
                    work,
                );
                let positions: Vec<u8> =
                    ids.iter().map(|&i| examples.position(i as usize)).collect();
                let g: Vec<f32> = ids
                    .iter()
                    .zip(&work.z)
                    .zip(&positions)
                    .map(|((&i, &z), &p)| {
                        let y = if examples.label(i as usize) { 1.0 } else { 0.0 };
                        (sigmoid(z + position[usize::from(p)]) - y) * scale
                    })
                    .collect();
                backward(weights, &g, &positions, work, grads);
            };
            std::thread::scope(|s| {
                let mut jobs = batch
                    .chunks(part)
                    .zip(works.iter_mut())
                    .zip(grads.iter_mut());
                let first = jobs.next();
                for ((ids, work), grads) in jobs {
                    s.spawn(move || run(ids, work, grads));
                }
                if let Some(((ids, work), grads)) = first {
                    run(ids, work, grads);
                }
            });
            self.update(&mut grads);
        }
        true
    }

    fn update(&mut self, grads: &mut [Grads]) {
        self.steps += 1;
        let t = self.steps as i32;
        let step = self.config.learning_rate * self.rate_scale * (1.0 - BETA2.powi(t)).sqrt()
            / (1.0 - BETA1.powi(t));
        let l2 = self.config.embedding_l2;
        let threads = self.threads;
        let (w, m, v) = (&mut self.weights, &mut self.m, &mut self.v);
        if w.linear.len() <= DENSE_ROWS {
            adam_parallel(
                threads,
                &mut w.embeddings,
                &mut m.embeddings,
                &mut v.embeddings,
                grads
                    .iter_mut()
                    .map(|g| g.embeddings.as_mut_slice())
                    .collect(),
                l2,
                step,
            );
            adam_parallel(
                threads,
                &mut w.linear,
                &mut m.linear,
                &mut v.linear,
                grads.iter_mut().map(|g| g.linear.as_mut_slice()).collect(),
                l2,
                step,
            );
            for g in grads.iter_mut() {
                for r in g.touched.drain(..) {
                    g.marked[r as usize] = false;
                }
            }
        } else {
            // The union of the threads' rows, in thread order, each once.
            let mut rows: Vec<u32> = Vec::new();
            for t in 0..grads.len() {
                for i in 0..grads[t].touched.len() {
                    let r = grads[t].touched[i];
                    if grads[..t].iter().all(|g| !g.marked[r as usize]) {
                        rows.push(r);
                    }
                }
            }
            let dim = w.dim;
            for &r in &rows {
                let r = r as usize;
                let range = r * dim..(r + 1) * dim;
                adam(
                    &mut w.embeddings[range.clone()],
                    &mut m.embeddings[range.clone()],
                    &mut v.embeddings[range.clone()],
                    &mut grads
                        .iter_mut()
                        .map(|g| &mut g.embeddings[range.clone()])
                        .collect::<Vec<_>>(),
                    l2,
                    step,
                );
                adam(
                    &mut w.linear[r..r + 1],
                    &mut m.linear[r..r + 1],
                    &mut v.linear[r..r + 1],
                    &mut grads
                        .iter_mut()
                        .map(|g| &mut g.linear[r..r + 1])
                        .collect::<Vec<_>>(),
                    l2,
                    step,
                );
            }
            for g in grads.iter_mut() {
                for r in g.touched.drain(..) {
                    g.marked[r as usize] = false;
                }
            }
        }
        for l in 0..w.layers.len() {
            adam(
                &mut w.layers[l].w,
                &mut m.layers[l].w,
                &mut v.layers[l].w,
                &mut grads
                    .iter_mut()
                    .map(|g| g.layers[l].0.as_mut_slice())
                    .collect::<Vec<_>>(),
                0.0,
                step,
            );
            adam(
                &mut w.layers[l].b,
                &mut m.layers[l].b,
                &mut v.layers[l].b,
                &mut grads
                    .iter_mut()
                    .map(|g| g.layers[l].1.as_mut_slice())
                    .collect::<Vec<_>>(),
                0.0,
                step,
            );
        }
        let mut bias = [w.bias];
        let (mut mb, mut vb) = ([m.bias], [v.bias]);
        let mut gb: Vec<[f32; 1]> = grads.iter().map(|g| [g.bias]).collect();
        adam(
            &mut bias,
            &mut mb,
            &mut vb,
            &mut gb.iter_mut().map(|g| g.as_mut_slice()).collect::<Vec<_>>(),
            0.0,
            step,
        );
        (w.bias, m.bias, v.bias) = (bias[0], mb[0], vb[0]);
        grads.iter_mut().for_each(|g| g.bias = 0.0);
        let [p, pm, pv] = &mut self.position;
        adam(
            p,
            pm,
            pv,
            &mut grads
                .iter_mut()
                .map(|g| g.position.as_mut_slice())
                .collect::<Vec<_>>(),
            0.0,
            step,
        );
    }

    /// Full logits (position term included) of the examples of `indices`, on the learner's threads.
    pub fn logits(&self, examples: &dyn Examples, indices: &[u32]) -> Vec<f32> {
        let part = indices.len().div_ceil(self.threads).max(1);
        let run = |ids: &[u32]| -> Vec<f32> {
            let mut work = Work::default();
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(4096) {
                forward(
                    &self.weights,
                    chunk.len(),
                    &mut |i, o| examples.features(chunk[i] as usize, o),
                    &mut work,
                );
                out.extend(chunk.iter().zip(&work.z).map(|(&i, &z)| {
                    z + self.position[0][usize::from(examples.position(i as usize))]
                }));
            }
            out
        };
        std::thread::scope(|s| {
            let mut parts = indices.chunks(part);
            let first = parts.next();
            let handles: Vec<_> = parts.map(|ids| s.spawn(move || run(ids))).collect();
            let mut out = first.map(run).unwrap_or_default();
            for h in handles {
                // A panic in a scoped thread propagates when the scope ends; an empty part adds nothing.
                out.extend(h.join().unwrap_or_default());
            }
            out
        })
    }
}

fn zeroed(w: &DeepWeights) -> DeepWeights {
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
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z.clamp(-35.0, 35.0)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctr::train::tests::interaction_data;
    use crate::evaluation::logloss;

    fn config() -> DeepConfig {
        DeepConfig {
            dim: 4,
            hidden: [16, 8, 0],
            learning_rate: 0.01,
            embedding_l2: 0.0,
            batch: 64,
        }
    }

    #[test]
    fn gemm_multiplies_with_either_side_transposed() {
        // A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]]: A·B = [[19, 22], [43, 50]].
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [0.0; 4];
        gemm(2, 2, 2, &a, false, &b, false, 0.0, &mut c);
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        // Aᵀ·B with A stored as [[1, 3], [2, 4]].
        gemm(2, 2, 2, &[1.0, 3.0, 2.0, 4.0], true, &b, false, 0.0, &mut c);
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        // A·Bᵀ with B stored as [[5, 7], [6, 8]], accumulated onto c.
        gemm(2, 2, 2, &a, false, &[5.0, 7.0, 6.0, 8.0], true, 1.0, &mut c);
        assert_eq!(c, [38.0, 44.0, 86.0, 100.0]);
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

    #[test]
    fn it_learns_the_interaction_the_same_on_any_run_with_the_same_threads() {
        let data = interaction_data();
        let order: Vec<u32> = (0..16_000).collect();
        let held: Vec<u32> = (16_000..20_000).collect();
        let labels: Vec<bool> = held.iter().map(|&i| data.label(i as usize)).collect();
        let run = |threads: usize| {
            let mut learner = Learner::new(2, 0b11, 4, config(), threads, 1);
            for _ in 0..3 {
                assert!(learner.pass(&data, &order, &Ticker::default()));
            }
            learner
        };
        let (a, b) = (run(2), run(2));
        assert_eq!(a.weights, b.weights, "same seed and threads, same weights");
        let p: Vec<f32> = a.logits(&data, &held).iter().map(|&z| sigmoid(z)).collect();
        let loss = logloss(&p, &labels).unwrap();
        // The truth: 0.8 when both fields agree, 0.1 otherwise; its entropy is about 0.41.
        assert!(loss < 0.45, "{loss}");
        let one = run(1);
        let p1: Vec<f32> = one
            .logits(&data, &held)
            .iter()
            .map(|&z| sigmoid(z))
            .collect();
        assert!((logloss(&p1, &labels).unwrap() - loss).abs() < 0.01);
    }
}
