//! `suggest` on generated behaviour: held-out MRR against the most-popular baseline, Chinese completion.

mod common;

use algocenter_domain::Function;
use algocenter_functions::query::normalise;
use algocenter_functions::suggest::{SuggestIndex, SuggestTrainer};
use common::{generated, train};

#[test]
fn suggest_ranks_held_out_queries_at_least_as_well_as_the_most_popular_completion() {
    let (_, data) = generated(150_000, 21);
    let out = train(
        &SuggestTrainer,
        Function::Suggest,
        "offline_inference",
        &data,
        &[],
        &[],
    )
    .unwrap();
    eprintln!("{}", serde_json::Value::Object(out.metrics.clone()));
    let mrr = out.metrics["mrr"].as_f64().unwrap();
    let baseline = out.metrics["baseline_most_popular_mrr"].as_f64().unwrap();
    assert!(mrr > 0.1, "MRR {mrr}");
    assert!(mrr >= baseline, "MRR {mrr} below the baseline's {baseline}");

    let index = SuggestIndex::decode(&out.artifact).unwrap();
    // Chinese, by characters and by pinyin.
    let by_char = index.suggest("连", 10);
    assert!(!by_char.is_empty());
    assert!(
        by_char.iter().all(|s| normalise(s).starts_with('连')),
        "{by_char:?}"
    );
    assert!(
        index
            .suggest("lianyiq", 10)
            .iter()
            .any(|s| s.contains("连衣裙"))
    );
    assert!(
        index
            .suggest("lyq", 10)
            .iter()
            .any(|s| s.contains("连衣裙"))
    );
    // A typo in an English prefix.
    let typo = index.suggest("sneakrs", 5);
    assert!(typo.iter().any(|s| s.contains("sneakers")), "{typo:?}");
}

#[test]
fn blacklisted_and_rare_queries_are_not_suggested() {
    let (_, data) = generated(30_000, 4);
    let out = train(
        &SuggestTrainer,
        Function::Suggest,
        "offline_inference",
        &data,
        &[("blacklist", "bl"), ("min_count", "3")],
        &[("blacklist", "连衣裙\n")],
    )
    .unwrap();
    let index = SuggestIndex::decode(&out.artifact).unwrap();
    assert!(
        !index
            .suggest("连衣", 30)
            .iter()
            .any(|s| normalise(s) == "连衣裙")
    );
    let all = SuggestIndex::decode(
        &train(
            &SuggestTrainer,
            Function::Suggest,
            "offline_inference",
            &data,
            &[("min_count", "1")],
            &[],
        )
        .unwrap()
        .artifact,
    )
    .unwrap();
    assert!(all.len() > index.len());
}
