//! The rank trainer on the graded shop (numeric attributes that matter, graded behaviour, known truth): its
//! held-out NDCG@10 against the logged order, popularity, the ctr instance and the truth; explanations of what
//! it serves; refusals.

mod common;

use std::collections::{BTreeMap, HashMap};

use algocenter_domain::Function;
use algocenter_domain::catalogue::{Parameter, ParameterList, version_for_model_type};
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_domain::resource::{Feature, Generator};
use algocenter_functions::ctr::CtrTrainer;
use algocenter_functions::rank::features::Situation;
use algocenter_functions::rank::lambdarank::weighted_dcg;
use algocenter_functions::rank::{Candidate, RankModel, RankTrainer};
use algocenter_functions::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};
use algocenter_generator::graded::{GradedConfig, GradedShop};
use common::{CancelAt, NOW, Quiet};
use serde_json::Value;

fn train(
    trainer: &dyn Trainer,
    function: Function,
    model_type: &str,
    data: &InMemoryData,
    params: &[(&str, &str)],
    inputs: (&BTreeMap<String, String>, &BTreeMap<String, Vec<u8>>),
    progress: &mut dyn Progress,
) -> Result<TrainedModel, TrainError> {
    train_at(
        NOW, trainer, function, model_type, data, params, inputs, progress,
    )
}

/// `train`, as of `now_ms`.
#[allow(clippy::too_many_arguments)]
fn train_at(
    now_ms: i64,
    trainer: &dyn Trainer,
    function: Function,
    model_type: &str,
    data: &InMemoryData,
    params: &[(&str, &str)],
    (resources, artifacts): (&BTreeMap<String, String>, &BTreeMap<String, Vec<u8>>),
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
    let job = TrainingJob {
        app_group: "shop",
        instance: "r",
        function,
        model_type,
        generation: 1,
        parameters: &parameters,
        usage_parameters: &usage,
        now_ms,
        data,
        resources,
        artifacts,
    };
    trainer.train(&job, progress)
}

/// The graded shop over 8 days, and the truth (expected grade) of each exposure by `(rn, item)`.
fn shop(events: u64) -> (InMemoryData, HashMap<(String, String), f64>, GradedShop) {
    let shop = GradedShop::new(GradedConfig::for_events(events, 8, NOW, 11));
    let mut data = InMemoryData {
        items: shop.item_documents().collect(),
        ..Default::default()
    };
    let mut truth = HashMap::new();
    shop.events(&mut |e, t| {
        if let Some(t) = t {
            truth.insert((e.rn.clone(), e.item_id.clone()), t);
        }
        data.events.push(e.clone());
    });
    (data, truth, shop)
}

/// NDCG@10 of the truth's order on the held-out day's searches, graded and debiased as the trainer does it
/// (`propensities` by position, from its metrics).
fn truth_ndcg(
    data: &InMemoryData,
    truth: &HashMap<(String, String), f64>,
    propensities: &[f64],
) -> f64 {
    let grade_of: HashMap<&str, f32> = [("click", 1.0), ("cart", 2.0), ("buy", 3.0)].into();
    // Per search: item → (grade, position).
    let mut groups: HashMap<&str, HashMap<&str, (f32, u32)>> = HashMap::new();
    for e in data.events.iter().filter(|e| e.bhv_time_ms >= NOW - DAY_MS) {
        let g = groups.entry(&e.rn).or_default();
        match e.bhv_type.as_str() {
            "expose" => {
                g.entry(&e.item_id).or_insert((0.0, 0)).1 = e.position.unwrap_or(1);
            }
            kind => {
                if let Some(&grade) = grade_of.get(kind) {
                    let x = g.entry(&e.item_id).or_insert((0.0, 0));
                    x.0 = x.0.max(grade);
                }
            }
        }
    }
    let (mut dcg, mut best) = (0.0, 0.0);
    for (rn, items) in groups {
        let mut scores = Vec::new();
        let mut grades = Vec::new();
        let mut weights = Vec::new();
        for (item, (g, p)) in items.iter().filter(|(_, (_, p))| *p > 0) {
            scores.push(truth[&(rn.to_string(), item.to_string())]);
            grades.push(*g);
            weights.push((1.0 / propensities[*p as usize - 1]) as f32);
        }
        let (d, b) = weighted_dcg(10, &scores, &grades, &weights);
        dcg += d;
        best += b;
    }
    dcg / best
}

