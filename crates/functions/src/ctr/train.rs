//! Training one candidate configuration epoch by epoch: shuffled passes over the fitted examples, the
//! validation score after each, the best epoch kept, the learning rate lowered once on the first plateau (Adam
//! learners), and a stop on the second. [`Run`]s are what the tuner (`tune.rs`) promotes or drops.
//!
//! On large data an "epoch" of a run is a part of a pass ([`EXAMPLES_PER_CHECK`] examples): the more examples,
//! the fewer passes a model needs, and a plateau found in the middle of a pass ends the run there instead of
//! after whole passes of ten million examples.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use super::deep::{DeepConfig, DeepWeights};
use super::deep_train;
use super::evaluate::auc_within_position;
use super::examination::Examination;
use super::examples::Examples;
use super::ffm::{self, FfmConfig, Weights, sigmoid};
use crate::evaluation::logloss;

/// Fitted examples between two validation checks (a whole pass when there are fewer than one and a half times
/// as many).
pub const EXAMPLES_PER_CHECK: usize = 1_000_000;
/// Validation examples scored at each check at most: a sample of the validation pages beyond it (the last pass
/// over the validation examples before serving still takes them all).
const SCORED_VALIDATION: usize = 300_000;

/// Work done and cancellation, shared by the training threads and the thread that reports progress.
#[derive(Default)]
pub struct Ticker {
    done: AtomicU64,
    cancelled: AtomicBool,
}

impl Ticker {
    /// Counts `examples` more steps; `false` once cancelled.
    pub fn tick(&self, examples: usize) -> bool {
        self.done.fetch_add(examples as u64, Ordering::Relaxed);
        !self.cancelled.load(Ordering::Relaxed)
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Logistic regression with crosses.
    Lr,
    Ffm,
    Deep,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Lr => "lr",
            Kind::Ffm => "ffm",
            Kind::Deep => "deep",
        }
    }
}

/// One configuration to train.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub kind: Kind,
    pub ffm: FfmConfig,
    pub deep: DeepConfig,
}

impl Candidate {
    pub fn describe(&self) -> Value {
        match self.kind {
            Kind::Lr => {
                json!({"model": "lr", "learning_rate": self.ffm.learning_rate, "l2": self.ffm.l2})
            }
            Kind::Ffm => json!({"model": "ffm", "latent_dim": self.ffm.k,
                "learning_rate": self.ffm.learning_rate, "l2": self.ffm.l2}),
            Kind::Deep => json!({"model": "deep", "embedding_dim": self.deep.dim,
                "hidden_layers": self.deep.layers(), "learning_rate": self.deep.learning_rate,
                "embedding_l2": self.deep.embedding_l2, "batch": self.deep.batch,
                "wide_learning_rate": self.deep.cross_learning_rate}),
        }
    }

    /// Whether a run uses one thread (then two runs go side by side) rather than all of them.
    pub fn single_threaded(&self) -> bool {
        self.kind != Kind::Deep
    }
}

/// The validation examples and what scoring them needs.
pub struct Validation {
    pub groups: Vec<Range<u32>>,
    /// The examples scored at each check: every validation example, or a sample of whole pages.
    pub indices: Vec<u32>,
    pub labels: Vec<bool>,
    pub positions: Vec<u8>,
}

impl Validation {
    pub fn new(examples: &dyn Examples, groups: Vec<Range<u32>>) -> Validation {
        let total: usize = groups.iter().map(|g| g.len()).sum();
        // Every k-th page: deterministic, spread over the validation days.
        let stride = total.div_ceil(SCORED_VALIDATION).max(1);
        let indices: Vec<u32> = groups
            .iter()
            .step_by(stride)
            .flat_map(Clone::clone)
            .collect();
        Validation {
            labels: indices
                .iter()
                .map(|&i| examples.label(i as usize))
                .collect(),
            positions: indices
                .iter()
                .map(|&i| examples.position(i as usize))
                .collect(),
            indices,
            groups,
        }
    }
}

/// Validation figures of one epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Score {
    pub logloss: f64,
    pub auc_within_position: f64,
}

impl Score {
    /// Whether `self` ranks better than `other` (the headline metric, then the loss).
    pub fn better_than(&self, other: &Score) -> bool {
        (self.auc_within_position, -self.logloss) > (other.auc_within_position, -other.logloss)
    }
}

/// A trained model as served: the relevance scorer and the position term.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub enum Scorer {
    /// Logistic regression (`k = 0`, with crosses) or a field-aware factorization machine.
    Ffm(Weights),
    Deep(DeepWeights),
}

#[derive(Clone)]
enum Learner {
    Ffm(ffm::Learner),
    Deep(Box<deep_train::Learner>),
}

impl Learner {
    fn pass(&mut self, examples: &dyn Examples, order: &[u32], ticker: &Ticker) -> bool {
        match self {
            Learner::Ffm(l) => l.pass(examples, order, ticker),
            Learner::Deep(l) => l.pass(examples, order, ticker),
        }
    }

