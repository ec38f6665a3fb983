//! Training the deep model: minibatches split over the threads, gradients summed in thread order, Adam with L2
//! on the whole embedding table (lazily on big tables), the position term beside it.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::deep::{
    BETA1, BETA2, DENSE_ROWS, DeepConfig, DeepWeights, Dense, Grads, POSITIONS, Work, backward,
    forward, sigmoid, zeroed,
};
use super::dense::{adam, adam_parallel};
use super::examples::Examples;
use super::ffm::{CROSS_BUCKETS, Crosses};
use super::train::Ticker;

/// L2 of the crosses: the crossed regression's default (their step size is the config's).
const CROSS_L2: f32 = 0.00002;

/// AdaGrad step size of the crossed regression's buckets, and of the deep model's when no user chooses an item
/// twice.
const REGRESSION_CROSS_RATE: f32 = 0.05;

/// Share of the clicks that repeat a user × item pair below which the wide part learns at the regression's
/// step: a few repeats are what any log has by chance (the search shapes: under 1 %; the confounded test shop:
/// 14 %).
const CHANCE_REPEATS: f64 = 0.1;

/// The deep model's step size for its wide part's buckets, from the log's `repeat_click_share`: the crossed
/// regression's up to [`CHANCE_REPEATS`], rising linearly to ten times it when every click repeats one. The
/// regression's step is for its own thirty AdaGrad passes; within the deep model's dozen epochs the user × item
/// buckets of a log where users keep choosing their own items did not reach what they remember, and the
/// embeddings spent themselves on it (context shape, 81 % repeated: 0.05 / 0.2 / 0.5 / 1.0 held out 0.9728 /
/// 0.9749 / 0.9765 / 0.9756). Where clicks seldom repeat, fast buckets only learn each click by heart (search
/// shape at 400,000 events with 0.5: within-position AUC 0.6592 → 0.6194). See `bench/README.md`, issue 14.
pub(super) fn wide_learning_rate(repeat: f64) -> f32 {
    let beyond_chance = ((repeat - CHANCE_REPEATS) / (1.0 - CHANCE_REPEATS)).clamp(0.0, 1.0);
    REGRESSION_CROSS_RATE * (1.0 + 9.0 * beyond_chance as f32)
}

/// The learner: weights, Adam's moments, the position term and the threads' buffers.
#[derive(Clone)]
pub struct Learner {
    pub weights: DeepWeights,
    m: DeepWeights,
    v: DeepWeights,
    position: [Vec<f32>; 3],
    /// Position terms held at an estimate of their own ([`Learner::fix_positions`]).
    position_fixed: Vec<bool>,
    /// AdaGrad accumulators of the crosses, their summed gradients of a batch, and the buckets touched.
    cross_accumulators: Vec<f32>,
    cross_gradients: Vec<f32>,
    cross_touched: Vec<u32>,
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
            crosses: config.crosses,
            cross: if config.crosses == Crosses::Off {
                Vec::new()
            } else {
                vec![0.0; CROSS_BUCKETS as usize]
            },
        };
        let zero = zeroed(&weights);
        let buckets = weights.cross.len();
        Learner {
            m: zero.clone(),
            v: zero,
            weights,
            position: [
                vec![0.0; POSITIONS],
                vec![0.0; POSITIONS],
                vec![0.0; POSITIONS],
            ],
            position_fixed: vec![false; POSITIONS],
            // Starting at 1, as the crossed regression's (LIBFFM's): the first steps are not huge.
            cross_accumulators: vec![1.0; buckets],
            cross_gradients: vec![0.0; buckets],
            cross_touched: Vec::new(),
            config,
            threads: threads.max(1),
            steps: 0,
            rate_scale: 1.0,
        }
    }

    pub fn position(&self) -> &[f32] {
        &self.position[0]
    }

    /// Holds the position terms that `fixed` marks at `terms` from now on (the others keep learning).
    pub fn fix_positions(&mut self, terms: &[f32], fixed: &[bool]) {
        for (k, (&t, &f)) in terms.iter().zip(fixed).enumerate().take(POSITIONS) {
            if f {
                self.position[0][k] = t;
                self.position_fixed[k] = true;
            }
        }
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
            self.update_crosses(&mut grads, batch.len() as f32);
            self.update(&mut grads);
        }
        true
    }

    /// AdaGrad on the crosses of the batch, as the crossed regression learns them: each bucket's gradient is the
    /// sum of its examples' (the batch mean's `1/n` undone), summed in thread order.
    fn update_crosses(&mut self, grads: &mut [Grads], batch: f32) {
        if self.weights.cross.is_empty() {
            return;
        }
        for g in grads.iter_mut() {
            for (bucket, d) in g.cross.drain(..) {
                let b = bucket as usize;
                if self.cross_gradients[b] == 0.0 {
                    self.cross_touched.push(bucket);
                }
                self.cross_gradients[b] += d * batch;
            }
        }
        let (eta, l2) = (self.config.cross_learning_rate, CROSS_L2);
        for bucket in self.cross_touched.drain(..) {
            let b = bucket as usize;
            let w = &mut self.weights.cross[b];
            let g = std::mem::take(&mut self.cross_gradients[b]) + l2 * *w;
            self.cross_accumulators[b] += g * g;
            *w -= eta * g / self.cross_accumulators[b].sqrt();
        }
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
        // A fixed term gets no gradient: Adam's moments stay zero and the term stays where it was put.
        for g in grads.iter_mut() {
            for (g, &fixed) in g.position.iter_mut().zip(&self.position_fixed) {
                if fixed {
                    *g = 0.0;
                }
            }
        }
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
            crosses: Crosses::Off,
            cross_learning_rate: 0.05,
        }
    }

    #[test]
    fn the_wide_step_rises_with_the_repeated_clicks_beyond_chance() {
        let rate = wide_learning_rate;
        assert_eq!(rate(0.0), 0.05);
        assert_eq!(rate(0.1), 0.05);
        assert!(rate(0.55) > 0.25 && rate(0.55) < 0.3, "{}", rate(0.55));
        assert!((rate(1.0) - 0.5).abs() < 1e-6);
        assert!((rate(1.5) - 0.5).abs() < 1e-6);
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

    #[test]
    fn crosses_learn_beside_the_embeddings_and_serve_as_they_train() {
        let data = interaction_data();
        let order: Vec<u32> = (0..16_000).collect();
        let held: Vec<u32> = (16_000..20_000).collect();
        let labels: Vec<bool> = held.iter().map(|&i| data.label(i as usize)).collect();
        // The two fields are the user and the item: crossed.
        let crossed = DeepConfig {
            crosses: Crosses::Personal,
            ..config()
        };
        let mut learner = Learner::new(2, 0b11, 4, crossed, 2, 1);
        for _ in 0..3 {
            assert!(learner.pass(&data, &order, &Ticker::default()));
        }
        assert!(learner.weights.cross.iter().filter(|&&w| w != 0.0).count() >= 4);
        let z = learner.logits(&data, &held);
        let p: Vec<f32> = z.iter().map(|&z| sigmoid(z)).collect();
        assert!(logloss(&p, &labels).unwrap() < 0.45);
        // The served weights give the learner's logits (position term apart).
        let mut work = Work::default();
        let served = learner.weights.logits(
            held.len(),
            &mut |i, out| data.features(held[i] as usize, out),
            &mut work,
        );
        for (s, z) in served.iter().zip(&z) {
            assert!((s + learner.position()[0] - z).abs() < 1e-5, "{s} {z}");
        }
    }
}
