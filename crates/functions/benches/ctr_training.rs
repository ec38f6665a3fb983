//! `ctr` training in process on a generated shop (no HTTP, no store): the trainer's phases, its held-out metrics,
//! the true click probabilities' AUC on the same exposures and a semi-oracle's (the truth with each item's hidden
//! quality estimated from the training days), then the latency of reranks on the decoded model.
//!
//! ```text
//! cargo bench -p algocenter-functions --bench ctr_training [-- EVENTS [ITEMS USERS QUERIES]] [k=v ...]
//! ```
//! EVENTS defaults to 3,000,000; the catalogue grows with it unless ITEMS USERS QUERIES are given; `k=v`
//! arguments are create parameters (`latent_dim=8`, `learning_rate=0.02`, ...).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use algocenter_domain::Function;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::catalogue::{Parameter, ParameterList, version_for_model_type};
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::ctr::{Candidate, CtrModel, CtrTrainer, Situation};
use algocenter_functions::evaluation::auc;
use algocenter_functions::progress::Level;
use algocenter_functions::{Cancelled, Progress, Trainer, TrainingJob};
use algocenter_generator::{GeneratorConfig, World};

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
    let events = numbers.first().copied().unwrap_or(3_000_000);
    let mut config = GeneratorConfig::for_events(events, 14, NOW, 7);
    if let [_, items, users, queries, ..] = numbers[..] {
        (config.items, config.users, config.queries) = (items as u32, users as u32, queries as u32);
    }
    println!(
        "generating {events} events: {} items, {} users, {} queries",
        config.items, config.users, config.queries
    );
    let t = Instant::now();
    let world = World::new(config);
    let mut data = InMemoryData {
        items: world.item_documents().collect(),
        ..Default::default()
    };
    let mut truth: Vec<(String, String, f64)> = Vec::new();
    // Exposures before the held-out day: (item, true probability, clicked).
    let mut trained: Vec<(String, f64, bool)> = Vec::new();
    let mut clicked: HashSet<(String, String)> = HashSet::new();
    world.events(&mut |e, p| {
        data.events.push(e.clone());
        match (p, e.bhv_type.as_str()) {
            (Some(p), _) if e.bhv_time_ms >= NOW - DAY_MS => {
                truth.push((e.rn.clone(), e.item_id.clone(), p))
            }
            (Some(p), _) => trained.push((e.item_id.clone(), p, false)),
            // The generator logs a click right after its exposure.
            (None, "click") if e.bhv_time_ms >= NOW - DAY_MS => {
                clicked.insert((e.rn.clone(), e.item_id.clone()));
            }
            (None, "click") => {
                if let Some(last) = trained.last_mut() {
                    last.2 = last.0 == e.item_id;
                }
            }
            _ => {}
        }
    });
    println!(
        "{} events in {:.1} s",
        data.events.len(),
        t.elapsed().as_secs_f64()
    );
    let labels: Vec<bool> = truth
        .iter()
        .map(|(rn, item, _)| clicked.contains(&(rn.clone(), item.clone())))
        .collect();
    let scores: Vec<f32> = truth.iter().map(|t| t.2 as f32).collect();
    println!(
        "truth on {} held-out exposures: AUC {:.4}",
        truth.len(),
        auc(&scores, &labels).unwrap_or(0.5)
    );

    // A semi-oracle: the true click probabilities with each item's hidden quality replaced by its estimate from
    // the training days (clicks over the clicks its exposures would get at quality 1, shrunk towards the mean):
    // what a model could reach that knew everything about the world but the items' qualities.
    let quality: HashMap<&str, f64> = world
        .items()
        .iter()
        .map(|i| (i.id.as_str(), i.quality))
        .collect();
    let mut evidence: HashMap<&str, (f64, f64)> = HashMap::new();
    for (item, p, click) in &trained {
        let e = evidence.entry(item.as_str()).or_default();
        e.0 += f64::from(u8::from(*click));
        e.1 += p / quality[item.as_str()];
    }
    let (clicks, expected) = evidence
        .values()
        .fold((0.0, 0.0), |(c, x), e| (c + e.0, x + e.1));
    let mean = clicks / expected;
    for strength in [0.5, 2.0, 8.0] {
        let semi: Vec<f32> = truth
            .iter()
            .map(|(_, item, p)| {
                let (c, x) = evidence.get(item.as_str()).copied().unwrap_or_default();
                let estimate = (c + strength * mean) / (x + strength);
                (p / quality[item.as_str()] * estimate) as f32
            })
            .collect();
        println!(
            "semi-oracle (true world, item quality estimated, prior strength {strength}): AUC {:.4}",
            auc(&semi, &labels).unwrap_or(0.5)
        );
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
        "auc",
        "logloss",
        "calibration",
        "baseline_lr_auc",
        "baseline_lr_logloss",
        "baseline_lr_best_epoch",
        "baseline_pop_auc",
        "baseline_pop_logloss",
        "examples_fit",
        "examples_holdout",
        "epochs_run",
        "best_epoch",
        "validation_logloss",
        "feature_rows",
        "seconds",
    ] {
        println!("  {key}: {}", m[key]);
    }
    println!("  artifact bytes: {}", trained.artifact.len());

    // Serving: reranks of 100 candidates (the page's items and random others), timed one by one.
    let t = Instant::now();
    let model = CtrModel::decode(&trained.artifact).expect("decode");
    println!("model loaded in {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let ids: Vec<&str> = data.items.iter().map(|d| d.id.as_str()).collect();
    let searches: Vec<&BehaviourEvent> = data
        .events
        .iter()
        .filter(|e| e.bhv_type == "search")
        .take(5_000)
        .collect();
    let mut times = Vec::with_capacity(searches.len());
    for (n, s) in searches.iter().enumerate() {
        let candidates: Vec<Candidate<'_>> = (0..100)
            .map(|i| Candidate {
                id: ids[(n * 7919 + i * 104_729) % ids.len()],
                attributes: None,
            })
            .collect();
        let situation = Situation {
            user: Some(&s.user_id),
            query: Some(&s.raw_query),
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
}
