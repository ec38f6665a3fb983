//! How far a training run is: a stack of named steps with done/total, as a trainer declares them, which the
//! engine flattens into the task's 0–100 `Progress` and its `Step` text ([`percent`], [`describe`]).
//!
//! A trainer declares its plan once, as named steps weighted by their usual share of the run's time, and enters
//! them in order ([`Steps::enter`]); inside a step it counts what it goes through (events scanned of the
//! window's estimated total, [`Steps::count`]) or opens a nested plan ([`Steps::within`]). It never types a
//! percentage. Every report doubles as the cancellation check: `Err(Cancelled)` stops the trainer.

use algocenter_domain::Error;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::TrainingData;
use algocenter_domain::document::{Document, DocumentKind};

use crate::TrainError;
use crate::held_out::Window;

/// The task was cancelled (by a user, a lease loss or shutdown): the trainer should return promptly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// One level of a run's progress, outermost first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level<'a> {
    /// A step of a plan: the plan's weight done before it (`done`), its own weight (`span`, which the levels
    /// below divide) and the plan's whole weight (`total`).
    Step {
        name: &'a str,
        done: u64,
        span: u64,
        total: u64,
    },
    /// Things counted within the step above: `done` of about `total` `unit`s (an empty unit is not shown).
    Count {
        unit: &'a str,
        done: u64,
        total: u64,
    },
}