fn propensities(m: &TrainedModel) -> Vec<f64> {
    m.metrics["position_propensities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn generator(
    kind: &str,
    inputs: &[(&str, &str)],
    output: &str,
    options: &[(&str, &str)],
) -> Generator {
    Generator {
        generator: kind.into(),
        features: inputs
            .iter()
            .map(|(n, t)| Feature {
                name: n.to_string(),
                feature_type: t.to_string(),
            })
            .collect(),
        output: output.into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Generators of every kind: what a user who knows the shop would describe.
fn resource() -> String {
    serde_json::to_string(&vec![
        generator("raw", &[("rating", "item")], "rating", &[]),
        generator("raw", &[("price", "item")], "price", &[]),
        generator("raw", &[("sales", "item")], "sales", &[]),
        generator("id", &[("budget", "context")], "budget", &[]),
        generator(
            "combo",
            &[("system_raw_q_ultra", "user"), ("category", "item")],
            "query_category",
            &[],
        ),
        generator(
            "overlap",
            &[("system_raw_q_ultra", "user"), ("title", "item")],
            "title_match",
            &[("method", "query_common_ratio")],
        ),
        generator(
            "lookup",
            &[
                ("system_query_ctr_decay", "item"),
                ("system_raw_q_ultra", "user"),
            ],
            "query_ctr",
            &[],
        ),
        generator("raw", &[("system_all_nid_ctr_7", "item")], "ctr_7d", &[]),
        generator(
            "sequence",
            &[("system_user_click_seq", "user"), ("category", "item")],
            "category_clicks",
            &[],
        ),
    ])
    .unwrap()
}

/// The fold models of `ctr_cross_fit` hid each training day once between them (days numbered from 1, the
/// window's first; the window is not aligned to days, so its training part touches `at_least` or one more).
fn assert_each_day_hidden_once(cross_fit: &Value, at_least: u64) {
    let mut hidden: Vec<u64> = cross_fit["models"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["hidden_days"].as_array().unwrap().iter())
        .map(|d| d.as_u64().unwrap())
        .collect();
    hidden.sort_unstable();
    let days = hidden.len() as u64;
    assert!(days >= at_least, "{cross_fit}");
    assert_eq!(hidden, (1..=days).collect::<Vec<u64>>(), "{cross_fit}");
}

fn metric(m: &TrainedModel, name: &str) -> f64 {
    m.metrics[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name}: {:?}", m.metrics))
}

#[test]
fn rank_orders_better_than_the_log_popularity_and_ctr_and_explains_itself() {
    let (data, truth, shop) = shop(400_000);
    let none = BTreeMap::new();
    // The ctr instance was trained the day before: it has not seen the day rank holds out, so neither rank's
    // feature nor the ctr-alone baseline is scored on searches the ctr model learned (its user × item crosses
    // would remember them).
    let day_before = NOW - DAY_MS;
    let before = InMemoryData {
        items: data.items.clone(),
        events: data
            .events
            .iter()
            .filter(|e| e.bhv_time_ms < day_before)
            .cloned()
            .collect(),
        ..Default::default()
    };
    let ctr = train_at(
        day_before,
        &CtrTrainer,
        Function::Ctr,
        "tf_checkpoint",
        &before,
        &[
            ("id_field", "item_id"),
            ("title_field", "title"),
            ("train_window_days", "7"),
        ],
        (&none, &BTreeMap::new()),
        &mut Quiet,
    )
    .unwrap();
    let resources = BTreeMap::from([("feature_generator".to_string(), resource())]);
    let artifacts = BTreeMap::from([("ctr_instance".to_string(), ctr.artifact.clone())]);
    let params = [
        ("train_window_days", "8"),
        ("ctr_instance", "c"),
        ("feature_generator", "fg"),
    ];
    let model = train(
        &RankTrainer,
        Function::Rank,
        "tf_checkpoint",
        &data,
        &params,
        (&resources, &artifacts),
        &mut Quiet,
    )
    .unwrap();
    let ours = metric(&model, "ndcg_at_10");
    let truth = truth_ndcg(&data, &truth, &propensities(&model));
    println!(
        "rank {ours} logged {} popularity {} ctr {} truth {truth} (mrr {} ndcg@5 {}) importance {} start {} trees {}",
        metric(&model, "logged_ndcg_at_10"),
        metric(&model, "popularity_ndcg_at_10"),
        metric(&model, "ctr_instance_ndcg_at_10"),
        metric(&model, "mrr"),
        metric(&model, "ndcg_at_5"),
        model.metrics["feature_importance"],
        model.metrics["boosting_start"],
        model.metrics["trees"],
    );
    assert!(
        ours > metric(&model, "logged_ndcg_at_10") + 0.03,
        "{:?}",
        model.metrics
    );
    assert!(
        ours > metric(&model, "popularity_ndcg_at_10") + 0.03,
        "{:?}",
        model.metrics
    );
    // Above the ctr instance alone, by a margin a trainer that learns from the in-sample ctr score fails: that
    // trainer (the ctr instance's own score on rank's training days, which it had fitted on) reached 0.607 here
    // against ctr alone 0.611 (-0.004). Cross-fitted by day (2 folds): 0.6492 vs 0.6111 (+0.038); on the graded
    // shop's seeds 12, 13, 14: +0.040, +0.010, +0.026. The margin is below the smallest of those.
    assert!(
        ours > metric(&model, "ctr_instance_ndcg_at_10") + 0.005,
        "{:?}",
        model.metrics
    );
    // Cross-fitted: both fold models, which between them hid every training day once; the instance, which
    // fitted only before the held-out day, scores that day.
    let cross_fit = &model.metrics["ctr_cross_fit"];
    assert_eq!(cross_fit["folds"], 2);
    assert_each_day_hidden_once(cross_fit, 7);
    // Each fold model is evaluated on the held-out searches too (how weak the scores rank trains on are), and
    // orders them better than the log does.
    let logged = metric(&model, "logged_ndcg_at_10");
    for k in 0..2 {
        let ndcg = cross_fit["models"][k]["held_out_ndcg_at_10"]
            .as_f64()
            .unwrap();
        assert!(ndcg > logged && ndcg <= 1.0, "{cross_fit}");
    }
    let mean = cross_fit["held_out_ndcg_at_10_of_their_mean"]
        .as_f64()
        .unwrap();
    assert!(mean > logged && mean <= 1.0, "{cross_fit}");
    assert!(
        model.metrics.get("warning").is_none(),
        "{:?}",
        model.metrics
    );
    assert!(
        model.metrics["ctr_feature_on_held_out"]
            .as_str()
            .unwrap()
            .starts_with("the ctr instance"),
        "{:?}",
        model.metrics
    );
    assert!(
        ours < truth + 0.02,
        "no model beats the truth by much: {ours} vs {truth}"
    );
    assert!(model.passed_quality_gate);
    let importance = model.metrics["feature_importance"].as_object().unwrap();
    let share = |name: &str| importance[name].as_f64().unwrap();
    // The rating drives the grades (0.163 of the gain here). The in-sample ctr score took 0.77 of the gain and
    // left the rating 0.006; cross-fitted it takes 0.043.
    assert!(
        share("rating") > 0.05,
        "the rating drives the grades: {importance:?}"
    );
    assert!(
        share("ctr_instance_score") < 0.3,
        "the ctr score is not trusted as if in-sample: {importance:?}"
    );
    assert!(model.metrics["groups_holdout"].as_u64().unwrap() > 100);

    // Served: the explanation's values are the features, its contributions add up to the score.
    let served = RankModel::decode(&model.artifact).unwrap();
    assert_eq!(served.columns().last().unwrap(), "ctr_instance_score");
    let items = &shop.items()[..20];
    let candidates: Vec<Candidate<'_>> = items
        .iter()
        .map(|i| Candidate {
            id: &i.id,
            attributes: None,
        })
        .collect();
    let context = vec![("budget".to_string(), "low".to_string())];
    let situation = Situation {
        user: "s1",
        query: "连衣裙",
        context: &context,
    };
    let scored = served.score(&situation, &candidates, Some(5));
    for (item, s) in items.iter().zip(&scored) {
        let e = s.explanation.as_ref().unwrap();
        let value = |name: &str| e.values.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(value("rating"), item.rating as f32);
        assert_eq!(value("price"), item.price as f32);
        assert_eq!(value("sales"), item.sales as f32);
        assert!((0.0..=3.0).contains(&value("budget")), "an encoded grade");
        assert!(e.contributions.len() <= 5);
        assert!(
            e.contributions
                .windows(2)
                .all(|w| w[0].1.abs() >= w[1].1.abs())
        );
    }
    // With every contribution listed they add up to the score.
    let full = served.score(&situation, &candidates[..1], Some(1000));
    let e = full[0].explanation.as_ref().unwrap();
    let sum: f32 = e.bias + e.contributions.iter().map(|c| c.1).sum::<f32>();
    assert!(
        (sum - full[0].score).abs() < 1e-3,
        "{sum} vs {}",
        full[0].score
    );
    // Attributes a request gives are what the model reads.
    let mut attributes = serde_json::Map::new();
    attributes.insert("rating".into(), Value::from(1.0));
    let given = [Candidate {
        id: &items[0].id,
        attributes: Some(&attributes),
    }];
    let e = served.score(&situation, &given, Some(3))[0]
        .explanation
        .clone()
        .unwrap();
    assert_eq!(e.values.iter().find(|(n, _)| n == "rating").unwrap().1, 1.0);
}

#[test]
fn a_ctr_instance_that_fitted_on_the_held_out_days_is_not_evaluated_on_them() {
    let (data, _, _) = shop(150_000);
    let none = BTreeMap::new();
    // Trained now: it fitted on every day but the last, and rank holds out the last two.
    let ctr = train(
        &CtrTrainer,
        Function::Ctr,
        "tf_checkpoint",
        &data,
        &[
            ("id_field", "item_id"),
            ("title_field", "title"),
            ("train_window_days", "8"),
            ("model", "lr"),
        ],
        (&none, &BTreeMap::new()),
        &mut Quiet,
    )
    .unwrap();
    let artifacts = BTreeMap::from([("ctr_instance".to_string(), ctr.artifact)]);
    let model = train(
        &RankTrainer,
        Function::Rank,
        "tf_checkpoint",
        &data,
        &[
            ("train_window_days", "8"),
            ("holdout_days", "2"),
            ("ctr_instance", "c"),
            ("ctr_folds", "3"),
        ],
        (&none, &artifacts),
        &mut Quiet,
    )
    .unwrap();
    let warning = model.metrics["warning"].as_str().unwrap();
    assert!(warning.contains("covers rank's held-out days"), "{warning}");
    assert!(
        model.metrics["ctr_feature_on_held_out"]
            .as_str()
            .unwrap()
            .starts_with("the mean of the cross-fitted models"),
        "{:?}",
        model.metrics
    );
    let cross_fit = &model.metrics["ctr_cross_fit"];
    assert_eq!(cross_fit["folds"], 3);
    assert_each_day_hidden_once(cross_fit, 6);
    // Dealt in turn: days 1, 4, 7 to the first fold, 3, 6 to the third.
    assert_eq!(cross_fit["models"][0]["hidden_days"][1], 4);
    assert_eq!(cross_fit["models"][2]["hidden_days"][1], 6);
    // The held-out figures are still there, the ctr baseline on the same scores.
    assert!(metric(&model, "ndcg_at_10") > metric(&model, "logged_ndcg_at_10"));
    assert!(metric(&model, "ctr_instance_ndcg_at_10") > 0.0);
}

#[test]
fn the_built_in_features_beat_the_log_without_a_resource() {
    let (data, _, _) = shop(250_000);
    let none = BTreeMap::new();
    let model = train(
        &RankTrainer,
        Function::Rank,
        "tf_checkpoint",
        &data,
        &[("train_window_days", "8")],
        (&none, &BTreeMap::new()),
        &mut Quiet,
    )
    .unwrap();
    let importance = model.metrics["feature_importance"].as_object().unwrap();
    assert!(
        importance.contains_key("item_rating"),
        "numeric attributes are found: {importance:?}"
    );
    assert!(
        metric(&model, "ndcg_at_10") > metric(&model, "logged_ndcg_at_10") + 0.02,
        "{:?}",
        model.metrics
    );
    assert!(
        metric(&model, "ndcg_at_10") > metric(&model, "popularity_ndcg_at_10"),
        "{:?}",
        model.metrics
    );
}

#[test]
fn too_little_data_and_cancellation_are_reported() {
    let (mut data, _, _) = shop(30_000);
    let none = BTreeMap::new();
    let params = [("train_window_days", "8")];
    let cancelled = train(
        &RankTrainer,
        Function::Rank,
        "tf_checkpoint",
        &data,
        &params,
        (&none, &BTreeMap::new()),
        &mut CancelAt(40),
    );
    assert!(
        matches!(cancelled, Err(TrainError::Cancelled)),
        "{cancelled:?}"
    );
    data.events
        .retain(|e| e.bhv_type != "click" && e.bhv_type != "cart" && e.bhv_type != "buy");
    let err = train(
        &RankTrainer,
        Function::Rank,
        "tf_checkpoint",
        &data,
        &params,
        (&none, &BTreeMap::new()),
        &mut Quiet,
    )
    .unwrap_err();
    assert!(err.to_string().contains("clicks: 0 of 100 needed"), "{err}");
}
