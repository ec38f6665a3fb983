//! The algorithm functions. Each function's trainer turns training data into an artifact and metrics through the
//! one [`Trainer`] trait; the engine owns everything around it (claiming tasks, storing artifacts, persisting
//! progress). Trainers are pure computation: no SQL, no HTTP, no clock reads other than for their own timing.
//!
//! A function without a trainer in this build fails its tasks with an honest reason instead of pretending to
//! train (see [`Trainers::builtin`]).
//!
//! A trainer, as `pop` or `hot` are written:
//! 1. reads its parameters through [`TrainingJob::params`] and its window through
//!    [`held_out::HeldOutSplit::read`] (which refuses held-out days that fill the window);
//! 2. declares its plan, a `const` list of [`progress::step`]s weighted by their share of the run, and wraps the
//!    engine's sink in [`progress::Steps`]; it enters the steps in order and scans data through
//!    `Steps::for_each_event` / `for_each_item`, which count progress and carry cancellation;
//! 3. evaluates through the split: `evaluate` when the evaluated model serves, `evaluate_then_refit` when the
//!    served model is refit on the whole window; both enter the shared steps and hand the fit and the scoring
//!    only the windows they may read; metrics go into an [`evaluation::Metrics`];
//! 4. encodes its artifact and ends with `Steps::finish` (100%).

pub mod analyzer;
mod artifact;
pub mod category;
pub mod correction;
pub mod ctr;
pub mod evaluation;
pub mod held_out;
mod params;
pub mod pop;
pub mod progress;
pub mod query;
pub mod query_list;
pub mod rank;
pub mod suggest;
pub mod synonym;
pub mod termweight;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use algocenter_domain::Function;
use algocenter_domain::catalogue::EffectiveParameters;
use algocenter_domain::data::{TrainingData, WindowCounts, readiness};
use serde_json::{Map, Value};

pub use params::Params;
pub use progress::{Cancelled, Progress};

/// What a trainer is asked to produce: one generation of one instance.
pub struct TrainingJob<'a> {
    pub app_group: &'a str,
    pub instance: &'a str,
    pub function: Function,
    pub model_type: &'a str,
    pub generation: i64,
    /// Create parameters over the catalogue defaults.
    pub parameters: &'a EffectiveParameters,
    /// Usage parameters over the catalogue defaults.
    pub usage_parameters: &'a EffectiveParameters,
    /// The instant training windows end at (epoch ms): the time the run started.
    pub now_ms: i64,
    /// The app group's behaviour events, items and users.
    pub data: &'a dyn TrainingData,
    /// Contents of the `raw_file` resources the parameters name, by parameter name (resolved by the engine when
    /// the run starts, so that a generation is trained on one version of each dictionary).
    pub resources: &'a BTreeMap<String, String>,
    /// Serving artifacts of the instances the parameters name (`rank`'s `ctr_instance`), by parameter name
    /// (resolved by the engine when the run starts, so that trainers never see the store or serving).
    pub artifacts: &'a BTreeMap<String, Vec<u8>>,
}

impl<'a> TrainingJob<'a> {
    /// The content of the resource a parameter names; `None` when the parameter names none.
    pub fn resource(&self, parameter: &str) -> Option<&str> {
        self.resources.get(parameter).map(String::as_str)
    }

    /// The serving artifact of the instance a parameter names; `None` when the parameter names none.
    pub fn artifact(&self, parameter: &str) -> Option<&[u8]> {
        self.artifacts.get(parameter).map(Vec::as_slice)
    }

    /// The create parameters, read as the trainer's types.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.parameters)
    }
}

/// A trained generation.
#[derive(Debug)]
pub struct TrainedModel {
    /// The serialised model; the engine stores it before the task turns `success`.
    pub artifact: Vec<u8>,
    /// Held-out metrics, written to `ExtendInfo`.
    pub metrics: Map<String, Value>,
    /// Whether the generation passed its quality gate and may become the serving generation.
    pub passed_quality_gate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("cancelled")]
    Cancelled,
    /// Not enough data to train something meaningful; the message says what is missing.
    #[error("insufficient data: {0}")]
    InsufficientData(String),
    #[error("{0}")]
    Failed(String),
}

/// Fails the run with [`TrainError::InsufficientData`] when `counts` fall short of what `function` needs;
/// `what` says which data were counted, after the reason.
pub(crate) fn ensure_ready(
    function: Function,
    counts: &WindowCounts,
    what: fmt::Arguments<'_>,
) -> Result<(), TrainError> {
    let ready = readiness(function, counts);
    if ready.ready {
        Ok(())
    } else {
        Err(TrainError::InsufficientData(format!(
            "{} {what}",
            ready.reason
        )))
    }
}

impl From<Cancelled> for TrainError {
    fn from(_: Cancelled) -> Self {
        TrainError::Cancelled
    }
}

/// Trains one function.
pub trait Trainer: Send + Sync {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError>;
}

/// The trainers of a running algocenter, by function.
#[derive(Clone, Default)]
pub struct Trainers {
    by_function: BTreeMap<Function, Arc<dyn Trainer>>,
}

impl Trainers {
    /// The trainers this build ships. Functions missing here fail their tasks with "no trainer" rather than
    /// produce a fake model.
    pub fn builtin() -> Self {
        Trainers::default()
            .with(Function::Ctr, Arc::new(ctr::CtrTrainer))
            .with(Function::Pop, Arc::new(pop::PopTrainer))
            .with(Function::Hot, Arc::new(query_list::HotTrainer))
            .with(Function::Hint, Arc::new(query_list::HintTrainer))
            .with(Function::Suggest, Arc::new(suggest::SuggestTrainer))
            .with(Function::Category, Arc::new(category::CategoryTrainer))
            .with(Function::Analyzer, Arc::new(analyzer::AnalyzerTrainer))
            .with(
                Function::Termweight,
                Arc::new(termweight::TermweightTrainer),
            )
            .with(
                Function::Correction,
                Arc::new(correction::CorrectionTrainer),
            )
            .with(Function::Synonym, Arc::new(synonym::SynonymTrainer))
            .with(Function::Rank, Arc::new(rank::RankTrainer))
    }

    /// Adds or replaces the trainer of `function`.
    pub fn with(mut self, function: Function, trainer: Arc<dyn Trainer>) -> Self {
        self.by_function.insert(function, trainer);
        self
    }

    pub fn get(&self, function: Function) -> Option<Arc<dyn Trainer>> {
        self.by_function.get(&function).cloned()
    }
}

impl fmt::Debug for Trainers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_function.keys()).finish()
    }
}