    fn logits(&self, examples: &dyn Examples, indices: &[u32]) -> Vec<f32> {
        match self {
            Learner::Ffm(l) => l.logits(examples, indices),
            Learner::Deep(l) => l.logits(examples, indices),
        }
    }

    fn fix_positions(&mut self, terms: &[f32], fixed: &[bool]) {
        match self {
            Learner::Ffm(l) => l.fix_positions(terms, fixed),
            Learner::Deep(l) => l.fix_positions(terms, fixed),
        }
    }

    /// Lowers the learning rate for the rest of the run; `false` when the learner has no such schedule.
    fn lower_rate(&mut self) -> bool {
        match self {
            Learner::Ffm(_) => false,
            Learner::Deep(l) => {
                l.rate_scale *= 0.1;
                true
            }
        }
    }
}

/// One candidate's training, resumable epoch by epoch.
pub struct Run {
    pub candidate: Candidate,
    learner: Learner,
    best: Option<(Score, Learner)>,
    pub history: Vec<Score>,
    pub best_epoch: usize,
    pub finished: bool,
    lowered: bool,
    max_epochs: usize,
    /// Checks at most: `max_epochs` passes (known at the first check).
    max_checks: usize,
    /// The current pass's shuffled order (kept between the checks of one pass) and how far it has gone.
    pass: Vec<u32>,
    cursor: usize,
    rng: SmallRng,
    pub seconds: f64,
    /// The tuner's deadline ended this run's comparison.
    pub stopped_by_clock: bool,
}

impl Run {
    /// A run over `fields` fields, of which those of the bit mask `present` occur in the examples.
    pub fn new(
        candidate: Candidate,
        fields: usize,
        present: u32,
        rows: usize,
        max_epochs: usize,
        threads: usize,
        seed: u64,
    ) -> Run {
        let learner = match candidate.kind {
            Kind::Lr | Kind::Ffm => {
                Learner::Ffm(ffm::Learner::new(fields, rows, candidate.ffm, seed))
            }
            Kind::Deep => Learner::Deep(Box::new(deep_train::Learner::new(
                fields,
                present,
                rows,
                candidate.deep,
                threads,
                seed,
            ))),
        };
        Run {
            candidate,
            learner,
            best: None,
            history: Vec::new(),
            best_epoch: 0,
            finished: false,
            lowered: false,
            max_epochs: max_epochs.max(1),
            max_checks: 0,
            pass: Vec::new(),
            cursor: 0,
            rng: SmallRng::seed_from_u64(seed ^ 0x0dd5_eed5),
            seconds: 0.0,
            stopped_by_clock: false,
        }
    }

    /// The run with the position terms of an examination curve estimated on its own held fixed.
    pub fn with_examination(mut self, examination: Option<&Examination>) -> Run {
        if let Some(e) = examination {
            self.learner.fix_positions(&e.terms, &e.fixed);
        }
        self
    }

    /// Validation checks so far (passes, on data of less than [`EXAMPLES_PER_CHECK`] examples).
    pub fn epochs(&self) -> usize {
        self.history.len()
    }

    pub fn best_score(&self) -> Option<Score> {
        self.best.as_ref().map(|(s, _)| *s)
    }

    /// Trains one more epoch (or part of a pass, on large data) and scores it; `false` when cancelled.
    pub fn epoch(
        &mut self,
        examples: &dyn Examples,
        fit: &[Range<u32>],
        validation: &Validation,
        ticker: &Ticker,
    ) -> bool {
        if self.finished {
            return true;
        }
        let started = std::time::Instant::now();
        if self.cursor >= self.pass.len() {
            self.pass = shuffled(fit, &mut self.rng);
            self.cursor = 0;
            if self.max_checks == 0 {
                self.max_checks = self.max_epochs * checks_per_pass(self.pass.len());
            }
        }
        let mut end = (self.cursor + EXAMPLES_PER_CHECK).min(self.pass.len());
        if self.pass.len() - end < EXAMPLES_PER_CHECK / 2 {
            // A short rest of the pass joins this part.
            end = self.pass.len();
        }
        if !self
            .learner
            .pass(examples, &self.pass[self.cursor..end], ticker)
        {
            return false;
        }
        self.cursor = end;
        if self.cursor == self.pass.len() {
            self.pass = Vec::new();
            self.cursor = 0;
        }
        let z = self.learner.logits(examples, &validation.indices);
        let p: Vec<f32> = z.iter().map(|&z| sigmoid(z)).collect();
        let score = Score {
            logloss: logloss(&p, &validation.labels).unwrap_or(f64::INFINITY),
            auc_within_position: auc_within_position(&p, &validation.labels, &validation.positions)
                .unwrap_or(0.5),
        };
        self.history.push(score);
        let improved = match &self.best {
            Some((best, _)) => score.logloss < best.logloss - 1e-5,
            None => true,
        };
        if improved {
            self.best = Some((score, self.learner.clone()));
            self.best_epoch = self.history.len();
        } else if !self.lowered
            && let Some((_, best)) = &self.best
        {
            // The first plateau: back to the best weights, with a tenth of the rate.
            let mut resumed = best.clone();
            if resumed.lower_rate() {
                self.learner = resumed;
                self.lowered = true;
            } else {
                self.finished = true;
            }
        } else {
            self.finished = true;
        }
        if self.history.len() >= self.max_checks.max(1) {
            self.finished = true;
        }
        self.seconds += started.elapsed().as_secs_f64();
        true
    }

