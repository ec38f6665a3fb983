//! `ctr` on the two shapes of issue 14, scored against the generators' truth: a search log whose logged ranker
//! put relevant items first (position and relevance confounded), and a context-aware app log (10 categorical
//! fields, clicks from user × context × item interactions). Sized for CI (smaller worlds, a few epochs, one model
//! each instead of the tuner): the full-size figures are in `bench/README.md`.

mod common;

use algocenter_domain::Function;
use algocenter_functions::TrainedModel;
use algocenter_functions::ctr::{CtrModel, CtrTrainer};
use algocenter_generator::GeneratorConfig;
use algocenter_generator::context::ContextConfig;
use common::ctr_world::{
    aucs, context_world, model_scores, pairwise_agreement, search_world, truth_scores,
};
use common::{NOW, train};

const FIELDS: [(&str, &str); 2] = [("id_field", "item_id"), ("title_field", "title")];

fn trained(data: &algocenter_domain::data::InMemoryData, extra: &[(&str, &str)]) -> TrainedModel {
    let mut params = FIELDS.to_vec();
    params.extend_from_slice(extra);
    train(
        &CtrTrainer,
        Function::Ctr,
        "tf_checkpoint",
        data,
        &params,
        &[],
    )
    .unwrap()
}

#[test]
fn on_a_confounded_log_the_served_order_follows_relevance_not_the_logged_order() {
    // The confounded shape on a smaller catalogue, so that query × item pairs repeat within a few searches.
    let (data, held_out) = search_world(GeneratorConfig {
        queries: 400,
        items: 800,
        users: 800,
        ..GeneratorConfig::confounded(24_000, NOW, 3)
    });
    let model = trained(&data, &[("model", "ffm"), ("max_epochs", "3")]);
    // Issue 14's baseline: logistic regression with the named crosses, position an additive term learned with it.
    let baseline = trained(
        &data,
        &[
            ("model", "lr"),
            ("position_terms", "joint"),
            ("max_epochs", "3"),
        ],
    );
    let m = &model.metrics;
    println!("{}", serde_json::to_string(m).unwrap());
    let served = CtrModel::decode(&model.artifact).unwrap();
    let (model_share, logged) = pairwise_agreement(&served, &held_out, 0.9);
    let (lr_share, _) = pairwise_agreement(
        &CtrModel::decode(&baseline.artifact).unwrap(),
        &held_out,
        0.9,
    );
    println!(
        "same-page pairs in true relevance order: model {model_share:.4}, crossed LR {lr_share:.4}, logged {logged:.4}"
    );
    // Issue 14's bar: the crossed regression + 0.01, and the logged order.
    assert!(
        model_share > lr_share + 0.01 && model_share > logged,
        "model {model_share} crossed LR {lr_share} logged {logged}"
    );

    // The position terms are the examination curve estimated on its own: the generator's is position^-0.9, a
    // span of about 2.1 from position 1 to 10 (the jointly learned terms spanned 5).
    assert!(m["examination"]["fixed_positions"].as_u64().unwrap() >= 10);
    let bias: Vec<f64> = m["position_bias"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_f64().unwrap())
        .collect();
    let span = bias[1] - bias[10];
    assert!((1.6..2.7).contains(&span), "{bias:?}");
    assert!(bias[1] > bias[5] && bias[5] > bias[10], "{bias:?}");

    // The headline metric is the one position cannot game: far below the AUC at logged positions, below the
    // truth's, above the baseline's, and what the gate reads.
    let within = m["auc_within_position"].as_f64().unwrap();
    let (_, truth_within) = aucs(&held_out, &truth_scores(&held_out));
    assert!(
        within > 0.6 && within < truth_within,
        "{within} {truth_within}"
    );
    assert!(m["auc"].as_f64().unwrap() > within + 0.1);
    let lr_within = m["baseline_lr_auc_within_position"].as_f64().unwrap();
    assert!(within > lr_within + 0.005, "model {within} lr {lr_within}");
    assert!(
        m["quality_gate"]
            .as_str()
            .unwrap()
            .contains("auc_within_position")
    );
}

#[test]
fn on_a_context_aware_log_the_model_learns_the_interactions() {
    let (data, held_out) = context_world(ContextConfig {
        end_ms: NOW,
        rows: 60_000,
        ..ContextConfig::default()
    });
    let trained = trained(&data, &[("model", "deep"), ("max_epochs", "6")]);
    let m = &trained.metrics;
    println!("{}", serde_json::to_string(m).unwrap());
    let model = CtrModel::decode(&trained.artifact).unwrap();
    let (model_auc, _) = aucs(&held_out, &model_scores(&model, &held_out));
    let (truth_auc, _) = aucs(&held_out, &truth_scores(&held_out));
    println!("held-out AUC: model {model_auc:.4}, truth {truth_auc:.4}");
    // Without positions, the within-position AUC is the AUC; the served model is the evaluated one.
    assert_eq!(m["auc"], m["auc_within_position"]);
    assert!((m["auc"].as_f64().unwrap() - model_auc).abs() < 0.002);
    assert_eq!(
        m["examination"],
        "none estimated (too few query × item pairs at several positions): learned jointly"
    );
    // A quarter of the benchmark's rows: each user's few items are seen from about one click each, so the model
    // lands 0.046 below the truth here (0.9495 vs 0.9950; 0.9397 while the wide part learned at the crossed
    // regression's rate, which left it 0.055 short), where 240,000 rows reach 0.9773 (bench/README.md: the gap
    // shrinks with more rows, it is estimation error). What a model without the user × context × item
    // interactions gets on the same rows: the crossed regression 0.926, the item click-through 0.931.
    assert!(
        model_auc > truth_auc - 0.05,
        "model {model_auc} truth {truth_auc}"
    );
    let lr = m["baseline_lr_auc"].as_f64().unwrap();
    let pop = m["baseline_pop_auc"].as_f64().unwrap();
    assert!(
        model_auc > lr + 0.01 && model_auc > pop + 0.005,
        "model {model_auc} lr {lr} item click-through {pop}"
    );
    // Users here keep choosing their own items (69 % of the validation clicks repeat a fitted pair): the wide
    // part learns at a multiple of the regression's step.
    assert!(m["repeat_click_share"].as_f64().unwrap() > 0.5, "{m:?}");
    assert!(m["wide_learning_rate"].as_f64().unwrap() > 0.2, "{m:?}");
    // Every context key got a field of its own.
    let fields = m["fields"].as_array().unwrap();
    assert!(fields.iter().any(|f| f == "context.weather"), "{fields:?}");
}
