//! `category` on generated behaviour whose query → category truth is known.

mod common;

use std::collections::HashMap;

use algocenter_domain::Function;
use algocenter_domain::data::DAY_MS;
use algocenter_functions::category::{CategoryModel, CategoryTrainer, Source};
use algocenter_functions::query::normalise;
use algocenter_generator::World;
use common::{NOW, generated, train};

#[test]
fn category_finds_the_true_category_of_known_and_unseen_queries() {
    let (world, data) = generated(150_000, 5);
    let out = train(
        &CategoryTrainer,
        Function::Category,
        "offline_inference",
        &data,
        &[],
        &[],
    )
    .unwrap();
    eprintln!("{}", serde_json::Value::Object(out.metrics.clone()));
    let model = CategoryModel::decode(&out.artifact).unwrap();
    let truth: HashMap<String, String> = world
        .queries()
        .iter()
        .map(|q| (normalise(&q.text), World::category_path(q.leaf)))
        .collect();

    // Clicks per query over the whole window, joined by rn as the trainer does.
    let mut query_of_rn: HashMap<&str, String> = HashMap::new();
    let mut clicks: HashMap<String, u32> = HashMap::new();
    for e in &data.events {
        match e.bhv_type.as_str() {
            "search" => {
                query_of_rn.insert(&e.rn, normalise(&e.raw_query));
            }
            "click" if e.bhv_time_ms >= NOW - 30 * DAY_MS => {
                if let Some(q) = query_of_rn.get(e.rn.as_str()) {
                    *clicks.entry(q.clone()).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    let accuracy = |queries: &[&String]| {
        let right = queries
            .iter()
            .filter(|q| {
                let p = model.predict(q, 1);
                p.categories.first().map(|c| &c.0) == truth.get(q.as_str())
            })
            .count();
        right as f64 / queries.len() as f64
    };

    let frequent: Vec<&String> = clicks
        .iter()
        .filter(|(_, n)| **n >= 20)
        .map(|(q, _)| q)
        .collect();
    assert!(
        frequent.len() >= 100,
        "{} queries with 20 clicks",
        frequent.len()
    );
    assert!(
        frequent
            .iter()
            .all(|q| model.predict(q, 1).source == Source::Clicks)
    );
    let a = accuracy(&frequent);
    eprintln!(
        "top-1 accuracy, ≥ 20 clicks: {a:.4} over {}",
        frequent.len()
    );
    assert!(a >= 0.9, "top-1 accuracy of queries with ≥ 20 clicks: {a}");

    // Queries of the world nobody searched: only the text model knows them.
    let searched: std::collections::HashSet<&String> = query_of_rn.values().collect();
    let unseen: Vec<&String> = truth
        .keys()
        .filter(|q| !searched.contains(q))
        .take(3000)
        .collect();
    assert!(unseen.len() >= 500, "{} unseen queries", unseen.len());
    assert!(
        unseen
            .iter()
            .all(|q| model.predict(q, 1).source != Source::Clicks)
    );
    let a = accuracy(&unseen);
    eprintln!(
        "top-1 accuracy, never searched: {a:.4} over {}",
        unseen.len()
    );
    assert!(a >= 0.6, "top-1 accuracy of queries never searched: {a}");

    for name in [
        "recall_at_3",
        "precision_at_1",
        "f1_at_1",
        "top1_accuracy_seen",
        "top1_accuracy_unseen",
    ] {
        let v = out.metrics[name].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{name} = {v}");
    }
    assert!(out.metrics["recall"].as_i64().unwrap() > 0);
}

#[test]
fn chinese_queries_get_their_category_from_characters() {
    let (_, data) = generated(20_000, 9);
    let out = train(
        &CategoryTrainer,
        Function::Category,
        "offline_inference",
        &data,
        &[],
        &[],
    )
    .unwrap();
    let model = CategoryModel::decode(&out.artifact).unwrap();
    // Never searched as such, but their words are in titles and category names.
    for (query, category) in [
        ("红色连衣裙", "女装>连衣裙"),
        ("无线 耳机", "数码>耳机"),
        ("有机咖啡豆", "食品>咖啡"),
    ] {
        let p = model.predict(query, 3);
        assert_eq!(p.categories[0].0, category, "{query}: {p:?}");
    }
}

#[test]
fn the_intervention_dictionary_applies_to_the_served_model() {
    let (_, data) = generated(20_000, 9);
    let out = train(
        &CategoryTrainer,
        Function::Category,
        "offline_inference",
        &data,
        &[("intervention_dict", "rules")],
        &[(
            "intervention_dict",
            "连衣裙\t食品>咖啡\t2\n连衣裙\t女装>连衣裙\t0\n",
        )],
    )
    .unwrap();
    let model = CategoryModel::decode(&out.artifact).unwrap();
    let p = model.predict("连衣裙", 3);
    assert_eq!(p.categories[0], ("食品>咖啡".to_string(), 1.0));
    assert!(p.categories.iter().all(|c| c.0 != "女装>连衣裙"));
    assert_eq!(out.metrics["intervention_queries"], 1);

    let bad = train(
        &CategoryTrainer,
        Function::Category,
        "offline_inference",
        &data,
        &[("intervention_dict", "rules")],
        &[("intervention_dict", "连衣裙\t食品>咖啡\tstrong\n")],
    )
    .unwrap_err();
    assert!(bad.to_string().contains("line 1"), "{bad}");
}
