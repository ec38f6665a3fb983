//! Choosing the model on the app's own validation examples among candidate configurations (model kind,
//! embedding size, L2, learning rate; epochs by early stopping), by the validation's within-position AUC, then
//! its loss. When the plan allows, every candidate trains to its end (the deep model learns slowly at first:
//! comparing it after two epochs drops it for the wrong reason). Otherwise successive halving: every candidate
//! trains two epochs, the better half twice as long, and so on until one is left, which trains until its
//! validation loss stops falling; runs are resumed, not restarted, when promoted.
//!
//! The budget is planned, so that the same data and seed choose the same model: a cost model (measured on
//! this kind of machine, see `bench/README.md`) estimates the planned work, and when it would exceed
//! `tuning_budget_seconds` the candidates are compared on a sample of the result pages instead, and the
//! winner is then trained on all of them. The budget is also a deadline over every phase of the comparison
//! (a loaded machine runs far over any plan): no epoch starts after it, the leader so far is chosen and
//! trains on to its end as the final fit; `ExtendInfo` says so (`cut_by_clock`). A single candidate (a model
//! given explicitly) is not compared at all.

use std::ops::Range;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use super::deep::DeepConfig;
use super::evaluate::round;
use super::examination::Examination;
use super::examples::Examples;
use super::ffm::{Crosses, FfmConfig};
use super::train::{Candidate, Kind, Run, Ticker, Validation};

/// Epochs every candidate trains before the first comparison.
const FIRST_RUNG_EPOCHS: usize = 2;

/// What the tuner trains on.
pub struct Tuning<'a> {
    pub examples: &'a dyn Examples,
    pub fields: usize,
    /// Bit mask of the fields the examples have.
    pub present: u32,
    pub rows: usize,
    /// Mean active features per example (for the cost model).
    pub features: f64,
    pub fit: &'a [Range<u32>],
    pub validation: &'a Validation,
    pub max_epochs: usize,
    pub threads: usize,
    pub seed: u64,
    pub budget_seconds: f64,
    pub ticker: &'a Ticker,
    /// The examination curve estimated on its own, held fixed in every candidate (none: learned jointly).
    pub examination: Option<&'a Examination>,
}

/// The chosen configuration's run, and the figures of every candidate.
pub struct Outcome {
    pub winner: Run,
    pub report: Value,
}

/// Estimated seconds of one epoch of `c` over `examples` examples, on `threads` threads.
pub fn epoch_seconds(c: &Candidate, t: &Tuning<'_>, examples: f64) -> f64 {
    // Per-example costs measured with release builds on a 2-core AMD EPYC (AVX2): see bench/README.md.
    let per_example = match c.kind {
        Kind::Lr => 40e-9 * t.features,
        Kind::Ffm => 6e-9 * t.features * t.fields as f64 * c.ffm.k as f64 + 40e-9 * t.features,
        Kind::Deep => {
            let mlp = 3.0 * c.deep.flops(t.present.count_ones() as usize) as f64 * 2.0
                / 12e9
                / t.threads as f64;
            let rows = 8.0 * (t.rows * (c.deep.dim + 1)) as f64 * 1e-9 / c.deep.batch as f64;
            mlp + rows + 30e-9 * t.features * c.deep.dim as f64
        }
    };
    per_example * examples
}

fn planned_epochs(candidates: usize, max_epochs: usize) -> Vec<usize> {
    // Epochs each run reaches in each rung: 2, 4, 8, … until one run is left, which goes on to max_epochs.
    let mut out = Vec::new();
    let (mut alive, mut target) = (candidates, FIRST_RUNG_EPOCHS.min(max_epochs));
    while alive > 1 {
        out.push(target);
        alive = alive.div_ceil(2);
        target = (target * 2).min(max_epochs);
    }
    out.push(max_epochs);
    out
}

/// Epochs a run of `kind` usually takes before early stopping ends it (measured on the benchmark shapes).
fn expected_epochs(kind: Kind) -> f64 {
    match kind {
        Kind::Lr => 3.0,
        Kind::Ffm => 4.0,
        Kind::Deep => 10.0,
    }
}

