//! `rank` in process on the graded shop (no HTTP, no store): training time by phase and the held-out figures,
//! then the latency of reranking 100 candidates on the decoded model; optionally the examples the trainer
//! built, exported for another learner (`bench/rank_lightgbm.py` trains LightGBM's lambdarank on them).
//!
//! ```text
//! cargo bench -p algocenter-functions --bench rank_training -- [EVENTS] [--features50] [--ctr] [--export DIR] [k=v ...]
//! ```
//! EVENTS defaults to 1,000,000 over 14 days; `--features50` trains on a resource of 50 generators instead of the
//! built-in set; `--ctr` first trains a ctr instance (default parameters, as of the day before) and gives rank its
//! model as `ctr_instance`, so that the cross-fitting by day is in the time; `k=v` are create parameters.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use algocenter_domain::Function;
use algocenter_domain::catalogue::{Parameter, ParameterList, version_for_model_type};
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_domain::resource::{Feature, Generator};
use algocenter_functions::ctr::CtrTrainer;
use algocenter_functions::progress::Level;
use algocenter_functions::rank::examples::Part;
use algocenter_functions::rank::features::Situation;
use algocenter_functions::rank::{Candidate, RankModel, RankTrainer, examples};
use algocenter_functions::{Cancelled, Progress, Trainer, TrainingJob};
use algocenter_generator::graded::{BUDGETS, GradedConfig, GradedShop};

const NOW: i64 = 1_790_000_000_000;

struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _: &[Level<'_>]) -> Result<(), Cancelled> {
        Ok(())
    }
}

/// CPU seconds this process used (user + system), from `/proc/self/stat`: the machine is shared, so wall
/// time alone says little.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime), counted after the command name; 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}

