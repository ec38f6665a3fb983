//! In-process latency of the query functions' serving calls (no HTTP): trains suggest, category, hot and hint on
//! generated searches, then times every call of a replay of real searches and prints percentiles.
//!
//! ```text
//! cargo bench -p algocenter-functions --bench query_serving [-- SEARCHES]   (default 500000 sessions)
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use algocenter_domain::Function;
use algocenter_domain::catalogue::{ParameterList, version_for_model_type};
use algocenter_domain::data::InMemoryData;
use algocenter_functions::category::{CategoryModel, CategoryTrainer};
use algocenter_functions::progress::Level;
use algocenter_functions::query_list::{HintTrainer, HotTrainer, ListOrder, QueryListModel};
use algocenter_functions::suggest::{SuggestIndex, SuggestTrainer};
use algocenter_functions::{Cancelled, Progress, Trainer, TrainingJob};
use algocenter_generator::{GeneratorConfig, World};

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
    data: &InMemoryData,
) -> Vec<u8> {
    let version = version_for_model_type(function, model_type).expect("catalogue");
    let parameters = version.effective(ParameterList::Create, &[]);
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
        "{function}: trained in {:.2} s, artifact {} bytes",
        started.elapsed().as_secs_f64(),
        model.artifact.len()
    );
    model.artifact
}

/// Times `f` over `inputs` and prints p50/p99/p99.9/max in microseconds.
fn time<T>(name: &str, inputs: &[T], mut f: impl FnMut(&T) -> usize) {
    let mut micros: Vec<f64> = Vec::with_capacity(inputs.len());
    let mut answers = 0usize;
    for input in inputs {
        let started = Instant::now();
        answers += f(input);
        micros.push(started.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() as f64 * q) as usize).min(micros.len() - 1)];
    println!(
        "{name}: {} calls, {:.1} answers/call, p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs, max {:.2} µs",
        micros.len(),
        answers as f64 / micros.len() as f64,
        at(0.5),
        at(0.99),
        at(0.999),
        micros.last().copied().unwrap_or(0.0)
    );
}

fn main() {
    let searches: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500_000);
    let world = World::new(GeneratorConfig::for_events(searches * 12, 14, NOW, 7));
    let mut data = InMemoryData {
        items: world.item_documents().collect(),
        ..Default::default()
    };
    let mut typed: Vec<(String, String)> = Vec::new();
    world.events(&mut |e, _| {
        if e.bhv_type == "search" || e.bhv_type == "click" {
            data.events.push(e.clone());
        }
        if e.bhv_type == "search" && typed.len() < 100_000 {
            typed.push((e.raw_query.clone(), e.user_id.clone()));
        }
    });
    println!(
        "{searches} sessions, {} search and click events",
        data.events.len()
    );

    let suggest = SuggestIndex::decode(&train(
        &SuggestTrainer,
        Function::Suggest,
        "offline_inference",
        &data,
    ))
    .expect("decode");
    let category = CategoryModel::decode(&train(
        &CategoryTrainer,
        Function::Category,
        "offline_inference",
        &data,
    ))
    .expect("decode");
    let hot = QueryListModel::decode(&train(
        &HotTrainer,
        Function::Hot,
        "offline_inference",
        &data,
    ))
    .expect("decode");
    let hint = QueryListModel::decode(&train(&HintTrainer, Function::Hint, "near_realtime", &data))
        .expect("decode");

    // Prefixes as users type them: every length of each query.
    let prefixes: Vec<String> = typed
        .iter()
        .flat_map(|(q, _)| {
            let chars: Vec<char> = q.chars().collect();
            (1..=chars.len()).map(move |n| chars[..n].iter().collect::<String>())
        })
        .take(200_000)
        .collect();
    time("suggest (every prefix of real searches)", &prefixes, |p| {
        suggest.suggest(p, 10).len()
    });
    let typos: Vec<String> = typed
        .iter()
        .filter(|(q, _)| q.is_ascii() && q.len() >= 6)
        .map(|(q, _)| {
            let mut t: Vec<char> = q.chars().collect();
            t.swap(2, 3);
            t.truncate(6);
            t.into_iter().collect()
        })
        .take(50_000)
        .collect();
    time(
        "suggest (6-character prefixes with swapped letters)",
        &typos,
        |p| suggest.suggest(p, 10).len(),
    );
    time("category predict (one query)", &typed, |(q, _)| {
        category.predict(q, 3).categories.len()
    });
    time("hot top 10", &typed, |_| {
        hot.top(10, ListOrder::Default, None).len()
    });
    time("hint top 3 for the searching user", &typed, |(_, u)| {
        hint.top(3, ListOrder::Default, Some(u)).len()
    });
}