/// Seconds every candidate would take to its end.
fn complete_seconds(candidates: &[Candidate], t: &Tuning<'_>, examples: f64) -> f64 {
    candidates
        .iter()
        .map(|c| {
            let s =
                epoch_seconds(c, t, examples) * expected_epochs(c.kind).min(t.max_epochs as f64);
            if c.single_threaded() {
                s / t.threads as f64
            } else {
                s
            }
        })
        .sum()
}

/// Seconds successive halving would take on `examples` examples per epoch (candidates that run on one thread
/// run side by side).
fn planned_seconds(candidates: &[Candidate], t: &Tuning<'_>, examples: f64) -> f64 {
    let mut costs: Vec<f64> = candidates
        .iter()
        .map(|c| {
            let s = epoch_seconds(c, t, examples);
            if c.single_threaded() {
                s / t.threads as f64
            } else {
                s
            }
        })
        .collect();
    let mut total = 0.0;
    let mut done = 0;
    for target in planned_epochs(candidates.len(), t.max_epochs) {
        // The cheapest half is not known in advance: count the dearest ones, the worst case.
        total += costs
            .iter()
            .map(|c| c * (target - done) as f64)
            .sum::<f64>();
        done = target;
        costs.sort_by(|a, b| a.total_cmp(b));
        costs.truncate(costs.len().div_ceil(2));
    }
    total
}

/// A seeded sample of `share` of the groups, in their order.
fn sample(groups: &[Range<u32>], share: f64, seed: u64) -> Vec<Range<u32>> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5a3b_1e00);
    groups
        .iter()
        .filter(|_| rng.random::<f64>() < share)
        .cloned()
        .collect()
}

/// How a call of [`train_to`] ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trained {
    /// Every run reached its target or its end.
    Done,
    /// The deadline passed before some run reached its target.
    Cut,
    Cancelled,
}

/// Trains every run of `runs` up to `target` epochs (or its end), starting no epoch after `deadline`; runs on
/// one thread go side by side.
fn train_to(
    runs: &mut [&mut Run],
    target: usize,
    t: &Tuning<'_>,
    fit: &[Range<u32>],
    deadline: Option<Instant>,
) -> Trained {
    let go = |run: &mut Run| -> Trained {
        while !run.finished && run.epochs() < target {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                run.stopped_by_clock = true;
                return Trained::Cut;
            }
            if !run.epoch(t.examples, fit, t.validation, t.ticker) {
                return Trained::Cancelled;
            }
        }
        Trained::Done
    };
    let worst = |a: Trained, b: Trained| match (a, b) {
        (Trained::Cancelled, _) | (_, Trained::Cancelled) => Trained::Cancelled,
        (Trained::Cut, _) | (_, Trained::Cut) => Trained::Cut,
        _ => Trained::Done,
    };
    let (mut single, mut multi): (Vec<&mut &mut Run>, Vec<&mut &mut Run>) =
        runs.iter_mut().partition(|r| r.candidate.single_threaded());
    let mut outcome = Trained::Done;
    for run in multi.iter_mut() {
        outcome = worst(outcome, go(run));
        if outcome == Trained::Cancelled {
            return outcome;
        }
    }
    for group in single.chunks_mut(t.threads.max(1)) {
        let ended = std::thread::scope(|s| {
            let mut parts = group.iter_mut();
            let first = parts.next();
            let handles: Vec<_> = parts.map(|run| s.spawn(|| go(run))).collect();
            let mut ended = first.map_or(Trained::Done, |r| go(r));
            for h in handles {
                ended = worst(ended, h.join().unwrap_or(Trained::Cancelled));
            }
            ended
        });
        outcome = worst(outcome, ended);
        if outcome == Trained::Cancelled {
            return outcome;
        }
    }
    outcome
}

/// Trains one run to its end, without deadline; `None` when cancelled.
fn train_out(run: &mut Run, t: &Tuning<'_>, fit: &[Range<u32>]) -> Option<()> {
    (train_to(&mut [run], usize::MAX, t, fit, None) == Trained::Done).then_some(())
}