fn g(kind: &str, inputs: &[(&str, &str)], output: String, options: &[(&str, &str)]) -> Generator {
    Generator {
        generator: kind.into(),
        features: inputs
            .iter()
            .map(|(n, t)| Feature {
                name: n.to_string(),
                feature_type: t.to_string(),
            })
            .collect(),
        output,
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// 50 generators of every kind (some repeated with other options), as a large custom resource would have.
fn fifty() -> Vec<Generator> {
    let mut out = Vec::new();
    for a in ["price", "rating", "sales"] {
        out.push(g("raw", &[(a, "item")], format!("raw_{a}"), &[]));
        out.push(g("id", &[(a, "item")], format!("id_{a}"), &[]));
        out.push(g(
            "combo",
            &[("budget", "context"), (a, "item")],
            format!("budget_{a}"),
            &[],
        ));
    }
    for c in ["ctr", "pv", "ipv"] {
        for d in ["1", "7", "30"] {
            let name = format!("system_all_nid_{c}_{d}");
            out.push(g(
                "raw",
                &[(name.as_str(), "item")],
                format!("{c}_{d}"),
                &[],
            ));
        }
    }
    for m in ["query_score", "query_ctr", "qterm_score", "qterm_ctr"] {
        let map = format!("system_{m}_decay");
        let key = if m.starts_with("query") {
            "system_raw_q_ultra"
        } else {
            "system_raw_q_terms"
        };
        for c in ["sum", "max"] {
            out.push(g(
                "lookup",
                &[(map.as_str(), "item"), (key, "user")],
                format!("{m}_{c}"),
                &[("combiner", c)],
            ));
        }
    }
    for m in [
        "query_common_ratio",
        "title_common_ratio",
        "is_contain",
        "is_equal",
        "common_word",
        "diff_word",
    ] {
        out.push(g(
            "overlap",
            &[("system_raw_q_ultra", "user"), ("title", "item")],
            format!("title_{m}"),
            &[("method", m)],
        ));
    }
    for (i, (a, b)) in [
        ("system_raw_q_ultra", "system_item_id"),
        ("system_raw_q_ultra", "category"),
        ("system_raw_q_terms", "category"),
        ("system_user_id", "category"),
        ("system_user_id", "system_item_id"),
    ]
    .iter()
    .enumerate()
    {
        out.push(g(
            "combo",
            &[(a, "user"), (b, "item")],
            format!("combo_{i}"),
            &[],
        ));
    }
    out.push(g("id", &[("system_item_id", "item")], "item".into(), &[]));
    out.push(g("id", &[("category", "item")], "category".into(), &[]));
    out.push(g("id", &[("budget", "context")], "budget".into(), &[]));
    for (n, len) in [("seq_category_10", "10"), ("seq_category_50", "50")] {
        out.push(g(
            "sequence",
            &[("system_user_click_seq", "user"), ("category", "item")],
            n.into(),
            &[("sequence_length", len)],
        ));
    }
    out.push(g(
        "sequence",
        &[
            ("system_user_click_seq", "user"),
            ("system_item_id", "item"),
        ],
        "seq_item".into(),
        &[],
    ));
    out.push(g("raw", &[("length", "query")], "query_length".into(), &[]));
    out.truncate(50);
    out
}

fn export(dir: &str, name: &str, part: &Part) {
    let path = format!("{dir}/{name}.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create export file"));
    for (group, range) in part.ranges.iter().enumerate() {
        for r in range.clone() {
            let r = r as usize;
            write!(f, "{group},{},{}", part.grades[r], part.positions[r]).unwrap();
            for c in &part.columns {
                let v = c[r];
                if v.is_nan() {
                    write!(f, ",").unwrap();
                } else {
                    write!(f, ",{v}").unwrap();
                }
            }
            writeln!(f).unwrap();
        }
    }
    println!("exported {} rows to {path}", part.rows());
}

/// A ctr instance's model as of the day before (so it has not seen rank's held-out day), default parameters.
fn ctr_instance(data: &InMemoryData) -> Vec<u8> {
    let version = version_for_model_type(Function::Ctr, "tf_checkpoint").unwrap();
    let list = [("id_field", "item_id"), ("title_field", "title")].map(|(n, v)| Parameter {
        name: n.into(),
        value: v.into(),
    });
    let parameters = version.effective(ParameterList::Create, &list);
    let usage = version.effective(ParameterList::Usage, &[]);
    let none = BTreeMap::new();
    let job = TrainingJob {
        app_group: "bench",
        instance: "ctr",
        function: Function::Ctr,
        model_type: "tf_checkpoint",
        generation: 1,
        parameters: &parameters,
        usage_parameters: &usage,
        now_ms: NOW - DAY_MS,
        data,
        resources: &BTreeMap::new(),
        artifacts: &none,
    };
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let model = CtrTrainer.train(&job, &mut Quiet).expect("ctr training");
    println!(
        "ctr instance ({}) trained in {:.1} s wall, {:.1} s CPU",
        model.metrics["model"],
        t.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );
    model.artifact
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let events: u64 = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let features50 = args.iter().any(|a| a == "--features50");
    let export_dir = args
        .iter()
        .position(|a| a == "--export")
        .and_then(|i| args.get(i + 1).cloned());
    let mut list = vec![Parameter {
        name: "train_window_days".into(),
        value: "14".into(),
    }];
    let mut resources = BTreeMap::new();
    if features50 {
        list.push(Parameter {
            name: "feature_generator".into(),
            value: "fifty".into(),
        });
        resources.insert(
            "feature_generator".to_string(),
            serde_json::to_string(&fifty()).unwrap(),
        );
    }
    for kv in args.iter().filter(|a| a.contains('=')) {
        let (k, v) = kv.split_once('=').unwrap();
        list.push(Parameter {
            name: k.into(),
            value: v.into(),
        });
    }
    let started = Instant::now();
    let shop = GradedShop::new(GradedConfig::for_events(events, 14, NOW, 7));
    let mut data = InMemoryData {
        items: shop.item_documents().collect(),
        ..Default::default()
    };
    shop.events(&mut |e, _| data.events.push(e.clone()));
    println!(
        "generated {} events, {} items in {:.1} s",
        data.events.len(),
        data.items.len(),
        started.elapsed().as_secs_f64()
    );
    let version = version_for_model_type(Function::Rank, "tf_checkpoint").unwrap();
    version
        .validate_parameters(ParameterList::Create, &list)
        .unwrap();
    let usage = version.effective(ParameterList::Usage, &[]);
    let mut artifacts = BTreeMap::new();
    if args.iter().any(|a| a == "--ctr") {
        list.push(Parameter {
            name: "ctr_instance".into(),
            value: "ctr".into(),
        });
        artifacts.insert("ctr_instance".to_string(), ctr_instance(&data));
    }
    let parameters = version.effective(ParameterList::Create, &list);
    let job = TrainingJob {
        app_group: "bench",
        instance: "rank",
        function: Function::Rank,
        model_type: "tf_checkpoint",
        generation: 1,
        parameters: &parameters,
        usage_parameters: &usage,
        now_ms: NOW,
        data: &data,
        resources: &resources,
        artifacts: &artifacts,
    };
    if let Some(dir) = export_dir {
        std::fs::create_dir_all(&dir).unwrap();
        let t = Instant::now();
        let prepared = examples(&job, &mut Quiet).expect("examples");
        println!("examples in {:.1} s", t.elapsed().as_secs_f64());
        std::fs::write(format!("{dir}/features.txt"), prepared.names.join("\n")).unwrap();
        std::fs::write(
            format!("{dir}/propensities.json"),
            prepared.propensities.describe().to_string(),
        )
        .unwrap();
        export(&dir, "fit", &prepared.fit);
        export(&dir, "validation", &prepared.validation);
        export(&dir, "held_out", &prepared.held_out);
    }
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let model = RankTrainer.train(&job, &mut Quiet).expect("training");
    println!(
        "trained in {:.1} s wall, {:.1} s CPU",
        t.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );
    println!("{}", serde_json::to_string_pretty(&model.metrics).unwrap());
    println!("artifact {:.1} MB", model.artifact.len() as f64 / 1e6);

    // Reranks of 100 candidates: a query of one leaf, candidates from anywhere.
    let served = RankModel::decode(&model.artifact).unwrap();
    let items = shop.items();
    let context: Vec<Vec<(String, String)>> = BUDGETS
        .iter()
        .map(|b| vec![("budget".to_string(), b.to_string())])
        .collect();
    let queries = ["连衣裙", "dress", "sneakers", "新款 手机", "coffee"];
    let mut latencies = Vec::new();
    let cpu = cpu_seconds();
    for r in 0..3000usize {
        let candidates: Vec<Candidate<'_>> = (0..100)
            .map(|k| Candidate {
                id: &items[(r * 7919 + k * 104_729) % items.len()].id,
                attributes: None,
            })
            .collect();
        let situation = Situation {
            user: "s1",
            query: queries[r % queries.len()],
            context: &context[r % 3],
        };
        let t = Instant::now();
        let scored = served.score(&situation, &candidates, None);
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(scored.len(), 100);
    }
    let cpu_per_request = (cpu_seconds() - cpu) / 3000.0 * 1e3;
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "rerank of 100 candidates, {} features, {} trees: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, \
         {cpu_per_request:.3} ms CPU per rerank",
        served.columns().len(),
        served.trees(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
