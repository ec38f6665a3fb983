//! The structure oracle of the context-aware shape (issue 14): an estimator told the generator's exact functional
//! form, its prior scales and constants and each user's own items, that fits only the unknown latent parameters
//! (item vectors and popularities, user tastes, context effects) by MAP on the rows before the held-out day. Its
//! held-out AUC is what an estimator that knows everything but the parameters reaches from this many rows:
//! strong evidence (not a strict bound: MAP is not the posterior average) of what a general model can expect.
//! For the `ctr_training` bench's `context` shape; nothing here reaches a trainer.
//!
//! The model of a row (user `u`, context `c`, item `i`), with `τ = t_u + Σ_{k ≠ cost} e_{k, c_k}`:
//! `P = 0.3 · softmax_j(b_j + ⟨τ, v_j⟩)_i + 0.7 · [i ∈ own_u] · softmax_{j ∈ own_u}(1.5 ⟨τ, v_j⟩)_i` and the click
//! probability `p = P / (P + 2 / items)` (Bayes with one used item to two random ones). Priors: `v ~ N(0, 1)`,
//! `t ~ N(0, 0.6²)`, `e_k ~ N(0, s_k²)` with the generator's strengths, and `b ~ N(0, 1.1²)` (the generator's
//! popularity is `-1.1 ln rank`, spread 1.1; the likelihood ignores a common shift of `b`, so the centre is moot).
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Instant;

use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::evaluation::{auc, logloss};
use algocenter_generator::context::{CONTEXT_KEYS, ContextWorld};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::ctr_world::Shown;

const TASTE: usize = 8;
/// The generator's constants, which this oracle is told.
const ANY_SHARE: f64 = 0.3;
const OWN_SHARE: f64 = 0.7;
const OWN_POWER: f64 = 1.5;
/// Prior spreads: each context key's effect (the cost's is none), tastes, item vectors, popularity.
const STRENGTH: [f64; 8] = [0.5, 0.12, 0.25, 0.45, 0.2, 0.35, 0.2, 0.12];
const COST: usize = 4;
const TASTE_SD: f64 = 0.6;
const ITEM_SD: f64 = 1.0;
const POPULARITY_SD: f64 = 1.1;
const THREADS: usize = 2;
/// The fit stops when the MAP objective falls by less than this share of itself over 10 iterations, or at the
/// cap (on the default world it reaches the cap, the objective still creeping down by about 3e-5 of itself
/// per 10 iterations).
const TOLERANCE: f64 = 1e-6;
const MAX_ITERATIONS: usize = 1_000;

/// Where each parameter sits in the flat vector: item vectors, popularities, tastes, then context effects.
#[derive(Clone, Debug)]
pub struct Layout {
    pub items: usize,
    pub users: usize,
    effects: [usize; 8],
    pub len: usize,
}

impl Layout {
    pub fn new(items: usize, users: usize) -> Layout {
        let mut at = items * (TASTE + 1) + users * TASTE;
        let mut effects = [usize::MAX; 8];
        for (k, (_, values)) in CONTEXT_KEYS.iter().enumerate() {
            if k != COST {
                effects[k] = at;
                at += values * TASTE;
            }
        }
        Layout {
            items,
            users,
            effects,
            len: at,
        }
    }

    fn vector(&self, item: usize) -> usize {
        item * TASTE
    }

    fn popularity(&self, item: usize) -> usize {
        self.items * TASTE + item
    }

    fn taste(&self, user: usize) -> usize {
        self.items * (TASTE + 1) + user * TASTE
    }

    fn effect(&self, key: usize, value: usize) -> usize {
        self.effects[key] + value * TASTE
    }

    /// Prior spread of every parameter.
    fn scales(&self) -> Vec<f64> {
        let mut s = vec![ITEM_SD; self.len];
        s[self.popularity(0)..self.taste(0)].fill(POPULARITY_SD);
        s[self.taste(0)..self.effects[0]].fill(TASTE_SD);
        for (k, (_, values)) in CONTEXT_KEYS.iter().enumerate() {
            if k != COST {
                let at = self.effect(k, 0);
                s[at..at + values * TASTE].fill(STRENGTH[k]);
            }
        }
        s
    }