fn describe(run: &Run) -> Value {
    let mut v = run.candidate.describe();
    if let (Some(o), Some(best)) = (v.as_object_mut(), run.best_score()) {
        o.insert("epochs".into(), json!(run.epochs()));
        o.insert("best_epoch".into(), json!(run.best_epoch));
        o.insert(
            "validation_auc_within_position".into(),
            json!(round(best.auc_within_position)),
        );
        o.insert("validation_logloss".into(), json!(round(best.logloss)));
        o.insert("seconds".into(), json!(round(run.seconds)));
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("stopped_by_clock".into(), json!(run.stopped_by_clock));
    }
    v
}

/// The candidates whose run on every fitted example alone fits the budget (at least the cheapest one), and
/// those left out.
pub fn affordable(t: &Tuning<'_>, candidates: &[Candidate]) -> (Vec<Candidate>, Vec<Candidate>) {
    let fit_examples: f64 = t.fit.iter().map(|g| g.len() as f64).sum();
    let own = |c: &Candidate| {
        epoch_seconds(c, t, fit_examples) * expected_epochs(c.kind).min(t.max_epochs as f64)
    };
    let (mut kept, mut dropped): (Vec<Candidate>, Vec<Candidate>) =
        candidates.iter().partition(|c| own(c) <= t.budget_seconds);
    if kept.is_empty()
        && let Some(cheapest) = dropped
            .iter()
            .copied()
            .min_by(|a, b| own(a).total_cmp(&own(b)))
    {
        kept.push(cheapest);
        dropped.retain(|c| *c != cheapest);
    }
    (kept, dropped)
}

/// A fresh run of `candidate`.
fn run_of(candidate: Candidate, t: &Tuning<'_>) -> Run {
    Run::new(
        candidate,
        t.fields,
        t.present,
        t.rows,
        t.max_epochs,
        t.threads,
        t.seed,
    )
    .with_examination(t.examination)
}

/// The only candidate (a model given explicitly): trained on every fitted page, nothing compared.
fn train_only(t: &Tuning<'_>, candidate: Candidate) -> Option<Outcome> {
    let started = Instant::now();
    let mut winner = run_of(candidate, t);
    train_out(&mut winner, t, t.fit)?;
    let report = json!({
        "candidates": [describe(&winner)],
        "chosen": candidate.describe(),
        "method": "one candidate (the model given): no comparison",
        "budget_seconds": t.budget_seconds,
        "cut_by_clock": false,
        "seconds": 0.0,
        "final_fit_seconds": round(started.elapsed().as_secs_f64()),
    });
    Some(Outcome { winner, report })
}

