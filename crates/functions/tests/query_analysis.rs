//! `analyzer` and `termweight` on a generated shop whose truth is known (`algocenter_generator::query_analysis`):
//! learned words against the coined words and names, term weights against filler words, and retrieval with a
//! BM25 ranker over the items: the analysed, rewritten query against the raw query and against IDF weights.

mod common;

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::analyzer::{AnalyzerModel, AnalyzerTrainer, BaseAnalyzer, WordSource};
use algocenter_functions::termweight::{Level, TermweightModel, TermweightTrainer, Thresholds};
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

/// A BM25 ranker (k1 = 1.2, b = 0.75) over token lists.
struct Bm25 {
    docs: Vec<HashMap<String, u32>>,
    lengths: Vec<f64>,
    average: f64,
    df: HashMap<String, u32>,
}

impl Bm25 {
    fn new(docs: Vec<Vec<String>>) -> Self {
        let mut df: HashMap<String, u32> = HashMap::new();
        let lengths: Vec<f64> = docs.iter().map(|d| d.len() as f64).collect();
        let docs: Vec<HashMap<String, u32>> = docs
            .into_iter()
            .map(|d| {
                let mut tf = HashMap::new();
                for t in d {
                    *tf.entry(t).or_insert(0) += 1;
                }
                for t in tf.keys() {
                    *df.entry(t.clone()).or_insert(0) += 1;
                }
                tf
            })
            .collect();
        let average = lengths.iter().sum::<f64>() / lengths.len().max(1) as f64;
        Bm25 {
            docs,
            lengths,
            average,
            df,
        }
    }

    fn idf(&self, term: &str) -> f64 {
        let n = self.docs.len() as f64;
        let df = f64::from(self.df.get(term).copied().unwrap_or(0));
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// The best `k` documents holding every `required` term, ranked by the BM25 of every term times its weight
    /// (required terms weigh 1). Without required terms, any document holding a term qualifies (OR).
    fn search(&self, required: &[String], optional: &[(String, f64)], k: usize) -> Vec<usize> {
        let weighted: Vec<(&str, f64)> = required
            .iter()
            .map(|t| (t.as_str(), 1.0))
            .chain(optional.iter().map(|(t, w)| (t.as_str(), *w)))
            .collect();
        let mut scored: Vec<(f64, usize)> = Vec::new();
        for (d, tf) in self.docs.iter().enumerate() {
            if !required.iter().all(|t| tf.contains_key(t)) {
                continue;
            }
            let mut score = 0.0;
            let mut any = false;
            for (t, w) in &weighted {
                if let Some(&f) = tf.get(*t) {
                    any = true;
                    let f = f64::from(f);
                    let norm = 1.2 * (1.0 - 0.75 + 0.75 * self.lengths[d] / self.average);
                    score += w * self.idf(t) * f * 2.2 / (f + norm);
                }
            }
            if any {
                scored.push((score, d));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(k).map(|(_, d)| d).collect()
    }
}

#[test]
fn term_weights_beat_idf_and_the_rewritten_query_retrieves_more_clicked_items() {
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

    // Retrieval on the held-out day: recall@10 of clicked items.
    let base = AnalyzerModel::base(BaseAnalyzer::ChineseGeneral);
    let texts: Vec<&str> = world.items().iter().map(|i| i.title.as_str()).collect();
    let index_of = |a: &AnalyzerModel| {
        Bm25::new(
            texts
                .iter()
                .map(|t| a.analyze(t).into_iter().map(|t| t.text).collect())
                .collect(),
        )
    };
    let raw_index = index_of(&base);
    let index = index_of(analyzer);
    let item_of: HashMap<&str, usize> = world
        .items()
        .iter()
        .enumerate()
        .map(|(i, item)| (item.id.as_str(), i))
        .collect();
    let mut searches: HashMap<&str, (&str, Vec<usize>)> = HashMap::new();
    for e in &data.events {
        if e.bhv_time_ms < NOW - DAY_MS {
            continue;
        }
        match e.bhv_type.as_str() {
            "search" => {
                searches.insert(&e.rn, (&e.raw_query, Vec::new()));
            }
            "click" => {
                if let Some(s) = searches.get_mut(e.rn.as_str()) {
                    s.1.push(item_of[e.item_id.as_str()]);
                }
            }
            _ => {}
        }
    }
    let n = index.docs.len() as f32 + 1.0;
    let idf_weight = |t: &str| {
        let df = index.df.get(t).copied().unwrap_or(0) as f32;
        ((n / (df + 1.0)).ln() / n.ln()).clamp(0.0, 1.0)
    };
    let recall = |top: &[usize], clicked: &[usize]| {
        clicked.iter().filter(|c| top.contains(c)).count() as f64 / clicked.len() as f64
    };
    let (mut raw, mut idf, mut rewritten, mut count) = (0.0, 0.0, 0.0, 0);
    for (query, clicked) in searches.values().filter(|s| !s.1.is_empty()) {
        let raw_terms: Vec<(String, f64)> = base
            .analyze(query)
            .into_iter()
            .map(|t| (t.text, 1.0))
            .collect();
        raw += recall(&raw_index.search(&[], &raw_terms, 10), clicked);
        let tokens = analyzer.analyze(query);
        let split = |levels: Vec<(Level, f32, bool)>| {
            let mut required = Vec::new();
            let mut optional = Vec::new();
            for (t, (level, weight, stop)) in tokens.iter().zip(levels) {
                if stop {
                    continue;
                }
                if level == Level::Low {
                    optional.push((t.text.clone(), f64::from(weight)));
                } else {
                    required.push(t.text.clone());
                }
            }
            (required, optional)
        };
        let (required, optional) = split(
            model
                .weigh(&tokens, thresholds)
                .into_iter()
                .map(|w| (w.level, w.weight, w.stop_word))
                .collect(),
        );
        rewritten += recall(&index.search(&required, &optional, 10), clicked);
        let (required, optional) = split(
            tokens
                .iter()
                .map(|t| {
                    let w = idf_weight(&t.text);
                    (thresholds.level(w), w, false)
                })
                .collect(),
        );
        idf += recall(&index.search(&required, &optional, 10), clicked);
        count += 1;
    }
    let (raw, idf, rewritten) = (
        raw / count as f64,
        idf / count as f64,
        rewritten / count as f64,
    );
    println!(
        "recall@10 over {count} held-out searches: raw {raw:.4}, IDF weights {idf:.4}, rewritten {rewritten:.4}"
    );
    assert!(count > 500, "{count}");
    assert!(rewritten > raw + 0.02, "rewritten {rewritten} vs raw {raw}");
    assert!(rewritten > idf + 0.02, "rewritten {rewritten} vs IDF {idf}");
}

/// Real English product searches (WANDS, 480 queries, `shared/data/wands/query.csv` beside the checkout): the
/// English analyzer keeps every word of every query in some token, with offsets into the query as typed, and
/// learns names only from what repeats.
#[test]
fn real_english_queries_are_segmented_without_losing_words() {
    // `shared/` lies beside the checkout (a worktree may sit one folder deeper).
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/data/wands/query.csv"))
        .find(|p| p.exists())
        .expect("shared/data/wands/query.csv beside the checkout");
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
