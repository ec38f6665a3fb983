//! Plumbing shared by the trainers: progress reports from inside a data scan, and parameter errors.

use algocenter_domain::Error;
use algocenter_domain::catalogue::EffectiveParameters;

use crate::{Progress, TrainError};

/// Progress of a run whose data scans report from inside store callbacks. A callback can only return the
/// store's error type, so cancellation travels as an error and is told apart from a real failure here.
pub(crate) struct Scan<'a> {
    pub progress: &'a mut dyn Progress,
    pub cancelled: bool,
}

impl<'a> Scan<'a> {
    pub fn new(progress: &'a mut dyn Progress) -> Self {
        Scan {
            progress,
            cancelled: false,
        }
    }

    /// Reports from inside a scan callback.
    pub fn report(&mut self, step: &str, percent: u8) -> Result<(), Error> {
        if self.progress.report(step, percent).is_err() {
            self.cancelled = true;
            return Err(Error::internal("cancelled"));
        }
        Ok(())
    }

    /// Reports between scans.
    pub fn step(&mut self, step: &str, percent: u8) -> Result<(), TrainError> {
        self.progress
            .report(step, percent)
            .map_err(|_| TrainError::Cancelled)
    }

    /// The outcome of a scan, with cancellation reported as such and not as a failure.
    pub fn finish(&self, result: Result<(), Error>) -> Result<(), TrainError> {
        match result {
            Ok(()) => Ok(()),
            Err(_) if self.cancelled => Err(TrainError::Cancelled),
            Err(e) => Err(TrainError::Failed(e.to_string())),
        }
    }
}

pub(crate) fn param_error(e: Error) -> TrainError {
    TrainError::Failed(e.to_string())
}

/// `train_window_days` and `holdout_days`, the held-out days inside the window.
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
