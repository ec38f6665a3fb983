//! The held-out days, written once: which days a trainer fits on and which it evaluates on, from the
//! `train_window_days` and `holdout_days` parameters, and the steps of the evaluation.
//!
//! Two ways to use them, one per kind of function:
//! - **The evaluated model serves** ([`HeldOutSplit::evaluate`]; `pop`, `ctr`): the model is fitted on the
//!   window's days before the held-out ones ([`HeldOutSplit::before_held_out`]) and evaluated on the held-out
//!   days, which it never trains on.
//! - **Evaluate, then refit** ([`HeldOutSplit::evaluate_then_refit`]; the query functions): a model fitted on a
//!   whole window ending where the held-out days begin is evaluated on them; the served model is then refit,
//!   by the same fit, on the whole window ending now, so that it is as fresh as the data.
//!
//! The fit and the scoring are handed only the windows they may read, so a trainer cannot evaluate on days it
//! fitted on.

use algocenter_domain::catalogue::EffectiveParameters;
use algocenter_domain::data::DAY_MS;

use crate::evaluation::Metrics;
use crate::params::param_error;
use crate::progress::{Step, Steps, step};
use crate::{TrainError, TrainingJob};

/// The step of every trainer's plan in which it evaluates on the held-out days.
pub const EVALUATING: &str = "evaluating on held-out days";
/// The step of an evaluate-then-refit trainer's plan in which the served model is fitted.
pub const REFITTING: &str = "refitting on the whole window";

const FITTING_BEFORE: &str = "fitting on the days before";
const SCORING: &str = "scoring the held-out days";
/// The evaluation of an evaluate-then-refit trainer: fitting a model is usually the longer part.
const EVALUATION_STEPS: &[Step] = &[step(FITTING_BEFORE, 2), step(SCORING, 1)];

/// A span of event time, `[from_ms, to_ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Window {
    pub fn len_ms(&self) -> i64 {
        self.to_ms - self.from_ms
    }

    pub fn contains(&self, at_ms: i64) -> bool {
        at_ms >= self.from_ms && at_ms < self.to_ms
    }

    /// The window of the same length that ends where this one begins.
    pub fn before(&self) -> Window {
        Window {
            from_ms: self.from_ms - self.len_ms(),
            to_ms: self.from_ms,
        }
    }
}

/// `train_window_days` and `holdout_days`: the held-out days are the last ones of the window.
pub(crate) fn window_days(p: &EffectiveParameters) -> Result<(i64, i64), TrainError> {
    let window_days = p.int("train_window_days").map_err(param_error)?;
    let holdout_days = p.int("holdout_days").map_err(param_error)?;
    if holdout_days >= window_days {
        return Err(TrainError::Failed(format!(
            "train_window_days ({window_days}) must be larger than holdout_days ({holdout_days})"
        )));
    }
    Ok((window_days, holdout_days))
}

/// Which windows a model is fitted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// The model to evaluate: a whole window's length, ending where the held-out days begin.
    Evaluated(Window),
    /// The model to serve: the whole window, ending now.
    Served(Window),
}

impl Fit {
    pub fn window(self) -> Window {
        match self {
            Fit::Evaluated(w) | Fit::Served(w) => w,
        }
    }

    pub fn is_served(self) -> bool {
        matches!(self, Fit::Served(_))
    }
}

/// What the scoring of an evaluated model may know: the window it was fitted on and the held-out days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub fit: Window,
    pub held_out: Window,
}

/// The training window of a run and its held-out last days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldOutSplit {
    now_ms: i64,
    window_days: i64,
    holdout_days: i64,
}

impl HeldOutSplit {
    /// The split of a run from its parameters; refused when the held-out days would fill the window.
    pub fn read(job: &TrainingJob<'_>) -> Result<Self, TrainError> {
        let (window_days, holdout_days) = window_days(job.parameters)?;
        Ok(HeldOutSplit {
            now_ms: job.now_ms,
            window_days,
            holdout_days,
        })
    }

    pub fn window_days(&self) -> i64 {
        self.window_days
    }

    pub fn holdout_days(&self) -> i64 {
        self.holdout_days
    }

    /// `train_window_days` ending now, held-out days included.
    pub fn whole_window(&self) -> Window {
        Window {
            from_ms: self.now_ms - self.window_days * DAY_MS,
            to_ms: self.now_ms,
        }
    }

    /// The last `holdout_days`.
    pub fn held_out(&self) -> Window {
        Window {
            from_ms: self.now_ms - self.holdout_days * DAY_MS,
            to_ms: self.now_ms,
        }
    }

    /// The window's days before the held-out ones: what a model that serves as evaluated is fitted on.
    pub fn before_held_out(&self) -> Window {
        Window {
            from_ms: self.whole_window().from_ms,
            to_ms: self.held_out().from_ms,
        }
    }

