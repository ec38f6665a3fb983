//! `analyzer` and `termweight` on a generated shop whose truth is known (`algocenter_generator::query_analysis`):
//! learned words against the coined words and names, term weights against filler words. Retrieval with the
//! analysed, rewritten query is checked with a real search engine over the endpoint's answers in
//! `crates/api/tests/retrieval.rs`.

mod common;

use std::collections::HashSet;

use algocenter_domain::Function;
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::analyzer::{AnalyzerModel, AnalyzerTrainer, BaseAnalyzer, WordSource};
use algocenter_functions::termweight::{TermweightModel, TermweightTrainer, Thresholds};
use algocenter_generator::query_analysis::{FILLERS, QaConfig, QaWorld};
use common::{NOW, train};

fn world() -> (QaWorld, InMemoryData) {
    let world = QaWorld::new(QaConfig {
        end_ms: NOW,
        ..QaConfig::default()
    });
    let mut data = InMemoryData {
        items: world.item_documents().collect(),
        ..Default::default()
    };
    world.events(&mut |e| {
        if e.bhv_type != "expose" {
            data.events.push(e.clone());
        }
    });
    (world, data)
}

#[test]
fn learned_words_recover_the_coined_words_and_names() {
    let (_, data) = world();
    // No entity attributes: what the analyzer knows it learned from text alone.
    let trained = train(
        &AnalyzerTrainer,
        Function::Analyzer,
        "text",
        &data,
        &[("entity_fields", ""), ("category_field", "")],
        &[],
    )
    .unwrap();
    let model = AnalyzerModel::decode(&trained.artifact).unwrap();
    let learned: HashSet<&str> = model
        .words()
        .iter()
        .filter(|w| w.source == WordSource::Learned)
        .map(|w| w.text.as_str())
        .collect();
    let base = AnalyzerModel::base(BaseAnalyzer::ChineseGeneral);
    // The true words a general dictionary splits, and the names of several words.
    let truth: HashSet<&str> = QaWorld::true_words()
        .into_iter()
        .filter(|w| base.analyze(w).len() > 1)
        .chain(QaWorld::true_names())
        .collect();
    let found = truth.iter().filter(|w| learned.contains(*w)).count();
    let correct = learned.iter().filter(|w| truth.contains(*w)).count();
    let recall = found as f64 / truth.len() as f64;
    let precision = correct as f64 / learned.len().max(1) as f64;
    let mut missed: Vec<&&str> = truth.iter().filter(|w| !learned.contains(*w)).collect();
    missed.sort();
    let mut wrong: Vec<&&str> = learned.iter().filter(|w| !truth.contains(*w)).collect();
    wrong.sort();
    println!(
        "learned {} words; recall {recall:.3} ({found} of {}), precision {precision:.3}; missed {missed:?}; \
         not true {wrong:?}; metrics {:?}",
        learned.len(),
        truth.len(),
        trained.metrics
    );
    assert!(recall >= 0.9, "recall {recall}");
    assert!(precision >= 0.8, "precision {precision}");
    // Coined words are now one token, with offsets into the text as sent.
    let tokens = model.analyze("新款 云朵鞋");
    assert_eq!(
        tokens.last().map(|t| (t.text.as_str(), t.start, t.end)),
        Some(("云朵鞋", 3, 6))
    );
    let m = &trained.metrics;
    assert!(
        m["holdout_single_char_share"].as_f64() < m["holdout_single_char_share_base"].as_f64(),
        "{m:?}"
    );
}

#[test]
fn term_weights_beat_idf_and_filler_words_weigh_little() {
    let (world, data) = world();
    let trained = train(
        &TermweightTrainer,
        Function::Termweight,
        "tf_checkpoint",
        &data,
        &[("entity_fields", "brand,line,color")],
        &[],
    )
    .unwrap();
    let m = &trained.metrics;
    println!("termweight metrics {m:?}");
    let spearman = m["spearman"].as_f64().unwrap();
    let baseline = m["baseline_idf_spearman"].as_f64().unwrap();
    assert!(spearman > baseline + 0.1, "{spearman} vs IDF {baseline}");
    assert!(spearman > 0.5, "{spearman}");

    let model = TermweightModel::decode(&trained.artifact).unwrap();
    let thresholds = Thresholds {
        high: 0.6,
        low: 0.3,
    };
    let analyzer = model.analyzer();
    // Filler words get low weights, intent words high ones.
    let (mut filler, mut core) = (Vec::new(), Vec::new());
    for q in world.queries().iter().take(400) {
        let tokens = analyzer.analyze(&q.text);
        for (t, w) in tokens.iter().zip(model.weigh(&tokens, thresholds)) {
            if FILLERS.contains(&t.text.as_str()) {
                filler.push(w.weight);
            } else {
                core.push(w.weight);
            }
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    println!(
        "mean weight: fillers {} intent words {}",
        mean(&filler),
        mean(&core)
    );
    assert!(mean(&filler) < 0.3, "fillers {}", mean(&filler));
    assert!(mean(&core) > 0.6, "intent words {}", mean(&core));
}

/// Real English product searches (WANDS, 480 queries, `tests/data/wands/query.csv`, MIT licence beside it): the
/// English analyzer keeps every word of every query in some token, with offsets into the query as typed, and
/// learns names only from what repeats.
#[test]
fn real_english_queries_are_segmented_without_losing_words() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wands/query.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let queries: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(1))
        .collect();
    assert_eq!(queries.len(), 480);
    let mut data = InMemoryData::default();
    for (i, q) in queries.iter().enumerate() {
        for u in 0..3 {
            let at = NOW - 5 * DAY_MS + (i * 3 + u) as i64 * 1000;
            data.events.push(common::search(
                &format!("u{u}"),
                q,
                at,
                &format!("r{i}-{u}"),
            ));
        }
    }
    let trained = train(
        &AnalyzerTrainer,
        Function::Analyzer,
        "text",
        &data,
        &[("base_analyzer", "english")],
        &[],
    )
    .unwrap();
    let model = AnalyzerModel::decode(&trained.artifact).unwrap();
    let names: Vec<&str> = model
        .words()
        .iter()
        .filter(|w| w.source == WordSource::Learned)
        .map(|w| w.text.as_str())
        .collect();
    println!("learned from WANDS: {names:?}");
    // Repeated two-word product names (`coffee table`, `bunk bed`) and nothing from a single query.
    assert!(names.len() >= 3, "{names:?}");
    assert!(names.iter().all(|n| n.split(' ').count() >= 2), "{names:?}");
    for w in model.words() {
        assert!(w.count >= 5, "{w:?}");
    }
    for q in &queries {
        let tokens = model.analyze(q);
        let chars: Vec<char> = q.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if c.is_alphanumeric() {
                assert!(
                    tokens.iter().any(|t| t.start <= i && i < t.end),
                    "{q}: character {i} in no token {tokens:?}"
                );
            }
        }
    }
}
