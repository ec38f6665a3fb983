//! `ctr` training in process on a generated data set (no HTTP, no store): the trainer's phases, its held-out
//! metrics and model choice, the truth's figures on the same exposures, how well the served order follows true
//! relevance (search shapes), then the latency of reranks of 100 candidates on the decoded model.
//!
//! ```text
//! cargo bench -p algocenter-functions --bench ctr_training -- [SHAPE] [N [ITEMS USERS QUERIES]] [k=v ...]
//! ```
//! SHAPE: `search` (default; N events, 3,000,000, the catalogue growing with them unless ITEMS USERS QUERIES are
//! given), `confounded` (N searches, 120,000; pages ordered by relevance) or `context` (N rows, 240,000; the
//! context-aware app log). `k=v` arguments are create parameters (`model=deep`, `embedding_dim=8`, ...).
//!
//! `context structure` ends the `context` shape with the structure oracle (`tests/common/context_structure.rs`:
//! the generator's own form fitted by MAP on the training rows, about 25 minutes of one core); `context
//! structure-only` runs it alone, without training the `ctr` model.

#[path = "../tests/common/context_gap.rs"]
mod context_gap;
#[path = "../tests/common/context_structure.rs"]
mod context_structure;
#[path = "../tests/common/ctr_world.rs"]
mod ctr_world;

use std::collections::BTreeMap;
use std::time::Instant;

use algocenter_domain::Function;
use algocenter_domain::catalogue::{Parameter, ParameterList, version_for_model_type};
use algocenter_functions::ctr::{Candidate, CtrModel, CtrTrainer, Situation};
use algocenter_functions::progress::Level;
use algocenter_functions::{Cancelled, Progress, Trainer, TrainingJob};
use algocenter_generator::GeneratorConfig;
use algocenter_generator::context::ContextConfig;
use ctr_world::{
    aucs, context_world_kept, model_scores, pairwise_agreement, search_world, truth_scores,
};

const NOW: i64 = 1_790_000_000_000;

struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _: &[Level<'_>]) -> Result<(), Cancelled> {
        Ok(())
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let shape = args
        .iter()
        .find(|a| ["search", "confounded", "context"].contains(&a.as_str()))
        .cloned()
        .unwrap_or_else(|| "search".into());
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let mut parameters = vec![
        Parameter {
            name: "id_field".into(),
            value: "item_id".into(),
        },
        Parameter {
            name: "title_field".into(),
            value: "title".into(),
        },
    ];
    for kv in args.iter().filter(|a| a.contains('=')) {
        let (k, v) = kv.split_once('=').expect("k=v");
        parameters.push(Parameter {
            name: k.into(),
            value: v.into(),
        });
    }
    let t = Instant::now();
    let mut context = None;
    let (data, held_out) = match shape.as_str() {
        "context" => {
            let rows = numbers.first().copied().unwrap_or(240_000);
            println!("context-aware shape: {rows} rows");
            let (world, data, held_out) = context_world_kept(ContextConfig {
                rows,
                end_ms: NOW,
                ..ContextConfig::default()
            });
            context = Some(world);
            (data, held_out)
        }
        "confounded" => {
            let searches = numbers.first().copied().unwrap_or(120_000);
            println!("confounded shape: {searches} searches");
            search_world(GeneratorConfig::confounded(searches, NOW, 7))
        }
        _ => {
            let events = numbers.first().copied().unwrap_or(3_000_000);
            let mut config = GeneratorConfig::for_events(events, 14, NOW, 7);
            if let [_, items, users, queries, ..] = numbers[..] {
                (config.items, config.users, config.queries) =
                    (items as u32, users as u32, queries as u32);
            }
            println!(
                "search shape: {events} events: {} items, {} users, {} queries",
                config.items, config.users, config.queries
            );
            search_world(config)
        }
    };
    println!(
        "{} events in {:.1} s; {} held-out exposures",
        data.events.len(),
        t.elapsed().as_secs_f64(),
        held_out.len()
    );
    let (truth_auc, truth_within) = aucs(&held_out, &truth_scores(&held_out));
    println!("truth: auc {truth_auc:.4}, auc_within_position {truth_within:.4}");
    let structure_only = args.iter().any(|a| a == "structure-only");
    if let Some(world) = context.as_ref().filter(|_| structure_only) {
        context_structure::report(world, &data, &held_out);
        return;
    }

    let version = version_for_model_type(Function::Ctr, "tf_checkpoint").expect("catalogue");
    version
        .validate_parameters(ParameterList::Create, &parameters)
        .expect("parameters");
    let effective = version.effective(ParameterList::Create, &parameters);
    let usage = version.effective(ParameterList::Usage, &[]);
    let resources = BTreeMap::new();
    let job = TrainingJob {
        app_group: "bench",
        instance: "bench",
        function: Function::Ctr,
        model_type: "tf_checkpoint",
        generation: 1,
        parameters: &effective,
        usage_parameters: &usage,
        now_ms: NOW,
        data: &data,
        resources: &resources,
        artifacts: &BTreeMap::new(),
    };
    let t = Instant::now();
    let trained = CtrTrainer.train(&job, &mut Quiet).expect("training");
    println!("trained in {:.1} s", t.elapsed().as_secs_f64());
    let m = &trained.metrics;
    for key in [
        "model",
        "auc",
        "auc_within_position",
        "logloss",
        "calibration",
        "baseline_lr_auc",
        "baseline_lr_auc_within_position",
        "baseline_lr_logloss",
        "baseline_pop_auc",
        "baseline_pop_auc_within_position",
        "baseline_popularity_auc",
        "baseline_popularity_auc_within_position",
        "examples_fit",
        "examples_holdout",
        "epochs_run",
        "best_epoch",
        "validation_logloss",
        "validation_auc_within_position",
        "feature_rows",
        "repeat_click_share",
        "wide_learning_rate",
        "user_history",
        "fields",
        "position_bias",
        "examination",
        "seconds",
    ] {
        // `user_history` is only there when the parameter is on.
        if let Some(value) = m.get(key) {
            println!("  {key}: {value}");
        }
    }
    if let Some(candidates) = m["tuning"]["candidates"].as_array() {
        for c in candidates {
            println!("  candidate: {c}");
        }
        println!(
            "  tuning: chosen {} planned {} s, share {}, seconds {}, cut {}",
            m["tuning"]["chosen"],
            m["tuning"]["planned_seconds"],
            m["tuning"]["compared_on_share_of_pages"],
            m["tuning"]["seconds"],
            m["tuning"]["cut_by_clock"]
        );
    }
    println!("  artifact bytes: {}", trained.artifact.len());

    let t = Instant::now();
    let model = CtrModel::decode(&trained.artifact).expect("decode");
    println!(
        "model {model:?} loaded in {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let scores = model_scores(&model, &held_out);
    let (model_auc, model_within) = aucs(&held_out, &scores);
    println!(
        "served model at logged positions: auc {model_auc:.4}, auc_within_position {model_within:.4}"
    );
    if let Some(world) = &context {
        context_gap::report(world, &data, &held_out, &scores);
    }
    if shape != "context" {
        let (model_share, logged_share) = pairwise_agreement(&model, &held_out, 0.9);
        println!(
            "same-page pairs in true relevance order: model at position 1 {model_share:.4}, logged order {logged_share:.4}"
        );
    }

    // Serving: reranks of 100 candidates (held-out exposures' items), timed one by one.
    let ids: Vec<&str> = held_out.iter().map(|s| s.item.as_str()).collect();
    let mut times = Vec::with_capacity(5_000);
    for (n, s) in held_out.iter().step_by(7).take(5_000).enumerate() {
        let candidates: Vec<Candidate<'_>> = (0..100)
            .map(|i| Candidate {
                id: ids[(n * 7919 + i * 104_729) % ids.len()],
                attributes: None,
            })
            .collect();
        let situation = Situation {
            user: Some(&s.user),
            query: Some(&s.query),
            context: &s.context,
            position: 1,
        };
        let t = Instant::now();
        let scores = model.score(&situation, &candidates);
        times.push(t.elapsed().as_nanos() as u64);
        assert_eq!(scores.len(), 100);
    }
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    println!(
        "rerank of 100 candidates, {} requests: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        times.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    if let Some(world) = context
        .as_ref()
        .filter(|_| args.iter().any(|a| a == "structure"))
    {
        context_structure::report(world, &data, &held_out);
    }
}