    /// A whole window's length ending where the held-out days begin: what the evaluated model of
    /// [`HeldOutSplit::evaluate_then_refit`] is fitted on.
    pub fn evaluated_window(&self) -> Window {
        Window {
            from_ms: self.held_out().from_ms - self.window_days * DAY_MS,
            to_ms: self.held_out().from_ms,
        }
    }

    /// Evaluates a model fitted on [`HeldOutSplit::before_held_out`] (and served as it is): runs `score` on the
    /// held-out days in the [`EVALUATING`] step.
    pub fn evaluate<T>(
        &self,
        steps: &mut Steps<'_>,
        score: impl FnOnce(Window, &mut Steps<'_>) -> Result<T, TrainError>,
    ) -> Result<T, TrainError> {
        steps.enter(EVALUATING)?;
        score(self.held_out(), steps)
    }

    /// Fits a model on [`HeldOutSplit::evaluated_window`] and scores it on the held-out days (the
    /// [`EVALUATING`] step), then fits the served model on the whole window (the [`REFITTING`] step). Returns
    /// the served model and the evaluation's metrics.
    pub fn evaluate_then_refit<M>(
        &self,
        steps: &mut Steps<'_>,
        mut fit: impl FnMut(Fit) -> Result<M, TrainError>,
        score: impl FnOnce(&M, Evaluation) -> Result<Metrics, TrainError>,
    ) -> Result<(M, Metrics), TrainError> {
        steps.enter(EVALUATING)?;
        steps.within(EVALUATION_STEPS);
        steps.enter(FITTING_BEFORE)?;
        let evaluation = Evaluation {
            fit: self.evaluated_window(),
            held_out: self.held_out(),
        };
        let evaluated = fit(Fit::Evaluated(evaluation.fit))?;
        steps.enter(SCORING)?;
        let metrics = score(&evaluated, evaluation)?;
        drop(evaluated);
        steps.enter(REFITTING)?;
        let served = fit(Fit::Served(self.whole_window()))?;
        Ok((served, metrics))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{Cancelled, Level, Progress, describe};

    fn split(window_days: i64, holdout_days: i64) -> HeldOutSplit {
        HeldOutSplit {
            now_ms: 100 * DAY_MS,
            window_days,
            holdout_days,
        }
    }

    fn days(w: Window) -> (i64, i64) {
        (w.from_ms / DAY_MS, w.to_ms / DAY_MS)
    }

    #[test]
    fn the_windows_of_a_split() {
        let s = split(14, 2);
        assert_eq!(days(s.whole_window()), (86, 100));
        assert_eq!(days(s.held_out()), (98, 100));
        assert_eq!(days(s.before_held_out()), (86, 98));
        assert_eq!(days(s.evaluated_window()), (84, 98));
        assert_eq!(days(s.whole_window().before()), (72, 86));
        assert!(s.held_out().contains(98 * DAY_MS));
        assert!(!s.held_out().contains(100 * DAY_MS));
    }

    #[derive(Default)]
    struct Texts(Vec<String>);

    impl Progress for Texts {
        fn update(&mut self, stack: &[Level<'_>]) -> Result<(), Cancelled> {
            self.0.push(describe(stack));
            Ok(())
        }
    }

    const PLAN: &[Step] = &[step("reading", 1), step(EVALUATING, 1), step(REFITTING, 1)];

    #[test]
    fn evaluate_then_refit_fits_before_the_held_out_days_and_serves_the_whole_window() {
        let s = split(14, 1);
        let mut texts = Texts::default();
        let mut steps = Steps::new(&mut texts, PLAN);
        let mut fits = Vec::new();
        let (served, metrics) = s
            .evaluate_then_refit(
                &mut steps,
                |fit| {
                    fits.push(fit);
                    Ok(fit.window())
                },
                |evaluated, evaluation| {
                    assert_eq!(*evaluated, evaluation.fit);
                    assert!(evaluation.fit.to_ms <= evaluation.held_out.from_ms);
                    let mut m = Metrics::default();
                    m.put(
                        "held_out_days",
                        days(evaluation.held_out).1 - days(evaluation.held_out).0,
                    );
                    Ok(m)
                },
            )
            .unwrap();
        assert_eq!(
            fits,
            [
                Fit::Evaluated(s.evaluated_window()),
                Fit::Served(s.whole_window())
            ]
        );
        assert_eq!(served, s.whole_window());
        assert_eq!(metrics.into_map()["held_out_days"], 1);
        assert_eq!(
            texts.0,
            [
                "evaluating on held-out days",
                "evaluating on held-out days › fitting on the days before",
                "evaluating on held-out days › scoring the held-out days",
                "refitting on the whole window",
            ]
        );
    }
}
