//! Query analysis at scale, in process (no HTTP): trains `analyzer`, `termweight` and `category` on the
//! query-analysis shop (`algocenter_generator::query_analysis`, every event kept in memory, exposures included),
//! then times the model calls of one query analysis (segment, weigh, categorise) over a replay of its searches.
//!
//! ```text
//! cargo bench -p algocenter-functions --bench query_analysis [-- EVENTS]   (default 10000000)
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use algocenter_domain::Function;
use algocenter_domain::catalogue::{Parameter, ParameterList, version_for_model_type};
use algocenter_domain::data::InMemoryData;
use algocenter_functions::analyzer::{AnalyzerModel, AnalyzerTrainer};
use algocenter_functions::category::{CategoryModel, CategoryTrainer};
use algocenter_functions::progress::Level;
use algocenter_functions::termweight::{TermweightModel, TermweightTrainer, Thresholds};
use algocenter_functions::{Cancelled, Progress, Trainer, TrainingJob};
use algocenter_generator::query_analysis::{QaConfig, QaWorld};

const NOW: i64 = 1_790_000_000_000;

struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _: &[Level<'_>]) -> Result<(), Cancelled> {
        Ok(())
    }
}

fn train(
    trainer: &dyn Trainer,
    function: Function,
    model_type: &str,
    params: &[(&str, &str)],
    data: &InMemoryData,
) -> Vec<u8> {
    let version = version_for_model_type(function, model_type).expect("catalogue");
    let list: Vec<Parameter> = params
        .iter()
        .map(|(n, v)| Parameter {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect();
    let parameters = version.effective(ParameterList::Create, &list);
    let usage = version.effective(ParameterList::Usage, &[]);
    let resources = BTreeMap::new();
    let job = TrainingJob {
        app_group: "bench",
        instance: "bench",
        function,
        model_type,
        generation: 1,
        parameters: &parameters,
        usage_parameters: &usage,
        now_ms: NOW,
        data,
        resources: &resources,
    };
    let started = Instant::now();
    let model = trainer.train(&job, &mut Quiet).expect("training");
    println!(
        "{function}: trained in {:.2} s, artifact {} bytes, metrics {}",
        started.elapsed().as_secs_f64(),
        model.artifact.len(),
        serde_json::Value::Object(model.metrics)
    );
    model.artifact
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let events: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let searches = events / 12;
    let started = Instant::now();
    let world = QaWorld::new(QaConfig {
        end_ms: NOW,
        days: 14,
        searches,
        items: (searches / 40).clamp(500, 20_000) as u32,
        users: (searches / 8).max(100) as u32,
        queries: (searches / 40).clamp(200, 20_000) as u32,
        ..QaConfig::default()
    });
    let mut data = InMemoryData {
        items: world.item_documents().collect(),
        ..Default::default()
    };
    world.events(&mut |e| data.events.push(e.clone()));
    println!(
        "{} events ({searches} searches), {} items, {} queries generated in {:.1} s",
        data.events.len(),
        world.items().len(),
        world.queries().len(),
        started.elapsed().as_secs_f64()
    );
    let entities = [("entity_fields", "brand,line,color")];
    let analyzer = AnalyzerModel::decode(&train(
        &AnalyzerTrainer,
        Function::Analyzer,
        "text",
        &entities,
        &data,
    ))
    .expect("analyzer");
    let weights = TermweightModel::decode(&train(
        &TermweightTrainer,
        Function::Termweight,
        "tf_checkpoint",
        &entities,
        &data,
    ))
    .expect("termweight");
    let category = CategoryModel::decode(&train(
        &CategoryTrainer,
        Function::Category,
        "offline_inference",
        &[],
        &data,
    ))
    .expect("category");

    let thresholds = Thresholds {
        high: 0.6,
        low: 0.3,
    };
    let replay: Vec<&str> = data
        .events
        .iter()
        .filter(|e| e.bhv_type == "search")
        .take(50_000)
        .map(|e| e.raw_query.as_str())
        .collect();
    let mut micros = Vec::with_capacity(replay.len());
    let mut checksum = 0usize;
    for query in &replay {
        let t = Instant::now();
        let tokens = analyzer.analyze(query);
        let weighed = weights.weigh(&tokens, thresholds);
        let categories = category.predict(query, 3);
        checksum += tokens.len() + weighed.len() + categories.categories.len();
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    println!(
        "analysis of {} searches (segment + weigh + categorise, one thread): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (checksum {checksum})",
        replay.len(),
        percentile(&micros, 0.5),
        percentile(&micros, 0.99),
        micros.last().copied().unwrap_or(0.0)
    );
}