/// Where a trainer reports how far it is; the engine implements it. Reports are cheap: the engine persists
/// them throttled.
pub trait Progress: Send {
    /// The run is at `stack`. Returns `Err(Cancelled)` when the task should stop; trainers propagate it with `?`.
    fn update(&mut self, stack: &[Level<'_>]) -> Result<(), Cancelled>;

    /// A run of one step measured in percent: for a trainer too small to declare a plan.
    fn report(&mut self, step: &str, percent: u8) -> Result<(), Cancelled> {
        let done = u64::from(percent.min(100));
        self.update(&[Level::Step {
            name: step,
            done,
            span: 0,
            total: 100,
        }])
    }
}

/// The share of the run that `stack` says is done, 0–100 (rounded down: 100 only when everything is).
pub fn percent(stack: &[Level<'_>]) -> u8 {
    let mut fraction = 0.0;
    let mut scale = 1.0;
    for level in stack {
        let (done, span, total) = match *level {
            Level::Step {
                done, span, total, ..
            } => (done, span, total),
            Level::Count { done, total, .. } => (done, 0, total),
        };
        if total == 0 {
            break;
        }
        let total = total as f64;
        fraction += scale * (done as f64).min(total) / total;
        scale *= (span as f64).min(total) / total;
    }
    // The epsilon absorbs rounding in sums of exact shares (29 of 100 must not show 28).
    (fraction * 100.0 + 1e-9).floor().clamp(0.0, 100.0) as u8
}

/// The `Step` text of `stack`: the names of the steps, outermost first, and what the innermost one counted
/// (`reading the query log: 655,360 of 1,204,000 events`).
pub fn describe(stack: &[Level<'_>]) -> String {
    let mut text = String::new();
    for level in stack {
        match *level {
            Level::Step { name, .. } => {
                if !text.is_empty() {
                    text.push_str(" › ");
                }
                text.push_str(name);
            }
            Level::Count { unit: "", .. } => {}
            Level::Count { unit, done, total } => {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&format!(
                    "{} of {} {unit}",
                    grouped(done.min(total)),
                    grouped(total)
                ));
            }
        }
    }
    text
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A step of a plan: its name (shown to users: lower case, what is being done) and its weight, its usual share
/// of the run's time relative to the plan's other steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub name: &'static str,
    pub weight: u32,
}

pub const fn step(name: &'static str, weight: u32) -> Step {
    Step { name, weight }
}

/// The step shown once a run has finished all its steps.
const FINISHED: &str = "done";
/// Events or documents between two reports inside a scan.
const REPORT_EVERY: u64 = 1 << 16;

/// A plan on the stack and the step of it in progress (`None` before the first, `plan.len()` after the last).
struct Position {
    plan: &'static [Step],
    at: Option<usize>,
}

/// A trainer's progress: its plan of steps, where it is in them, and the cancellation check.
pub struct Steps<'p> {
    sink: &'p mut dyn Progress,
    levels: Vec<Position>,
    count: Option<(&'static str, u64, u64)>,
}

impl<'p> Steps<'p> {
    /// A run that will go through `plan`, reporting to `sink`.
    pub fn new(sink: &'p mut dyn Progress, plan: &'static [Step]) -> Self {
        Steps {
            sink,
            levels: vec![Position { plan, at: None }],
            count: None,
        }
    }

    /// Starts the step named `name`, of the innermost plan that has it: nested plans and counts below that plan
    /// end. Steps are entered in plan order (one may be skipped).
    pub fn enter(&mut self, name: &str) -> Result<(), Cancelled> {
        let found = self.levels.iter().enumerate().rev().find_map(|(depth, p)| {
            p.plan
                .iter()
                .position(|s| s.name == name)
                .map(|at| (depth, at))
        });
        debug_assert!(found.is_some(), "step '{name}' is in no plan on the stack");
        if let Some((depth, at)) = found {
            self.levels.truncate(depth + 1);
            let position = &mut self.levels[depth];
            debug_assert!(
                position.at.is_none_or(|current| current <= at),
                "step '{name}' entered after a later step of its plan"
            );
            position.at = Some(at);
            self.count = None;
        }
        self.report()
    }

    /// Divides the current step into the steps of `plan`, entered with [`Steps::enter`] like the others.
    pub fn within(&mut self, plan: &'static [Step]) {
        self.count = None;
        self.levels.push(Position { plan, at: None });
    }

    /// Within the current step: `done` of about `total` `unit`s.
    pub fn count(&mut self, done: u64, total: u64, unit: &'static str) -> Result<(), Cancelled> {
        self.count = Some((unit, done, total));
        self.report()
    }

    /// Within the current step: a share of it done, in [0, 1].
    pub fn fraction(&mut self, done: f64) -> Result<(), Cancelled> {
        let done = (done.clamp(0.0, 1.0) * 1000.0) as u64;
        self.count(done, 1000, "")
    }

    /// Every step is done: reports 100.
    pub fn finish(&mut self) -> Result<(), Cancelled> {
        self.levels.truncate(1);
        self.levels[0].at = Some(self.levels[0].plan.len());
        self.count = None;
        self.report()
    }

    /// Reports where the run is (also the cancellation check).
    pub fn report(&mut self) -> Result<(), Cancelled> {
        let mut stack: Vec<Level<'static>> = Vec::with_capacity(self.levels.len() + 1);
        for position in &self.levels {
            let Some(at) = position.at else { break };
            let total: u64 = position.plan.iter().map(|s| u64::from(s.weight)).sum();
            let done: u64 = position.plan[..at.min(position.plan.len())]
                .iter()
                .map(|s| u64::from(s.weight))
                .sum();
            let (name, span) = match position.plan.get(at) {
                Some(s) => (s.name, u64::from(s.weight)),
                None => (FINISHED, 0),
            };
            stack.push(Level::Step {
                name,
                done,
                span,
                total,
            });
        }
        if let Some((unit, done, total)) = self.count {
            stack.push(Level::Count { unit, done, total });
        }
        self.sink.update(&stack)
    }

    /// Visits the events of `window`, counting them within the current step against the store's estimate.
    /// Returns how many were visited.
    pub fn for_each_event(
        &mut self,
        data: &dyn TrainingData,
        window: Window,
        mut visit: impl FnMut(&BehaviourEvent),
    ) -> Result<u64, TrainError> {
        let total = data
            .estimate_events(window.from_ms, window.to_ms)
            .map_err(|e| TrainError::Failed(e.to_string()))?
            .max(1);
        let mut seen = 0u64;
        let mut cancelled = false;
        let result = data.for_each_event(window.from_ms, window.to_ms, &mut |e| {
            seen += 1;
            if seen.is_multiple_of(REPORT_EVERY)
                && self.count(seen.min(total), total, "events").is_err()
            {
                // A store callback can only fail with the store's error: cancellation is told apart below.
                cancelled = true;
                return Err(Error::internal("cancelled"));
            }
            visit(e);
            Ok(())
        });
        scan_outcome(result, cancelled).map(|()| seen)
    }

    /// Visits every item document, checking for cancellation as it goes.
    pub fn for_each_item(
        &mut self,
        data: &dyn TrainingData,
        mut visit: impl FnMut(&Document),
    ) -> Result<(), TrainError> {
        let mut seen = 0u64;
        let mut cancelled = false;
        let result = data.for_each_document(DocumentKind::Item, &mut |item| {
            seen += 1;
            if seen.is_multiple_of(REPORT_EVERY) && self.report().is_err() {
                cancelled = true;
                return Err(Error::internal("cancelled"));
            }
            visit(item);
            Ok(())
        });
        scan_outcome(result, cancelled)
    }
}

/// The outcome of a scan, with cancellation reported as such and not as a failure.
fn scan_outcome(result: Result<(), Error>, cancelled: bool) -> Result<(), TrainError> {
    match result {
        Ok(()) => Ok(()),
        Err(_) if cancelled => Err(TrainError::Cancelled),
        Err(e) => Err(TrainError::Failed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step_level(name: &str, done: u64, span: u64, total: u64) -> Level<'_> {
        Level::Step {
            name,
            done,
            span,
            total,
        }
    }

    #[test]
    fn one_level_is_its_share_and_a_hand_typed_percent_is_kept() {
        assert_eq!(percent(&[step_level("a", 0, 1, 4)]), 0);
        assert_eq!(percent(&[step_level("a", 3, 1, 4)]), 75);
        for p in 0..=100u64 {
            assert_eq!(percent(&[step_level("fitting", p, 0, 100)]), p as u8);
        }
        assert_eq!(percent(&[]), 0);
    }

    #[test]
    fn a_nested_level_divides_the_span_of_the_step_above() {
        // Step 2 of weights [10, 60, 30] (done 10, span 60), half of its events scanned: 10 + 30 = 40.
        let stack = [
            step_level("reading", 10, 60, 100),
            Level::Count {
                unit: "events",
                done: 500,
                total: 1000,
            },
        ];
        assert_eq!(percent(&stack), 40);
        // Three levels: 50% + (1/2 of the next 50%) + (1/4 of the remaining 25%'s share).
        let deep = [
            step_level("a", 1, 1, 2),
            step_level("b", 1, 1, 2),
            Level::Count {
                unit: "",
                done: 1,
                total: 4,
            },
        ];
        assert_eq!(percent(&deep), 81, "50 + 25 + 6.25");
    }

    #[test]
    fn counts_past_their_estimate_and_empty_totals_stay_in_range() {
        let stack = [
            step_level("reading", 0, 50, 100),
            Level::Count {
                unit: "events",
                done: 5000,
                total: 1000,
            },
        ];
        assert_eq!(percent(&stack), 50, "an estimate too low caps the step");
        assert_eq!(percent(&[step_level("x", 0, 0, 0)]), 0);
        assert_eq!(percent(&[step_level("done", 7, 0, 7)]), 100);
    }

    #[test]
    fn the_text_names_the_steps_and_what_is_counted() {
        let stack = [
            step_level("evaluating on held-out days", 10, 5, 20),
            step_level("scoring the held-out days", 1, 1, 2),
            Level::Count {
                unit: "events",
                done: 1_234_567,
                total: 20_000_000,
            },
        ];
        assert_eq!(
            describe(&stack),
            "evaluating on held-out days › scoring the held-out days: 1,234,567 of 20,000,000 events"
        );
        let fraction = [
            step_level("training", 1, 1, 2),
            Level::Count {
                unit: "",
                done: 3,
                total: 10,
            },
        ];
        assert_eq!(describe(&fraction), "training");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(0), "0");
    }

    /// Records what a run reports, flattened as the engine does.
    #[derive(Default)]
    struct Recorder(Vec<(u8, String)>);

    impl Progress for Recorder {
        fn update(&mut self, stack: &[Level<'_>]) -> Result<(), Cancelled> {
            self.0.push((percent(stack), describe(stack)));
            Ok(())
        }
    }

    const PLAN: &[Step] = &[step("reading", 6), step("fitting", 3), step("writing", 1)];
    const INNER: &[Step] = &[step("before", 1), step("after", 1)];

    #[test]
    fn steps_flatten_in_plan_order_with_nested_plans_and_counts() {
        let mut recorder = Recorder::default();
        let mut steps = Steps::new(&mut recorder, PLAN);
        steps.enter("reading").unwrap();
        steps.count(1, 2, "events").unwrap();
        steps.enter("fitting").unwrap();
        steps.within(INNER);
        steps.enter("before").unwrap();
        steps.enter("after").unwrap();
        steps.fraction(0.5).unwrap();
        steps.enter("writing").unwrap();
        steps.finish().unwrap();
        let seen: Vec<(u8, &str)> = recorder.0.iter().map(|(p, s)| (*p, s.as_str())).collect();
        assert_eq!(
            seen,
            [
                (0, "reading"),
                (30, "reading: 1 of 2 events"),
                (60, "fitting"),
                (60, "fitting › before"),
                (75, "fitting › after"),
                (82, "fitting › after"),
                (90, "writing"),
                (100, "done"),
            ]
        );
    }

    fn event() -> BehaviourEvent {
        BehaviourEvent {
            user_id: "u".into(),
            imei: String::new(),
            biz_id: String::new(),
            trace_id: String::new(),
            rn: String::new(),
            item_id: "i".into(),
            item_type: String::new(),
            bhv_type: "click".into(),
            bhv_time_ms: 0,
            reach_time_ms: 0,
            raw_query: String::new(),
            hits: None,
            position: None,
            context: Vec::new(),
            extra: Vec::new(),
        }
    }

    struct CancelAfter(usize);

    impl Progress for CancelAfter {
        fn update(&mut self, _: &[Level<'_>]) -> Result<(), Cancelled> {
            if self.0 == 0 {
                return Err(Cancelled);
            }
            self.0 -= 1;
            Ok(())
        }
    }

    #[test]
    fn a_cancelled_scan_stops_with_cancelled_not_a_failure() {
        let data = algocenter_domain::data::InMemoryData {
            events: vec![event(); (REPORT_EVERY * 2) as usize],
            ..Default::default()
        };
        let mut sink = CancelAfter(1);
        let mut steps = Steps::new(&mut sink, PLAN);
        steps.enter("reading").unwrap();
        let mut visited = 0u64;
        let outcome = steps.for_each_event(
            &data,
            Window {
                from_ms: i64::MIN,
                to_ms: i64::MAX,
            },
            |_| visited += 1,
        );
        assert!(matches!(outcome, Err(TrainError::Cancelled)), "{outcome:?}");
        assert_eq!(visited, REPORT_EVERY - 1, "stopped at the first report");
    }
}
