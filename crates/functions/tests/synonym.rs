//! `synonym` on generated behaviour, against the generator's truth: the best pairs are true synonyms, blocked
//! pairs are never served, and the held-out judgement is reported next to the co-click baseline.

mod common;

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_functions::query::normalise;
use algocenter_functions::synonym::units::{Alignment, Vocabulary, join};
use algocenter_functions::synonym::{Clicks, SynonymModel, SynonymTrainer};
use algocenter_generator::synonym_groups;
use common::{generated_with_lexicon, train};

/// Each true word (normalised) and its group.
fn truth() -> HashMap<String, usize> {
    synonym_groups()
        .iter()
        .enumerate()
        .flat_map(|(g, words)| words.iter().map(move |w| (normalise(w), g)))
        .collect()
}

#[test]
fn the_best_pairs_are_true_synonyms() {
    let (_, data, _) = generated_with_lexicon(120_000, 41);
    let out = train(
        &SynonymTrainer,
        Function::Synonym,
        "offline_inference",
        &data,
        &[],
        &[],
    )
    .unwrap();
    eprintln!("{}", serde_json::Value::Object(out.metrics.clone()));
    assert!(out.passed_quality_gate);
    let model = SynonymModel::decode(&out.artifact).unwrap();
    let truth = truth();
    let same_group =
        |a: &str, b: &str| matches!((truth.get(a), truth.get(b)), (Some(x), Some(y)) if x == y);
    let top: Vec<_> = model.pairs().iter().take(100).collect();
    let right = top.iter().filter(|p| same_group(&p.a, &p.b)).count();
    for p in top.iter().filter(|p| !same_group(&p.a, &p.b)) {
        eprintln!("not a true pair: {p:?}");
    }
    let precision = right as f64 / top.len() as f64;
    let true_pairs: usize = synonym_groups()
        .iter()
        .map(|g| g.len() * (g.len() - 1) / 2)
        .sum();
    let found: HashSet<(String, String)> = model
        .pairs()
        .iter()
        .filter(|p| same_group(&p.a, &p.b))
        .map(|p| {
            if p.a < p.b {
                (p.a.clone(), p.b.clone())
            } else {
                (p.b.clone(), p.a.clone())
            }
        })
        .collect();
    let recall = found.len() as f64 / true_pairs as f64;
    eprintln!(
        "{} pairs; top {}: precision {precision:.3}; recall of the {true_pairs} true pairs {recall:.3}",
        model.pairs().len(),
        top.len()
    );
    assert!(top.len() >= 60, "{} pairs", top.len());
    assert!(precision >= 0.8, "precision {precision}");
    assert!(recall >= 0.5, "recall {recall}");

    // The co-click-cosine baseline on the same data: the best 100 pairs of whole queries by plain cosine, each
    // judged by what differs between its two queries. Queries that click the same items are mostly one query
    // with a brand or a colour more, not synonyms.
    let mut vocabulary = Vocabulary::default();
    for item in &data.items {
        for unit in Vocabulary::title_units(item.attributes["title"].as_str().unwrap()) {
            vocabulary.add(&unit);
        }
    }
    let query_of: HashMap<&str, String> = data
        .events
        .iter()
        .filter(|e| e.bhv_type == "search")
        .map(|e| (e.rn.as_str(), normalise(&e.raw_query)))
        .collect();
    let mut clicks: HashMap<String, Vec<(u32, f32)>> = HashMap::new();
    for e in data.events.iter().filter(|e| e.bhv_type == "click") {
        let item: u32 = e.item_id.trim_start_matches('i').parse().unwrap();
        clicks
            .entry(query_of[e.rn.as_str()].clone())
            .or_default()
            .push((item, 1.0));
    }
    let vectors: Vec<(String, Clicks)> = clicks
        .into_iter()
        .map(|(q, c)| (q, Clicks::from_counts(c)))
        .filter(|(_, c)| c.total() >= 5.0)
        .collect();
    let mut cosines: Vec<(f64, usize, usize)> = Vec::new();
    for i in 0..vectors.len() {
        for j in i + 1..vectors.len() {
            let cos = vectors[i].1.cosine(&vectors[j].1);
            if cos > 0.3 {
                cosines.push((cos, i, j));
            }
        }
    }
    cosines.sort_by(|a, b| b.0.total_cmp(&a.0));
    let baseline_right = cosines
        .iter()
        .take(100)
        .filter(|(_, i, j)| {
            let a = Alignment::of(
                &vocabulary.units(&vectors[*i].0),
                &vocabulary.units(&vectors[*j].0),
            );
            same_group(&join(&a.left), &join(&a.right))
        })
        .count();
    let baseline = baseline_right as f64 / 100.0;
    eprintln!("co-click cosine baseline: top 100 precision {baseline:.3}");
    assert!(precision > baseline);
}

#[test]
fn blocked_pairs_are_never_served_and_enabled_ones_always() {
    let (_, data, _) = generated_with_lexicon(30_000, 8);
    let dictionary = "# shop rules\ntrainers\tsneakers\tblocked\nkicks\tsneakers\tenabled\n";
    let out = train(
        &SynonymTrainer,
        Function::Synonym,
        "offline_inference",
        &data,
        &[("intervention_dict", "rules")],
        &[("intervention_dict", dictionary)],
    )
    .unwrap();
    let model = SynonymModel::decode(&out.artifact).unwrap();
    let texts = |term: &str| -> Vec<String> {
        model
            .synonyms_of(term)
            .iter()
            .map(|s| s.text.clone())
            .collect()
    };
    assert!(!texts("trainers").contains(&"sneakers".to_string()));
    assert!(!texts("sneakers").contains(&"trainers".to_string()));
    assert!(texts("sneakers").contains(&"kicks".to_string()));
    assert!(model.synonyms_of("kicks")[0].intervened);
    assert!(!model.solr(0.0).contains("sneakers, trainers"));
    // Other true pairs are still learned.
    assert!(
        texts("sneakers").contains(&"运动鞋".to_string()),
        "{:?}",
        texts("sneakers")
    );
}