    /// Whether a parameter belongs to the item side (vectors and popularities).
    fn item_side(&self, j: usize) -> bool {
        j < self.taste(0)
    }
}

/// Rows of one user in one context: they share the normaliser over all items.
#[derive(Clone, Debug)]
pub struct Group {
    pub user: u32,
    pub context: [usize; 8],
    /// Their rows, `rows[start..end]`.
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub item: u32,
    pub clicked: bool,
}

/// Labelled rows grouped by (user, context), and the users' own items.
pub struct Problem {
    pub layout: Layout,
    pub groups: Vec<Group>,
    pub rows: Vec<Row>,
    /// Each row's index in the caller's order.
    pub order: Vec<usize>,
    pub own: Vec<Vec<u32>>,
}

impl Problem {
    /// `rows`: (user, context, item, clicked) in the caller's order.
    pub fn new(
        layout: Layout,
        own: Vec<Vec<u32>>,
        rows: &[(u32, [usize; 8], u32, bool)],
    ) -> Problem {
        let mut by_group: HashMap<(u32, [usize; 8]), Vec<usize>> = HashMap::new();
        let mut keys = Vec::new();
        for (r, &(u, c, _, _)) in rows.iter().enumerate() {
            by_group
                .entry((u, c))
                .or_insert_with(|| {
                    keys.push((u, c));
                    Vec::new()
                })
                .push(r);
        }
        let (mut groups, mut grouped, mut order) = (Vec::new(), Vec::new(), Vec::new());
        for key in keys {
            let start = grouped.len();
            for &r in &by_group[&key] {
                grouped.push(Row {
                    item: rows[r].2,
                    clicked: rows[r].3,
                });
                order.push(r);
            }
            groups.push(Group {
                user: key.0,
                context: key.1,
                start,
                end: grouped.len(),
            });
        }
        Problem {
            layout,
            groups,
            rows: grouped,
            order,
            own,
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// `-ln σ(-x)`, stably.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// Groups handled together: their dense steps are matrix products.
const BLOCK: usize = 32;

/// `c (m×n) = beta·c + alpha·A·B`, where `A` is `a` (row-major `m×k`, or `k×m` when `a_t`: then `A = aᵀ`) and
/// `B` is `b` (row-major `k×n`, or `n×k` when `b_t`).
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f64,
    a: &[f64],
    a_t: bool,
    b: &[f64],
    b_t: bool,
    beta: f64,
    c: &mut [f64],
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
        matrixmultiply::dgemm(
            m,
            k,
            n,
            alpha,
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

/// `e^x` for `x ≤ 0` to about 1e-15 relative (flushed to `e^-700` below that), in straight-line code the
/// compiler vectorises: the softmax over all items takes 150 million of them per evaluation.
fn exp_nonpositive(x: f64) -> f64 {
    // Adding 1.5 · 2^52 rounds to an integer held in the mantissa's low bits.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let x = x.max(-700.0);
    let t = x * std::f64::consts::LOG2_E + MAGIC;
    let k = t - MAGIC;
    let r = x - k * LN2_HI - k * LN2_LO;
    // Taylor series to r^12 on |r| ≤ ln 2 / 2.
    let mut p = 1.0 / 479_001_600.0;
    for d in [
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5_040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        p = p * r + 1.0 / d;
    }
    let exponent = (t.to_bits() as i64 - MAGIC.to_bits() as i64 + 1023) << 52;
    p * f64::from_bits(exponent as u64)
}

fn sum(x: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let chunks = x.chunks_exact(4);
    let rest: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// Negative log-likelihood of the groups' rows under `theta` (prior not included); adds its gradient to `grad`
/// and writes each row's click probability to `probs` (both indexed as the problem's rows, `probs` from the first
/// group's first row).
fn groups_nll(
    problem: &Problem,
    groups: &[Group],
    theta: &[f64],
    mut grad: Option<&mut [f64]>,
    mut probs: Option<&mut [f64]>,
) -> f64 {
    let l = &problem.layout;
    let n = l.items;
    let base = groups.first().map_or(0, |g| g.start);
    let log_random = (2.0 / n as f64).ln();
    let vectors = &theta[..n * TASTE];
    let popularity = &theta[l.popularity(0)..l.popularity(0) + n];
    let mut taus = vec![0.0; BLOCK * TASTE];
    let mut e = vec![0.0; BLOCK * n];
    let mut means = vec![0.0; BLOCK * TASTE];
    let mut own_w = Vec::new();
    let mut nll = 0.0;
    for block in groups.chunks(BLOCK) {
        let m = block.len();
        for (g, tau) in block.iter().zip(taus.chunks_exact_mut(TASTE)) {
            let t = l.taste(g.user as usize);
            tau.copy_from_slice(&theta[t..t + TASTE]);
            for (k, &v) in g.context.iter().enumerate() {
                if k != COST {
                    let at = l.effect(k, v);
                    for (x, y) in tau.iter_mut().zip(&theta[at..at + TASTE]) {
                        *x += y;
                    }
                }
            }
        }
        // Any item's share: softmax over all items of b_j + ⟨τ, v_j⟩, the dense step shared by a group's rows.
        gemm(m, TASTE, n, 1.0, &taus, false, vectors, true, 0.0, &mut e);
        let mut zs = [0.0; BLOCK];
        for (row, z) in e.chunks_exact_mut(n).take(m).zip(&mut zs) {
            for (s, b) in row.iter_mut().zip(popularity) {
                *s += b;
            }
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for s in row.iter_mut() {
                *s = exp_nonpositive(*s - max);
            }
            *z = sum(row);
        }
        // Σ_j e_j v_j per group, for the gradient's mean item vector.
        gemm(m, n, TASTE, 1.0, &e, false, vectors, false, 0.0, &mut means);
        // Per group: Σ over its rows of dNLL/ds_i · A_i / Z, the weight of the dense part of the gradient.
        let mut dense = [0.0; BLOCK];
        for (q, g) in block.iter().enumerate() {
            let tau = &taus[q * TASTE..][..TASTE];
            let (es, z) = (&e[q * n..][..n], zs[q]);
            let mean_v: Vec<f64> = means[q * TASTE..][..TASTE].iter().map(|m| m / z).collect();
            // The own items' share: softmax over the user's own items of 1.5 ⟨τ, v⟩.
            let own = &problem.own[g.user as usize];
            own_w.clear();
            own_w.extend(
                own.iter()
                    .map(|&j| OWN_POWER * dot(&vectors[j as usize * TASTE..][..TASTE], tau)),
            );
            let own_max = own_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut own_z = 0.0;
            for w in &mut own_w {
                *w = (*w - own_max).exp();
                own_z += *w;
            }
            let mut own_mean = [0.0; TASTE];
            for (w, &j) in own_w.iter_mut().zip(own) {
                *w /= own_z;
                for (m, x) in own_mean
                    .iter_mut()
                    .zip(&vectors[j as usize * TASTE..][..TASTE])
                {
                    *m += *w * x;
                }
            }
            let mut g_tau = [0.0; TASTE];
            for (r, row) in problem.rows[g.start..g.end].iter().enumerate() {
                let i = row.item as usize;
                let any = es[i] / z;
                let own_at = own.iter().position(|&j| j as usize == i);
                let own_p = own_at.map_or(0.0, |o| own_w[o]);
                let p_item = ANY_SHARE * any + OWN_SHARE * own_p;
                let logit = p_item.ln() - log_random;
                nll += if row.clicked {
                    softplus(-logit)
                } else {
                    softplus(logit)
                };
                let p = 1.0 / (1.0 + (-logit).exp());
                if let Some(probs) = probs.as_deref_mut() {
                    probs[g.start + r - base] = p;
                }
                let Some(grad) = grad.as_deref_mut() else {
                    continue;
                };
                let d_p = (p - f64::from(u8::from(row.clicked))) / p_item;
                // Any item's share: d softmax_i / d s_j = A_i (δ_ij − A_j); the −A_j part is summed per group.
                let a = d_p * ANY_SHARE * any;
                dense[q] += a / z;
                grad[l.popularity(i)] += a;
                let vi = &vectors[i * TASTE..][..TASTE];
                for d in 0..TASTE {
                    grad[l.vector(i) + d] += a * tau[d];
                    g_tau[d] += a * (vi[d] - mean_v[d]);
                }
                // The own share, over the user's own items with scores 1.5 ⟨τ, v_j⟩.
                if own_at.is_some() {
                    let a = d_p * OWN_SHARE * own_p * OWN_POWER;
                    for d in 0..TASTE {
                        grad[l.vector(i) + d] += a * tau[d];
                        g_tau[d] += a * (vi[d] - own_mean[d]);
                    }
                    for (&j, &w) in own.iter().zip(&own_w) {
                        let at = l.vector(j as usize);
                        for d in 0..TASTE {
                            grad[at + d] -= a * w * tau[d];
                        }
                    }
                }
            }
            let Some(grad) = grad.as_deref_mut() else {
                continue;
            };
            let t = l.taste(g.user as usize);
            for (x, y) in grad[t..t + TASTE].iter_mut().zip(&g_tau) {
                *x += y;
            }
            for (k, &v) in g.context.iter().enumerate() {
                if k != COST {
                    let at = l.effect(k, v);
                    for (x, y) in grad[at..at + TASTE].iter_mut().zip(&g_tau) {
                        *x += y;
                    }
                }
            }
        }
        let Some(grad) = grad.as_deref_mut() else {
            continue;
        };
        // The dense part: d/ds_j −= weight · e_j for every item, through b_j and v_j (v_j's as one product).
        for (row, w) in e.chunks_exact_mut(n).take(m).zip(&dense) {
            for s in row.iter_mut() {
                *s *= w;
            }
        }
        let (gv, gb) = grad[..l.popularity(0) + n].split_at_mut(n * TASTE);
        for row in e.chunks_exact(n).take(m) {
            for (b, s) in gb.iter_mut().zip(row) {
                *b -= s;
            }
        }
        gemm(n, m, TASTE, -1.0, &e, true, &taus, false, 1.0, gv);
    }
    nll
}

/// Negative log-likelihood of all rows (prior not included), its gradient into `grad` (overwritten) and the rows'
/// click probabilities into `probs`, on [`THREADS`] threads.
pub fn nll(
    problem: &Problem,
    theta: &[f64],
    grad: Option<&mut [f64]>,
    probs: Option<&mut [f64]>,
) -> f64 {
    let groups = &problem.groups;
    let cut = groups.len().div_ceil(THREADS).max(1);
    let chunks: Vec<&[Group]> = groups.chunks(cut).collect();
    let mut prob_chunks: Vec<Option<&mut [f64]>> = Vec::new();
    if let Some(mut rest) = probs {
        for c in &chunks {
            let len = c.last().map_or(0, |g| g.end) - c.first().map_or(0, |g| g.start);
            let (head, tail) = rest.split_at_mut(len);
            prob_chunks.push(Some(head));
            rest = tail;
        }
    } else {
        prob_chunks.extend(chunks.iter().map(|_| None));
    }
    let want_grad = grad.is_some();
    let results: Vec<(f64, Vec<f64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .zip(prob_chunks)
            .map(|(c, p)| {
                s.spawn(move || {
                    let mut g = if want_grad {
                        vec![0.0; problem.layout.len]
                    } else {
                        Vec::new()
                    };
                    let v = groups_nll(problem, c, theta, want_grad.then_some(&mut g[..]), p);
                    (v, g)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a fitting thread"))
            .collect()
    });
    let mut total = 0.0;
    if let Some(grad) = grad {
        grad.fill(0.0);
        for (_, g) in &results {
            for (x, y) in grad.iter_mut().zip(g) {
                *x += y;
            }
        }
    }
    for (v, _) in &results {
        total += v;
    }
    total
}

/// The MAP objective in standardised coordinates `z = θ / scale` (so that every prior is `N(0, 1)` and the
/// problem is better conditioned for L-BFGS): NLL(scale ∘ z) + |z|² / 2 over the free parameters, and its
/// gradient (zero on the fixed ones).
pub struct Objective<'a> {
    pub problem: &'a Problem,
    pub scales: Vec<f64>,
    pub free: Vec<bool>,
    pub evaluations: usize,
}

impl Objective<'_> {
    pub fn theta(&self, z: &[f64]) -> Vec<f64> {
        z.iter().zip(&self.scales).map(|(z, s)| z * s).collect()
    }

    pub fn value(&mut self, z: &[f64], grad: &mut [f64]) -> f64 {
        self.evaluations += 1;
        let theta = self.theta(z);
        let mut value = nll(self.problem, &theta, Some(grad), None);
        for j in 0..z.len() {
            if self.free[j] {
                value += 0.5 * z[j] * z[j];
                grad[j] = grad[j] * self.scales[j] + z[j];
            } else {
                grad[j] = 0.0;
            }
        }
        value
    }
}

/// Minimises the objective from `z` by L-BFGS (memory 10, backtracking line search) until the objective falls
/// by less than `tolerance` of itself over 10 iterations, or `max_iterations`; calls `checkpoint` every 100
/// iterations (for printing only). Returns the iterations run.
pub fn lbfgs(
    objective: &mut Objective<'_>,
    z: &mut [f64],
    max_iterations: usize,
    tolerance: f64,
    checkpoint: &mut dyn FnMut(usize, &[f64]),
) -> usize {
    const MEMORY: usize = 10;
    let n = z.len();
    let mut grad = vec![0.0; n];
    let mut f = objective.value(z, &mut grad);
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    let mut values = vec![f];
    let (mut trial, mut trial_grad) = (vec![0.0; n], vec![0.0; n]);
    let started = Instant::now();
    for iteration in 1..=max_iterations {
        // Two-loop recursion: direction = −H·grad.
        let mut q = grad.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            for (q, y) in q.iter_mut().zip(y) {
                *q -= a * y;
            }
            alphas.push(a);
        }
        let gamma = history
            .last()
            .map_or(1.0 / dot(&grad, &grad).sqrt().max(1.0), |(s, y, _)| {
                dot(s, y) / dot(y, y)
            });
        for x in &mut q {
            *x *= gamma;
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &q);
            for (q, s) in q.iter_mut().zip(s) {
                *q += (a - b) * s;
            }
        }
        let mut slope = -dot(&grad, &q);
        if slope >= 0.0 {
            // Not a descent direction (should not happen): restart from the gradient.
            history.clear();
            q.clone_from(&grad);
            slope = -dot(&grad, &q);
        }
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            for ((t, z), q) in trial.iter_mut().zip(z.iter()).zip(&q) {
                *t = z - step * q;
            }
            let ft = objective.value(&trial, &mut trial_grad);
            if ft.is_finite() && ft <= f + 1e-4 * step * slope {
                accepted = Some(ft);
                break;
            }
            step *= 0.5;
        }
        let Some(ft) = accepted else {
            println!("  L-BFGS: line search failed at iteration {iteration}");
            return iteration;
        };
        let s: Vec<f64> = trial.iter().zip(z.iter()).map(|(t, z)| t - z).collect();
        let y: Vec<f64> = trial_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if history.len() == MEMORY {
                history.remove(0);
            }
            history.push((s, y, 1.0 / sy));
        }
        z.copy_from_slice(&trial);
        grad.copy_from_slice(&trial_grad);
        f = ft;
        values.push(f);
        if iteration % 25 == 0 {
            println!(
                "  iteration {iteration}: objective {f:.3}, |gradient| {:.4}, {} evaluations, {:.0} s",
                dot(&grad, &grad).sqrt(),
                objective.evaluations,
                started.elapsed().as_secs_f64()
            );
        }
        if iteration % 100 == 0 {
            checkpoint(iteration, z);
        }
        if values.len() > 10 && values[values.len() - 11] - f < tolerance * f.abs() {
            return iteration;
        }
    }
    max_iterations
}

fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// CPU seconds of this process so far (user + system), where the platform tells them.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports clock ticks of 1/100 s.
    Some(ticks / 100.0)
}

/// Fits the structure oracle on the rows before the held-out day and prints its held-out figures against the
/// truth's, then the same with the true item side given (labelled as such).
pub fn report(world: &ContextWorld, data: &InMemoryData, held_out: &[Shown]) {
    let from = world.config().end_ms - DAY_MS;
    let (items, users) = (world.config().items as usize, world.config().users as usize);
    // Training rows: every exposure before the held-out day with its label (its click follows right after it).
    let mut rows: Vec<(u32, [usize; 8], u32, bool)> = Vec::new();
    let mut rns: Vec<&str> = Vec::new();
    let mut last: Option<(&str, &str)> = None;
    for e in &data.events {
        match e.bhv_type.as_str() {
            "expose" if e.bhv_time_ms < from => {
                let (u, c, i) = world
                    .row_of(&e.user_id, &e.item_id, &e.context)
                    .expect("a row of this world");
                rows.push((u, c, i, false));
                rns.push(&e.rn);
                last = Some((&e.rn, &e.item_id));
            }
            "expose" => last = None,
            "click" if last == Some((&e.rn, &e.item_id)) => {
                if let Some(row) = rows.last_mut() {
                    row.3 = true;
                }
            }
            _ => {}
        }
    }
    // The truth of the training rows, for its log-likelihood (the world streams it with each exposure).
    let mut truth_of_rn: HashMap<String, f64> = HashMap::with_capacity(rows.len());
    world.events(&mut |e, truth| {
        if let Some(p) = truth
            && e.bhv_time_ms < from
        {
            truth_of_rn.insert(e.rn.clone(), p);
        }
    });
    let train_truth: Vec<f64> = rns.iter().map(|rn| truth_of_rn[*rn]).collect();
    let own: Vec<Vec<u32>> = (0..users as u32)
        .map(|u| (0..items as u32).filter(|&i| world.is_own(u, i)).collect())
        .collect();
    let layout = Layout::new(items, users);
    let train = Problem::new(layout.clone(), own.clone(), &rows);
    let held_rows: Vec<(u32, [usize; 8], u32, bool)> = held_out
        .iter()
        .map(|s| {
            let (u, c, i) = world
                .row_of(&s.user, &s.item, &s.context)
                .expect("a row of this world");
            (u, c, i, s.clicked)
        })
        .collect();
    let held = Problem::new(layout.clone(), own, &held_rows);
    let labels: Vec<bool> = held_out.iter().map(|s| s.clicked).collect();
    let truth: Vec<f32> = held_out.iter().map(|s| s.truth as f32).collect();
    let train_labels: Vec<bool> = rows.iter().map(|r| r.3).collect();
    let truth_auc = auc(&truth, &labels).unwrap_or(0.5);
    let truth_nll = train_truth
        .iter()
        .zip(&train_labels)
        .map(|(&p, &y)| if y { -p.ln() } else { -(1.0 - p).ln() })
        .sum::<f64>()
        / rows.len() as f64;
    let truth_logloss = logloss(&truth, &labels).unwrap_or(f64::NAN);
    println!(
        "structure oracle: told the generator's form, constants, prior spreads and own items; MAP of item vectors, \
         popularities, tastes and context effects on {} training rows ({} user × context groups), {} held out",
        rows.len(),
        train.groups.len(),
        held_out.len()
    );

    let scales = layout.scales();
    let mut rng = SmallRng::seed_from_u64(14);
    let start: Vec<f64> = (0..layout.len).map(|_| normal(&mut rng)).collect();
    let mut truth_items = start.clone();
    for i in 0..items {
        let (b, v) = world.item_truth(i as u32);
        truth_items[layout.popularity(i)] = b / POPULARITY_SD;
        for d in 0..TASTE {
            truth_items[layout.vector(i) + d] = v[d] / ITEM_SD;
        }
    }
    for (name, mut z, fit_items) in [
        ("structure oracle", start, true),
        (
            "variant, told the true item vectors and popularities (fits tastes and effects only)",
            truth_items,
            false,
        ),
    ] {
        let free: Vec<bool> = (0..layout.len)
            .map(|j| fit_items || !layout.item_side(j))
            .collect();
        let mut objective = Objective {
            problem: &train,
            scales: scales.clone(),
            free,
            evaluations: 0,
        };
        // The held-out rows' scores under standardised parameters `z`.
        let held_scores = |z: &[f64]| -> Vec<f32> {
            let theta: Vec<f64> = z.iter().zip(&scales).map(|(z, s)| z * s).collect();
            let mut probs = vec![0.0; held.rows.len()];
            nll(&held, &theta, None, Some(&mut probs));
            let mut scores = vec![0.0f32; held_out.len()];
            for (p, &r) in probs.iter().zip(&held.order) {
                scores[r] = *p as f32;
            }
            scores
        };
        // Printed along the way to show how much the figure depends on where the fit stops; the stop itself
        // is the objective's tolerance alone.
        let mut checkpoint = |iteration: usize, z: &[f64]| {
            let a = auc(&held_scores(z), &labels).unwrap_or(0.5);
            println!("  (iteration {iteration}: held-out AUC {a:.4}, for information only)");
        };
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        let iterations = lbfgs(
            &mut objective,
            &mut z,
            MAX_ITERATIONS,
            TOLERANCE,
            &mut checkpoint,
        );
        let theta = objective.theta(&z);
        let fit_nll = nll(&train, &theta, None, None) / rows.len() as f64;
        let (wall, cpu) = (
            wall.elapsed().as_secs_f64(),
            cpu_seconds().zip(cpu).map(|(b, a)| b - a),
        );
        let scores = held_scores(&z);
        let oracle_auc = auc(&scores, &labels).unwrap_or(0.5);
        println!(
            "{name}: {iterations} L-BFGS iterations, {} evaluations, fit in {wall:.0} s wall, {} CPU",
            objective.evaluations,
            cpu.map_or("?".into(), |c| format!("{c:.0} s"))
        );
        println!(
            "  held-out AUC {oracle_auc:.4}, truth {truth_auc:.4}, gap {:.4}",
            truth_auc - oracle_auc
        );
        println!(
            "  training NLL per row {fit_nll:.4} (truth {truth_nll:.4}); held-out log loss {:.4} (truth {truth_logloss:.4})",
            logloss(&scores, &labels).unwrap_or(f64::NAN)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny made-up problem: 7 items, 3 users with own items, 120 rows in more contexts than a block holds.
    fn tiny() -> (Problem, Vec<f64>) {
        let layout = Layout::new(7, 3);
        let own = vec![vec![0, 2, 5], vec![1, 2], vec![6]];
        let mut rng = SmallRng::seed_from_u64(3);
        let rows: Vec<(u32, [usize; 8], u32, bool)> = (0..120)
            .map(|r| {
                // Three rows per session, as the generator logs them, in one of 50 contexts.
                let session = r / 3 % 50;
                let c = [
                    session % 7,
                    session % 5,
                    session % 2,
                    1,
                    0,
                    session % 9,
                    5,
                    session,
                ];
                let user = (session % 3) as u32;
                let item = rng.random_range(0..7u32);
                (user, c, item, r % 3 == 0)
            })
            .collect();
        let problem = Problem::new(layout.clone(), own, &rows);
        assert!(problem.groups.len() > BLOCK, "{}", problem.groups.len());
        let scales = layout.scales();
        let theta = scales.iter().map(|s| s * normal(&mut rng)).collect();
        (problem, theta)
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        let (problem, theta) = tiny();
        let mut grad = vec![0.0; theta.len()];
        let mut probs = vec![0.0; problem.rows.len()];
        let base = nll(&problem, &theta, Some(&mut grad), Some(&mut probs));
        assert!(base.is_finite() && base > 0.0);
        assert!(probs.iter().all(|&p| p > 0.0 && p < 1.0));
        let mut checked = 0;
        for j in 0..theta.len() {
            let h = 1e-5;
            let mut t = theta.clone();
            t[j] += h;
            let up = nll(&problem, &t, None, None);
            t[j] -= 2.0 * h;
            let down = nll(&problem, &t, None, None);
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (numeric - grad[j]).abs() < 1e-6 * (1.0 + numeric.abs()),
                "parameter {j}: analytic {} numeric {numeric}",
                grad[j]
            );
            checked += usize::from(numeric.abs() > 1e-6);
        }
        // Item vectors, popularities, tastes and effects all take part.
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn with_no_taste_the_probabilities_are_the_worlds() {
        // With tastes and effects at zero (τ = 0), the model must give what the world's oracle that knows
        // popularity and own items but no taste gives: a check of the constants against the generator itself.
        use algocenter_generator::context::{ContextConfig, Knowledge};
        let world = ContextWorld::new(ContextConfig {
            rows: 0,
            ..ContextConfig::default()
        });
        let (items, users) = (world.config().items as usize, world.config().users as usize);
        let layout = Layout::new(items, users);
        let mut theta = vec![0.0; layout.len];
        for i in 0..items {
            let (b, v) = world.item_truth(i as u32);
            theta[layout.popularity(i)] = b;
            theta[layout.vector(i)..][..TASTE].copy_from_slice(&v);
        }
        let own: Vec<Vec<u32>> = (0..users as u32)
            .map(|u| (0..items as u32).filter(|&i| world.is_own(u, i)).collect())
            .collect();
        let c = [3, 2, 0, 1, 0, 4, 7, 100];
        let rows: Vec<(u32, [usize; 8], u32, bool)> = (0..40)
            .map(|r| (r % 5, c, own[(r % 5) as usize][0] + r / 5 * (r % 2), false))
            .collect();
        let problem = Problem::new(layout, own, &rows);
        let mut probs = vec![0.0; problem.rows.len()];
        nll(&problem, &theta, None, Some(&mut probs));
        let knows = Knowledge {
            taste: false,
            context: false,
            ..Knowledge::ALL
        };
        for (p, &r) in probs.iter().zip(&problem.order) {
            let (u, _, i, _) = rows[r];
            let truth = world.oracle(u, &c, i, &knows);
            assert!((p - truth).abs() < 1e-12, "row {r}: {p} {truth}");
        }
    }

    #[test]
    fn the_fast_exponential_is_exact_enough() {
        for j in 0..=70_000 {
            let x = -(j as f64) / 100.0;
            let (fast, exact) = (exp_nonpositive(x), x.exp());
            assert!((fast - exact).abs() <= 4e-15 * exact, "{x}: {fast} {exact}");
        }
    }

    #[test]
    fn probabilities_follow_the_generators_formula() {
        let (problem, theta) = tiny();
        let mut probs = vec![0.0; problem.rows.len()];
        nll(&problem, &theta, None, Some(&mut probs));
        let l = &problem.layout;
        for ((g, _), (r, row)) in problem
            .groups
            .iter()
            .flat_map(|g| (g.start..g.end).map(move |r| (g, r)))
            .zip(problem.rows.iter().enumerate())
        {
            let mut tau: Vec<f64> = theta[l.taste(g.user as usize)..][..TASTE].to_vec();
            for (k, &v) in g.context.iter().enumerate() {
                if k != COST {
                    for d in 0..TASTE {
                        tau[d] += theta[l.effect(k, v) + d];
                    }
                }
            }
            let score = |j: usize| dot(&theta[l.vector(j)..][..TASTE], &tau);
            let any: Vec<f64> = (0..l.items)
                .map(|j| (theta[l.popularity(j)] + score(j)).exp())
                .collect();
            let own = &problem.own[g.user as usize];
            let own_total: f64 = own.iter().map(|&j| score(j as usize).exp().powf(1.5)).sum();
            let i = row.item as usize;
            let mut p = 0.3 * any[i] / any.iter().sum::<f64>();
            if own.contains(&row.item) {
                p += 0.7 * score(i).exp().powf(1.5) / own_total;
            }
            let truth = p / 3.0 / (p / 3.0 + 2.0 / 3.0 / l.items as f64);
            assert!((probs[r] - truth).abs() < 1e-12, "{} {truth}", probs[r]);
        }
    }
}
