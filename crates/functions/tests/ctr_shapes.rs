//! `ctr` on the two shapes of issue 14, scored against the generators' truth: a search log whose logged ranker
//! put relevant items first (position and relevance confounded), and a context-aware app log (10 categorical
//! fields, clicks from user × context × item interactions). Sized to run in CI; full figures in
//! `bench/README.md`.

mod common;

use algocenter_domain::Function;
use algocenter_functions::ctr::{CtrModel, CtrTrainer};
use algocenter_generator::GeneratorConfig;
use algocenter_generator::context::ContextConfig;
use common::ctr_world::{
    aucs, context_world, model_scores, pairwise_agreement, search_world, truth_scores,
};
use common::{NOW, train};

const FIELDS: [(&str, &str); 2] = [("id_field", "item_id"), ("title_field", "title")];

#[test]
fn on_a_confounded_log_position_stays_a_bias_and_the_headline_metric_cannot_be_gamed() {
    let (data, held_out) = search_world(GeneratorConfig::confounded(40_000, NOW, 3));
    let mut params = FIELDS.to_vec();
    params.push(("tuning_budget_seconds", "20"));
    let trained = train(
        &CtrTrainer,
        Function::Ctr,
        "tf_checkpoint",
        &data,
        &params,
        &[],
    )
    .unwrap();
    let m = &trained.metrics;
    println!("{}", serde_json::to_string(m).unwrap());
    let model = CtrModel::decode(&trained.artifact).unwrap();
    let (model_share, logged) = pairwise_agreement(&model, &held_out, 0.9);
    println!(
        "same-page pairs in true relevance order: model ({}) {model_share:.4}, logged order {logged:.4}",
        m["model"]
    );
    // Scored at one position, the model orders most same-page pairs by relevance. (Issue 14 asks for the
    // logged order + 0 and the crossed regression + 0.01; on this shape neither is reached yet: bench/README.md.)
    assert!(model_share > 0.7, "model {model_share} logged {logged}");
    // The headline metric is the one position cannot game: far below the AUC at logged positions (where the
    // position term alone explains much), and it is what the gate reads.
    let within = m["auc_within_position"].as_f64().unwrap();
    let (_, truth_within) = aucs(&held_out, &truth_scores(&held_out));
    assert!(
        within > 0.6 && within < truth_within,
        "{within} {truth_within}"
    );
    assert!(m["auc"].as_f64().unwrap() > within + 0.1);
    assert!(
        m["quality_gate"]
            .as_str()
            .unwrap()
            .contains("auc_within_position")
    );
    // The interactions do at least as well as the crossed logistic regression on the headline metric.
    let lr_within = m["baseline_lr_auc_within_position"].as_f64().unwrap();
    assert!(within > lr_within - 0.005, "model {within} lr {lr_within}");
    // Every position's term is learned, and deeper positions are examined less.
    let bias: Vec<f64> = m["position_bias"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_f64().unwrap())
        .collect();
    assert!(bias[1] > bias[5] && bias[5] > bias[10], "{bias:?}");
}

#[test]
fn on_a_context_aware_log_the_model_learns_the_interactions() {
    let (data, held_out) = context_world(ContextConfig {
        end_ms: NOW,
        rows: 120_000,
        ..ContextConfig::default()
    });
    let trained = train(
        &CtrTrainer,
        Function::Ctr,
        "tf_checkpoint",
        &data,
        &FIELDS,
        &[],
    )
    .unwrap();
    let m = &trained.metrics;
    println!("{}", serde_json::to_string(m).unwrap());
    let model = CtrModel::decode(&trained.artifact).unwrap();
    let (model_auc, _) = aucs(&held_out, &model_scores(&model, &held_out));
    let (truth_auc, _) = aucs(&held_out, &truth_scores(&held_out));
    println!("held-out AUC: model {model_auc:.4}, truth {truth_auc:.4}");
    // Without positions, the within-position AUC is the AUC; the served model is the evaluated one.
    assert_eq!(m["auc"], m["auc_within_position"]);
    assert!((m["auc"].as_f64().unwrap() - model_auc).abs() < 0.002);
    // Issue 14 asks for 0.005 of the truth; this build reaches about 0.03 of it (see bench/README.md).
    assert!(
        model_auc > truth_auc - 0.05,
        "model {model_auc} truth {truth_auc}"
    );
    let lr = m["baseline_lr_auc"].as_f64().unwrap();
    assert!(model_auc > lr + 0.01, "model {model_auc} lr {lr}");
    // Every context key got a field of its own.
    let fields = m["fields"].as_array().unwrap();
    assert!(fields.iter().any(|f| f == "context.weather"), "{fields:?}");
}
