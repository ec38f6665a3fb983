//! A trainer's create parameters as the types it reads: a name the catalogue does not list, or a value that is
//! not of its kind, fails the run with the catalogue's message.

use algocenter_domain::catalogue::EffectiveParameters;

use crate::TrainError;

#[derive(Clone, Copy)]
pub struct Params<'a>(&'a EffectiveParameters);

/// A parameter that cannot be read fails the run.
pub(crate) fn param_error(e: algocenter_domain::Error) -> TrainError {
    TrainError::Failed(e.to_string())
}

impl<'a> Params<'a> {
    pub fn new(parameters: &'a EffectiveParameters) -> Self {
        Params(parameters)
    }

    pub fn text(&self, name: &str) -> Result<&'a str, TrainError> {
        self.0.get(name).map_err(param_error)
    }

    pub fn int(&self, name: &str) -> Result<i64, TrainError> {
        self.0.int(name).map_err(param_error)
    }

    pub fn float(&self, name: &str) -> Result<f64, TrainError> {
        self.0.float(name).map_err(param_error)
    }

    /// A `true`/`false` choice.
    pub fn flag(&self, name: &str) -> Result<bool, TrainError> {
        Ok(self.text(name)? == "true")
    }
}
