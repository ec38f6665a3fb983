//! Shared helpers of the trainer tests: running a trainer as the engine would, and generated data.
#![allow(dead_code)]

pub mod ctr_world;

use std::collections::BTreeMap;

use algocenter_domain::Function;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::catalogue::{Parameter, ParameterList, version_for_model_type};
use algocenter_domain::data::InMemoryData;
use algocenter_functions::progress::{Level, describe, percent};
use algocenter_functions::{Cancelled, Progress, TrainError, TrainedModel, Trainer, TrainingJob};
use algocenter_generator::{GeneratorConfig, Habits, Lexicon, LexiconTruth, World};

pub const NOW: i64 = 1_790_000_000_000;

pub struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _: &[Level<'_>]) -> Result<(), Cancelled> {
        Ok(())
    }
}

/// Records every report as the engine shows it: `Progress` and `Step`.
#[derive(Default)]
pub struct Recorder(pub Vec<(u8, String)>);

impl Progress for Recorder {
    fn update(&mut self, stack: &[Level<'_>]) -> Result<(), Cancelled> {
        self.0.push((percent(stack), describe(stack)));
        Ok(())
    }
}

/// Cancels the run at its first report at or past a percentage.
pub struct CancelAt(pub u8);

impl Progress for CancelAt {
    fn update(&mut self, stack: &[Level<'_>]) -> Result<(), Cancelled> {
        if percent(stack) >= self.0 {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Trains `function` with validated parameters and `raw_file` contents by parameter name.
pub fn train(
    trainer: &dyn Trainer,
    function: Function,
    model_type: &str,
    data: &InMemoryData,
    params: &[(&str, &str)],
    resources: &[(&str, &str)],
) -> Result<TrainedModel, TrainError> {
    train_reporting(
        trainer, function, model_type, data, params, resources, &mut Quiet,
    )
}

/// [`train`], reporting progress to `progress`.
pub fn train_reporting(
    trainer: &dyn Trainer,
    function: Function,
    model_type: &str,
    data: &InMemoryData,
    params: &[(&str, &str)],
    resources: &[(&str, &str)],
    progress: &mut dyn Progress,
) -> Result<TrainedModel, TrainError> {
    let version = version_for_model_type(function, model_type).unwrap();
    let list: Vec<Parameter> = params
        .iter()
        .map(|(n, v)| Parameter {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect();
    version
        .validate_parameters(ParameterList::Create, &list)
        .unwrap();
    let parameters = version.effective(ParameterList::Create, &list);
    let usage = version.effective(ParameterList::Usage, &[]);
    let resources: BTreeMap<String, String> = resources
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let job = TrainingJob {
        app_group: "shop",
        instance: "test",
        function,
        model_type,
        generation: 1,
        parameters: &parameters,
        usage_parameters: &usage,
        now_ms: NOW,
        data,
        resources: &resources,
        artifacts: &BTreeMap::new(),
    };
    trainer.train(&job, progress)
}

/// A generated world ending at [`NOW`], and its searches, clicks and items (exposures are left out: the query
/// functions do not read them, and they are most of the volume).
pub fn generated(searches: u64, seed: u64) -> (World, InMemoryData) {
    generated_with(searches, seed, Habits::OFF)
}

/// [`generated`], the users having `habits`.
pub fn generated_with(searches: u64, seed: u64, habits: Habits) -> (World, InMemoryData) {
    let world = World::new(GeneratorConfig {
        seed,
        end_ms: NOW,
        searches,
        habits,
        ..GeneratorConfig::for_events(searches * 12, 14, NOW, seed)
    });
    let mut data = InMemoryData {
        items: world.item_documents().collect(),
        ..Default::default()
    };
    world.events(&mut |e, _| {
        if e.bhv_type == "search" || e.bhv_type == "click" {
            data.events.push(e.clone());
        }
    });
    (world, data)
}

/// [`generated`] with the vocabulary habits on (synonyms, misspellings), and their truth.
pub fn generated_with_lexicon(
    searches: u64,
    seed: u64,
) -> (World, InMemoryData, Vec<LexiconTruth>) {
    let world = World::new(GeneratorConfig {
        seed,
        end_ms: NOW,
        searches,
        lexicon: Lexicon::SHOP,
        ..GeneratorConfig::for_events(searches * 12, 14, NOW, seed)
    });
    let mut data = InMemoryData {
        items: world.item_documents().collect(),
        ..Default::default()
    };
    let mut truths = Vec::new();
    world.events_with_lexicon(
        &mut |e, _| {
            if e.bhv_type == "search" || e.bhv_type == "click" {
                data.events.push(e.clone());
            }
        },
        &mut |t| truths.push(t),
    );
    (world, data, truths)
}

/// The events of `data` before `before_ms`, and its items: what a model that must not see the days after may
/// be trained on.
pub fn before(data: &InMemoryData, before_ms: i64) -> InMemoryData {
    InMemoryData {
        events: data
            .events
            .iter()
            .filter(|e| e.bhv_time_ms < before_ms)
            .cloned()
            .collect(),
        items: data.items.clone(),
        users: data.users.clone(),
    }
}

/// A search event.
pub fn search(user: &str, query: &str, at_ms: i64, rn: &str) -> BehaviourEvent {
    BehaviourEvent {
        user_id: user.into(),
        imei: String::new(),
        biz_id: String::new(),
        trace_id: String::new(),
        rn: rn.into(),
        item_id: String::new(),
        item_type: String::new(),
        bhv_type: "search".into(),
        bhv_time_ms: at_ms,
        reach_time_ms: at_ms,
        raw_query: query.into(),
        hits: Some(10),
        position: None,
        context: Vec::new(),
        extra: Vec::new(),
    }
}

/// A click joined to the search `rn`.
pub fn click(user: &str, item: &str, at_ms: i64, rn: &str) -> BehaviourEvent {
    BehaviourEvent {
        bhv_type: "click".into(),
        item_id: item.into(),
        raw_query: String::new(),
        hits: None,
        ..search(user, "", at_ms, rn)
    }
}