    /// The best epoch's model after one last pass over the validation examples (the most recent ones, too
    /// valuable to leave out of the served model), and its position term. `None` when cancelled.
    pub fn finish(
        self,
        examples: &dyn Examples,
        validation: &Validation,
        ticker: &Ticker,
    ) -> Option<(Scorer, Vec<f32>)> {
        let mut learner = self.best.map(|(_, l)| l).unwrap_or(self.learner);
        let mut rng = SmallRng::seed_from_u64(0x0f17_a15e);
        let order = shuffled(&validation.groups, &mut rng);
        if !learner.pass(examples, &order, ticker) {
            return None;
        }
        Some(match learner {
            Learner::Ffm(l) => {
                let (w, position) = l.weights();
                (Scorer::Ffm(w), position)
            }
            Learner::Deep(l) => {
                let position = l.position().to_vec();
                (Scorer::Deep(l.weights), position)
            }
        })
    }
}

/// Validation checks in one pass over `examples` examples.
pub fn checks_per_pass(examples: usize) -> usize {
    if examples < EXAMPLES_PER_CHECK * 3 / 2 {
        1
    } else {
        // Parts of a check each; a rest shorter than half a check joins the last one.
        (examples + EXAMPLES_PER_CHECK / 2) / EXAMPLES_PER_CHECK
    }
}

/// The examples of `groups` in a shuffled order of the groups. Examples come in groups (the exposures of one
/// result page) that are shuffled as units: they share their user, query and context, whose weights then stay
/// in cache (on 3 M generated events: the FFM 11.9 → 9.2 s, logistic regression 7.0 → 2.6 s, the same held-out
/// AUC).
fn shuffled(groups: &[Range<u32>], rng: &mut SmallRng) -> Vec<u32> {
    let mut order = groups.to_vec();
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order.into_iter().flatten().collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ctr::examples::Active;

    /// Examples of two fields whose label is an XOR-like interaction no linear model can express.
    pub struct Interaction {
        pub data: Vec<(u32, u32, bool)>,
    }

    impl Examples for Interaction {
        fn features(&self, i: usize, out: &mut Vec<Active>) {
            out.clear();
            let (a, b, _) = self.data[i];
            out.push(Active {
                index: a,
                field: 0,
                x: 1.0,
            });
            out.push(Active {
                index: 2 + b,
                field: 1,
                x: 1.0,
            });
        }

        fn label(&self, i: usize) -> bool {
            self.data[i].2
        }

        fn position(&self, _: usize) -> u8 {
            0
        }
    }

    pub fn interaction_data() -> Interaction {
        let mut rng = SmallRng::seed_from_u64(3);
        let data = (0..20_000)
            .map(|_| {
                let (a, b) = (rng.random_range(0..2u32), rng.random_range(0..2u32));
                // Clicked mostly when both agree.
                let p = if a == b { 0.8 } else { 0.1 };
                (a, b, rng.random::<f64>() < p)
            })
            .collect();
        Interaction { data }
    }

    #[test]
    fn a_run_stops_early_keeps_its_best_epoch_and_lowers_the_rate_once() {
        let data = interaction_data();
        let fit: Vec<Range<u32>> = (0..16_000).map(|i| i..i + 1).collect();
        let validation = Validation::new(&data, (16_000..20_000).map(|i| i..i + 1).collect());
        let candidate = Candidate {
            kind: Kind::Deep,
            ffm: FfmConfig {
                k: 0,
                learning_rate: 0.1,
                l2: 0.0,
                crosses: ffm::Crosses::Off,
            },
            deep: DeepConfig {
                dim: 4,
                hidden: [8, 0, 0],
                learning_rate: 0.05,
                embedding_l2: 0.0,
                batch: 256,
                crosses: ffm::Crosses::Off,
                cross_learning_rate: 0.05,
            },
        };
        let mut run = Run::new(candidate, 2, 0b11, 4, 30, 2, 1);
        let ticker = Ticker::default();
        while !run.finished {
            assert!(run.epoch(&data, &fit, &validation, &ticker));
        }
        assert!(run.epochs() < 30, "stopped early: {:?}", run.history);
        let best = run.best_score().unwrap();
        assert!(run.history.iter().all(|s| s.logloss >= best.logloss));
        assert!(best.auc_within_position > 0.8, "{best:?}");
        assert!(ticker.done() >= 16_000 * run.epochs() as u64);
        assert!(run.finish(&data, &validation, &ticker).is_some());
    }
}