/// Successive halving, or every candidate to its end, over the affordable `candidates`, within the budget's
/// deadline; then the final fit of the chosen one. `None` when cancelled.
pub fn tune(t: &Tuning<'_>, candidates: &[Candidate]) -> Option<Outcome> {
    if let [only] = candidates {
        return train_only(t, *only);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(t.budget_seconds);
    let (candidates, over_budget) = affordable(t, candidates);
    let candidates = &candidates[..];
    let fit_examples: f64 = t.fit.iter().map(|g| g.len() as f64).sum();
    let complete = complete_seconds(candidates, t, fit_examples);
    let full = planned_seconds(candidates, t, fit_examples);
    let share = if complete <= t.budget_seconds {
        1.0
    } else {
        (t.budget_seconds / full).clamp(0.02, 1.0)
    };
    let sampled;
    let tune_fit: &[Range<u32>] = if share < 1.0 {
        sampled = sample(t.fit, share, t.seed);
        &sampled
    } else {
        t.fit
    };
    let mut runs: Vec<Run> = candidates.iter().map(|&c| run_of(c, t)).collect();
    let mut alive: Vec<usize> = (0..runs.len()).collect();
    let mut rungs: Vec<Value> = Vec::new();
    let mut cut_by_clock = false;
    // Every candidate to its end when that fits the budget, else successive halving.
    let schedule = if complete <= t.budget_seconds {
        vec![t.max_epochs]
    } else {
        planned_epochs(candidates.len(), t.max_epochs)
    };
    for (rung, &target) in schedule.iter().enumerate() {
        let last = rung + 1 == schedule.len();
        let mut chosen: Vec<&mut Run> = runs
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| alive.contains(i))
            .map(|(_, r)| r)
            .collect();
        match train_to(&mut chosen, target, t, tune_fit, Some(deadline)) {
            Trained::Cancelled => return None,
            Trained::Cut => cut_by_clock = true,
            Trained::Done => {}
        }
        // Best first; a run without a score (none) last.
        alive.sort_by(|&a, &b| {
            let (sa, sb) = (runs[a].best_score(), runs[b].best_score());
            match (sa, sb) {
                (Some(x), Some(y)) if x.better_than(&y) => std::cmp::Ordering::Less,
                (Some(x), Some(y)) if y.better_than(&x) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                _ => a.cmp(&b),
            }
        });
        rungs.push(json!({"epochs": target, "ranking": alive.iter().map(|&i| runs[i].candidate.kind.name()).collect::<Vec<_>>()}));
        if last || cut_by_clock {
            break;
        }
        alive.truncate(alive.len().div_ceil(2));
    }
    let tuning_seconds = started.elapsed().as_secs_f64();
    let winner_index = alive[0];
    let candidates_report: Vec<Value> = runs.iter().map(describe).collect();
    let mut winner = runs.swap_remove(winner_index);
    let tuned_on_sample = share < 1.0;
    let final_fit = Instant::now();
    if tuned_on_sample {
        // The comparison was on a sample: the winner's configuration trains anew on every fitted page.
        winner = run_of(winner.candidate, t);
    }
    // The final fit is no longer comparison: a run the clock stopped goes on to its end.
    winner.stopped_by_clock = false;
    train_out(&mut winner, t, t.fit)?;
    let report = json!({
        "candidates": candidates_report,
        "left_out_over_budget": over_budget.iter().map(Candidate::describe).collect::<Vec<_>>(),
        "chosen": winner.candidate.describe(),
        "rungs": rungs,
        "planned_seconds": round(if complete <= t.budget_seconds { complete } else { full * share }),
        "method": if complete <= t.budget_seconds { "every candidate to its end" } else { "successive halving" },
        "budget_seconds": t.budget_seconds,
        "compared_on_share_of_pages": round(share),
        "cut_by_clock": cut_by_clock,
        "seconds": round(tuning_seconds),
        "final_fit_seconds": round(final_fit.elapsed().as_secs_f64()),
    });
    Some(Outcome { winner, report })
}

/// Example passes a tuning is expected to make (for the progress bar).
pub fn planned_examples(t: &Tuning<'_>, candidates: &[Candidate]) -> f64 {
    let fit_examples: f64 = t.fit.iter().map(|g| g.len() as f64).sum();
    if let [only] = candidates {
        return expected_epochs(only.kind).min(t.max_epochs as f64) * fit_examples;
    }
    let (candidates, _) = affordable(t, candidates);
    let candidates = &candidates[..];
    if complete_seconds(candidates, t, fit_examples) <= t.budget_seconds {
        return candidates
            .iter()
            .map(|c| expected_epochs(c.kind).min(t.max_epochs as f64) * fit_examples)
            .sum();
    }
    let full = planned_seconds(candidates, t, fit_examples);
    let share = (t.budget_seconds / full).clamp(0.02, 1.0);
    let mut alive = candidates.len() as f64;
    let mut total = 0.0;
    let mut done = 0;
    for target in planned_epochs(candidates.len(), t.max_epochs) {
        total += alive * (target - done) as f64 * fit_examples * share;
        done = target;
        alive = (alive / 2.0).ceil();
    }
    total + t.max_epochs as f64 * fit_examples
}

