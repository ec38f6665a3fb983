//! The algorithm functions. Each function's trainer turns training data into an artifact and metrics through the
//! one [`Trainer`] trait; the engine owns everything around it (claiming tasks, storing artifacts, persisting
//! progress). Trainers are pure computation: no SQL, no HTTP, no clock reads other than for their own timing.
//!
//! A function without a trainer in this build fails its tasks with an honest reason instead of pretending to
//! train (see [`Trainers::builtin`]).

pub mod category;
pub mod ctr;
pub mod evaluation;
pub mod pop;
pub mod query;
pub mod query_list;
mod scan;
pub mod suggest;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use algocenter_domain::Function;
use algocenter_domain::catalogue::EffectiveParameters;
use algocenter_domain::data::TrainingData;
use serde_json::{Map, Value};

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
}

impl TrainingJob<'_> {
    /// The content of the resource a parameter names; `None` when the parameter names none.
    pub fn resource(&self, parameter: &str) -> Option<&str> {
        self.resources.get(parameter).map(String::as_str)
    }
}

/// The task was cancelled (by a user, a lease loss or shutdown): the trainer should return promptly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// Where a trainer reports how far it is. Reports are cheap: the engine persists them throttled.
pub trait Progress: Send {
    /// `percent` of the whole run (0–100) and the name of the current step. Returns `Err(Cancelled)` when the
    /// task should stop; trainers propagate it with `?`.
    fn report(&mut self, step: &str, percent: u8) -> Result<(), Cancelled>;
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
