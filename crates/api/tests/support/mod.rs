//! What the function API tests share: an app group `shop` on a server whose `pop` trainer is a test one.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use algocenter_domain::Function;
use algocenter_functions::{Progress, TrainError, TrainedModel, Trainer, Trainers, TrainingJob};
use algocenter_testkit::{AppOptions, TestApp, spawn_app};
use serde_json::{Map, json};

pub const POP: &str = "/v4/openapi/app-groups/shop/functions/pop";

/// A trainer that lives in this test only: a few progress steps, then a tiny artifact.
pub struct StepTrainer;

impl Trainer for StepTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        for p in [20, 40, 60, 80] {
            // A run that takes time is the behaviour under test: progress shows while it runs.
            std::thread::sleep(Duration::from_millis(60));
            progress.report("fitting", p)?;
        }
        let mut metrics = Map::new();
        metrics.insert("recall".into(), json!(91));
        Ok(TrainedModel {
            artifact: job.instance.as_bytes().to_vec(),
            metrics,
            passed_quality_gate: true,
        })
    }
}

pub async fn shop(workers: usize) -> TestApp {
    let server = spawn_app(AppOptions::training(
        Trainers::default().with(Function::Pop, Arc::new(StepTrainer)),
        workers,
    ))
    .await;
    server.create_app("shop").await;
    server
}

pub async fn pop_instance(server: &TestApp, name: &str) {
    server
        .create_instance(
            "shop",
            "pop",
            &format!(r#"{{"instanceName":"{name}","modelType":"pop"}}"#),
        )
        .await
        .assert_ok();
}