/// The candidates `model=auto` compares.
pub fn candidates(seed_config: &Candidate) -> Vec<Candidate> {
    let ffm = |k: usize| Candidate {
        kind: if k == 0 { Kind::Lr } else { Kind::Ffm },
        ffm: FfmConfig {
            k,
            crosses: Crosses::Personal,
            ..seed_config.ffm
        },
        deep: seed_config.deep,
    };
    let deep = |dim: usize, hidden: [usize; 3], learning_rate: f32, embedding_l2: f32| Candidate {
        kind: Kind::Deep,
        ffm: seed_config.ffm,
        deep: DeepConfig {
            dim,
            hidden,
            learning_rate,
            embedding_l2,
            batch: 256,
            crosses: Crosses::Personal,
            cross_learning_rate: seed_config.deep.cross_learning_rate,
        },
    };
    // Logistic regression with crosses is a candidate too: on some logs it orders pages best, and the model
    // chosen must then be it (it costs a fraction of the others).
    vec![
        ffm(0),
        ffm(4),
        ffm(8),
        deep(16, [256, 128, 0], 0.003, 0.001),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctr::train::tests::interaction_data;
    use crate::ctr::train::{Ticker, Validation};

    fn seed_config() -> Candidate {
        Candidate {
            kind: Kind::Ffm,
            ffm: FfmConfig {
                k: 4,
                learning_rate: 0.1,
                l2: 0.0,
                crosses: Crosses::Personal,
            },
            deep: DeepConfig {
                dim: 8,
                hidden: [64, 32, 0],
                learning_rate: 0.01,
                embedding_l2: 0.0,
                batch: 256,
                crosses: Crosses::Personal,
                cross_learning_rate: 0.05,
            },
        }
    }

    /// Tunes on the interaction data with `budget` seconds.
    fn tune_with(budget: f64, candidates: &[Candidate]) -> Outcome {
        let data = interaction_data();
        let fit: Vec<Range<u32>> = (0..16_000).map(|i| i..i + 1).collect();
        let validation = Validation::new(&data, (16_000..20_000).map(|i| i..i + 1).collect());
        let ticker = Ticker::default();
        let t = Tuning {
            examples: &data,
            fields: 2,
            present: 0b11,
            rows: 4,
            features: 2.0,
            fit: &fit,
            validation: &validation,
            max_epochs: 30,
            threads: 2,
            seed: 1,
            budget_seconds: budget,
            ticker: &ticker,
            examination: None,
        };
        tune(&t, candidates).expect("not cancelled")
    }

    fn epochs(report: &Value) -> Vec<u64> {
        report["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["epochs"].as_u64().unwrap_or(0))
            .collect()
    }

    #[test]
    fn a_small_budget_ends_the_comparison_with_the_candidates_so_far() {
        let candidates = candidates(&seed_config());
        let free = tune_with(3600.0, &candidates);
        assert_eq!(free.report["cut_by_clock"], json!(false), "{}", free.report);
        // A budget far below the comparison's work: a few milliseconds of it.
        let budget = 0.005;
        let cut = tune_with(budget, &candidates);
        let report = &cut.report;
        println!("{report:#}");
        assert_eq!(report["cut_by_clock"], json!(true), "{report}");
        let (all, some): (u64, u64) = (
            epochs(&free.report).iter().sum(),
            epochs(report).iter().sum(),
        );
        assert!(some < all, "cut {some} epochs, unbounded {all}");
        // No epoch starts after the deadline: the comparison ends within one epoch of it (the longest one of
        // any candidate, measured in the unbounded run), with some slack for the threads' start.
        let longest = free.report["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["seconds"].as_f64().unwrap() / c["epochs"].as_f64().unwrap().max(1.0))
            .fold(0.0, f64::max);
        let seconds = report["seconds"].as_f64().unwrap();
        assert!(
            seconds <= budget + 2.0 * longest + 0.05,
            "{seconds} s, epochs up to {longest} s"
        );
        let stopped = report["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["stopped_by_clock"] == json!(true))
            .count();
        assert!(stopped >= 1, "{report}");
        // The leader so far still trains to its end: a working model.
        assert!(cut.winner.finished);
        assert!(
            cut.winner
                .best_score()
                .is_some_and(|s| s.auc_within_position > 0.7)
        );
    }

    #[test]
    fn a_model_given_is_trained_without_comparison() {
        let only = tune_with(0.005, &[seed_config()]);
        assert_eq!(only.report["candidates"].as_array().unwrap().len(), 1);
        assert_eq!(only.report["cut_by_clock"], json!(false));
        assert!(
            only.report["method"]
                .as_str()
                .unwrap()
                .contains("no comparison")
        );
        assert!(
            only.winner.finished,
            "trained to its end whatever the budget"
        );
    }

    #[test]
    fn successive_halving_halves_until_one_is_left() {
        assert_eq!(planned_epochs(6, 20), vec![2, 4, 8, 20]);
        assert_eq!(planned_epochs(1, 20), vec![20]);
        assert_eq!(planned_epochs(3, 3), vec![2, 3, 3]);
    }
}
