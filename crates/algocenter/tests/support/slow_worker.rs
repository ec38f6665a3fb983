//! A worker process whose `pop` trainer takes a minute: the tests kill it in the middle of a task. Each test
//! binary that needs one declares an ignored `#[test]` that calls [`run_from_env`], and starts it through
//! `Process::child` with the database URL and data dir in the environment.

use std::sync::Arc;
use std::time::Duration;

use algocenter::config::ServeConfig;
use algocenter_domain::Function;
use algocenter_functions::{Progress, TrainError, TrainedModel, Trainer, Trainers, TrainingJob};
use serde_json::Map;

pub const DATABASE_URL_VAR: &str = "ALGOCENTER_TEST_CHILD_DATABASE_URL";
pub const DATA_DIR_VAR: &str = "ALGOCENTER_TEST_CHILD_DATA_DIR";

/// Reports progress every 100 ms for a minute: long enough to be killed in the middle.
struct SlowTrainer;

impl Trainer for SlowTrainer {
    fn train(
        &self,
        _job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        for step in 0..600u32 {
            progress.report("slow", (1 + step / 7).min(99) as u8)?;
            // Taking time is the point: the test kills the worker while it runs.
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(TrainedModel {
            artifact: b"slow".to_vec(),
            metrics: Map::new(),
            passed_quality_gate: true,
        })
    }
}

/// Runs the worker on the database and data dir named in the environment; returns at once when they are not set
/// (the ignored test run by hand).
pub fn run_from_env() {
    let (Ok(url), Ok(data_dir)) = (std::env::var(DATABASE_URL_VAR), std::env::var(DATA_DIR_VAR))
    else {
        return;
    };
    let args = algocenter::cli::ServeArgs {
        data_dir: Some(data_dir.into()),
        database_url: Some(url),
        lease_secs: Some(3),
        ..Default::default()
    };
    let config = ServeConfig::resolve(args).unwrap();
    algocenter::serve::init_logging(&config);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let trainers = Trainers::default().with(Function::Pop, Arc::new(SlowTrainer));
    runtime
        .block_on(algocenter::serve::work(config, trainers))
        .unwrap();
    runtime.shutdown_timeout(Duration::from_secs(1));
}
