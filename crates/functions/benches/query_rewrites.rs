//! Training time of `synonym` and `correction` on a generated shop whose users type synonyms and misspell, and
//! the in-process latency of their lookups (no HTTP): every search of the last day, as typed, corrected and
//! expanded one at a time, with percentiles.
//!
//! ```text
//! cargo bench -p algocenter-functions --bench query_rewrites [-- EVENTS]   (default 10,000,000 events)
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use algocenter_domain::Function;
use algocenter_domain::catalogue::{ParameterList, version_for_model_type};
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::correction::{CorrectionModel, CorrectionTrainer};
use algocenter_functions::progress::Level;
use algocenter_functions::synonym::{SynonymModel, SynonymTrainer};
use algocenter_functions::{Cancelled, Progress, Trainer, TrainingJob};
use algocenter_generator::{GeneratorConfig, Lexicon, World};

const NOW: i64 = 1_790_000_000_000;

struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _: &[Level<'_>]) -> Result<(), Cancelled> {
        Ok(())
    }
}

fn train(trainer: &dyn Trainer, function: Function, data: &InMemoryData) -> Vec<u8> {
    let version = version_for_model_type(function, "offline_inference").expect("catalogue");
    let parameters = version.effective(ParameterList::Create, &[]);
    let usage = version.effective(ParameterList::Usage, &[]);
    let resources = BTreeMap::new();
    let artifacts = BTreeMap::new();
    let job = TrainingJob {
        app_group: "bench",
        instance: "bench",
        function,
        model_type: "offline_inference",
        generation: 1,
        parameters: &parameters,
        usage_parameters: &usage,
        now_ms: NOW,
        data,
        resources: &resources,
        artifacts: &artifacts,
    };
    let started = Instant::now();
    let model = trainer.train(&job, &mut Quiet).expect("training");
    println!(
        "{function}: trained in {:.2} s, artifact {} bytes; {}",
        started.elapsed().as_secs_f64(),
        model.artifact.len(),
        serde_json::Value::Object(model.metrics)
    );
    model.artifact
}

fn percentiles(name: &str, mut micros: Vec<f64>) {
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize];
    println!(
        "{name}: {} lookups, p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        micros.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn main() {
    let events: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let started = Instant::now();
    let world = World::new(GeneratorConfig {
        lexicon: Lexicon::SHOP,
        ..GeneratorConfig::for_events(events, 14, NOW, 7)
    });
    let mut data = InMemoryData {
        items: world.item_documents().collect(),
        ..Default::default()
    };
    let mut generated = 0u64;
    world.events(&mut |e, _| {
        generated += 1;
        // Exposures and conversions are most of the volume and neither function reads them; a store streams
        // them past the trainer, which costs reading, not memory.
        if e.bhv_type == "search" || e.bhv_type == "click" {
            data.events.push(e.clone());
        }
    });
    println!(
        "generated {generated} events ({} searches and clicks kept, {} items) in {:.1} s",
        data.events.len(),
        data.items.len(),
        started.elapsed().as_secs_f64()
    );

    let correction =
        CorrectionModel::decode(&train(&CorrectionTrainer, Function::Correction, &data))
            .expect("decodes");
    let synonym =
        SynonymModel::decode(&train(&SynonymTrainer, Function::Synonym, &data)).expect("decodes");

    let last_day: Vec<&str> = data
        .events
        .iter()
        .filter(|e| e.bhv_type == "search" && e.bhv_time_ms >= NOW - DAY_MS)
        .map(|e| e.raw_query.as_str())
        .collect();
    let mut corrected = 0usize;
    let mut times = Vec::with_capacity(last_day.len());
    for q in &last_day {
        let t = Instant::now();
        corrected += usize::from(correction.correct(q).is_some());
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    percentiles("correction", times);
    println!("  {corrected} of {} searches corrected", last_day.len());
    let mut expanded = 0usize;
    let mut times = Vec::with_capacity(last_day.len());
    for q in &last_day {
        let t = Instant::now();
        expanded += usize::from(!synonym.expand(q, 5, 0.0).1.is_empty());
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    percentiles("synonym", times);
    println!("  {expanded} of {} searches expanded", last_day.len());
}
