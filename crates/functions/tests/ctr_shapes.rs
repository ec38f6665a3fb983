//! `ctr` on the two shapes of issue 14, scored against the generators' truth: a search log whose logged ranker
//! put relevant items first (position and relevance confounded), and a context-aware app log (10 categorical
//! fields, clicks from user × context × item interactions).

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
fn on_a_confounded_log_the_served_order_follows_relevance_better_than_crossed_lr() {
    let (data, held_out) = search_world(GeneratorConfig::confounded(60_000, NOW, 3));
    let run = |extra: &[(&'static str, &'static str)]| {
        let mut params = FIELDS.to_vec();
        params.extend_from_slice(extra);
        let trained = train(
            &CtrTrainer,
            Function::Ctr,
            "tf_checkpoint",
            &data,
            &params,
            &[],
        )
        .unwrap();
        println!("{}", serde_json::to_string(&trained.metrics).unwrap());
        (CtrModel::decode(&trained.artifact).unwrap(), trained.metrics)
    };
    let (model, metrics) = run(&[("tuning_budget_seconds", "30")]);
    let (lr, _) = run(&[("model", "lr")]);
    let (model_share, logged) = pairwise_agreement(&model, &held_out, 0.9);
    let (lr_share, _) = pairwise_agreement(&lr, &held_out, 0.9);
    println!(
        "same-page pairs in true relevance order: model ({}) {model_share:.4}, crossed lr {lr_share:.4}, logged \
         order {logged:.4}",
        metrics["model"]
    );
    assert!(
        model_share >= lr_share + 0.01,
        "model {model_share} lr {lr_share}"
    );
    assert!(model_share > logged, "model {model_share} logged {logged}");
    // The headline metric is the one position cannot game, and the gate reads it.
    let within = metrics["auc_within_position"].as_f64().unwrap();
    let (truth_auc, truth_within) = aucs(&held_out, &truth_scores(&held_out));
    assert!(within < truth_within + 0.005 && within > 0.6, "{within} {truth_within}");
    assert!(metrics["auc"].as_f64().unwrap() > within, "position still helps at logged positions");
    assert!(truth_auc > truth_within);
    assert!(
        metrics["quality_gate"]
            .as_str()
            .unwrap()
            .contains("auc_within_position")
    );
}

#[test]
fn on_a_context_aware_log_the_model_comes_within_half_a_point_of_the_truth() {
    let (data, held_out) = context_world(ContextConfig {
        end_ms: NOW,
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
    assert!((m["auc"].as_f64().unwrap() - model_auc).abs() < 0.002);
    assert!(
        model_auc > truth_auc - 0.005,
        "model {model_auc} truth {truth_auc}"
    );
    // Every context key got a field of its own.
    let fields = m["fields"].as_array().unwrap();
    assert!(fields.iter().any(|f| f == "context.weather"), "{fields:?}");
    assert!(m["baseline_lr_auc"].as_f64().unwrap() < model_auc - 0.02);
}
