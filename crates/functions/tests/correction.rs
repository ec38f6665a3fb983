//! `correction` on generated behaviour, against the generator's truth: misspellings of the last day never seen
//! before are corrected by a model that never saw that day; queries clicked as typed are left alone.

mod common;

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::DAY_MS;
use algocenter_functions::correction::{CorrectionModel, CorrectionTrainer, Level};
use algocenter_functions::query::normalise;
use algocenter_generator::{LexiconTruth, MisspellingKind};
use common::{NOW, before, generated_with_lexicon, train};

#[derive(Default, Debug)]
struct Counts {
    cases: u32,
    rewritten: u32,
    rewritten_right: u32,
    right_at_any_level: u32,
}

#[test]
fn held_out_misspellings_are_corrected_and_queries_clicked_as_typed_are_not() {
    let (_, data, truths) = generated_with_lexicon(120_000, 31);
    let last_day = NOW - DAY_MS;
    let trained_on = before(&data, last_day);
    let out = train(
        &CorrectionTrainer,
        Function::Correction,
        "offline_inference",
        &trained_on,
        &[],
        &[],
    )
    .unwrap();
    eprintln!("{}", serde_json::Value::Object(out.metrics.clone()));
    assert!(out.passed_quality_gate);
    let model = CorrectionModel::decode(&out.artifact).unwrap();

    let seen: HashSet<String> = trained_on
        .events
        .iter()
        .filter(|e| e.bhv_type == "search")
        .map(|e| normalise(&e.raw_query))
        .collect();
    let time_of: HashMap<&str, i64> = data
        .events
        .iter()
        .filter(|e| e.bhv_type == "search")
        .map(|e| (e.rn.as_str(), e.bhv_time_ms))
        .collect();
    let mut by_kind: HashMap<MisspellingKind, Counts> = HashMap::new();
    let mut typo_rns = HashSet::new();
    for truth in &truths {
        let LexiconTruth::Misspelling(m) = truth else {
            continue;
        };
        typo_rns.insert(m.typo_rn.as_str());
        if time_of[m.typo_rn.as_str()] < last_day || seen.contains(&normalise(&m.typo)) {
            continue;
        }
        let counts = by_kind.entry(m.kind).or_default();
        counts.cases += 1;
        let intended = normalise(&m.intended);
        if let Some(c) = model.correct(&m.typo) {
            let right = c.corrected == intended;
            counts.right_at_any_level += u32::from(right);
            if c.level == Level::Rewrite {
                counts.rewritten += 1;
                counts.rewritten_right += u32::from(right);
                if !right {
                    eprintln!("wrong: {} → {} (meant {intended})", m.typo, c.corrected);
                }
            }
        }
    }
    eprintln!("{by_kind:#?}");
    let total = |f: fn(&Counts) -> u32| by_kind.values().map(f).sum::<u32>();
    let (cases, rewritten, right) = (
        total(|c| c.cases),
        total(|c| c.rewritten),
        total(|c| c.rewritten_right),
    );
    let precision = f64::from(right) / f64::from(rewritten);
    let recall = f64::from(right) / f64::from(cases);
    let any = f64::from(total(|c| c.right_at_any_level)) / f64::from(cases);
    eprintln!(
        "{cases} held-out misspellings never seen: level-1 precision {precision:.3}, recall {recall:.3}, \
         recall at any level {any:.3}"
    );
    assert!(cases > 150, "{cases} cases");
    assert!(precision >= 0.9, "level-1 precision {precision}");
    assert!(recall >= 0.5, "level-1 recall {recall}");
    for kind in [MisspellingKind::Homophone, MisspellingKind::Pinyin] {
        let c = &by_kind[&kind];
        let recall = f64::from(c.rewritten_right) / f64::from(c.cases);
        assert!(c.cases >= 20 && recall >= 0.5, "{kind:?}: {c:?}");
    }

    // Every search of the last day clicked as typed (rare queries included) is right as it is.
    let clicked: HashSet<&str> = data
        .events
        .iter()
        .filter(|e| e.bhv_type == "click" && e.bhv_time_ms >= last_day)
        .map(|e| e.rn.as_str())
        .collect();
    let (mut searches, mut false_rewrites, mut false_suggestions) = (0u32, 0u32, 0u32);
    for e in data.events.iter().filter(|e| {
        e.bhv_type == "search"
            && e.bhv_time_ms >= last_day
            && clicked.contains(e.rn.as_str())
            && !typo_rns.contains(e.rn.as_str())
    }) {
        searches += 1;
        match model.correct(&e.raw_query).map(|c| c.level) {
            Some(Level::Rewrite) => {
                false_rewrites += 1;
                eprintln!(
                    "false correction of {:?}: {:?}",
                    e.raw_query,
                    model.correct(&e.raw_query)
                );
            }
            Some(Level::Suggest) => false_suggestions += 1,
            None => {}
        }
    }
    let false_rate = f64::from(false_rewrites) / f64::from(searches);
    eprintln!(
        "{searches} searches clicked as typed: {false_rewrites} rewritten ({false_rate:.4}), \
         {false_suggestions} given a suggestion"
    );
    assert!(searches > 3000);
    assert!(false_rate <= 0.01, "false corrections {false_rate}");

    // The trainer's own held-out figures, on the whole window: the corrections users made on the last day.
    let whole = train(
        &CorrectionTrainer,
        Function::Correction,
        "offline_inference",
        &data,
        &[],
        &[],
    )
    .unwrap();
    let m = &whole.metrics;
    eprintln!("{}", serde_json::Value::Object(m.clone()));
    let figure = |name: &str| {
        m[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: {}", m[name]))
    };
    assert!(figure("holdout_pairs_unseen") > 100.0);
    assert!(figure("precision_level1_unseen") >= 0.9);
    assert!(figure("recall_level1_unseen") >= 0.5);
    assert!(figure("false_correction_rate") <= 0.01);
    assert_eq!(m["quality_gate"], "passed");
}

#[test]
fn the_dictionary_rewrites_and_protects() {
    let (_, data, _) = generated_with_lexicon(20_000, 5);
    let dictionary = "# always\nsneakerz\tsneakers\nnever\tsnaekers\n";
    let out = train(
        &CorrectionTrainer,
        Function::Correction,
        "offline_inference",
        &data,
        &[("intervention_dict", "rules")],
        &[("intervention_dict", dictionary)],
    )
    .unwrap();
    let model = CorrectionModel::decode(&out.artifact).unwrap();
    let c = model.correct("Sneakerz").unwrap();
    assert_eq!(
        (c.corrected.as_str(), c.level),
        ("sneakers", Level::Rewrite)
    );
    assert_eq!(model.correct("snaekers"), None);
    assert_eq!(
        model.correct("snaekres").map(|c| c.corrected).as_deref(),
        Some("sneakers")
    );

    let bad = train(
        &CorrectionTrainer,
        Function::Correction,
        "offline_inference",
        &data,
        &[("intervention_dict", "rules")],
        &[("intervention_dict", "fine\tline\nno tab here\n")],
    )
    .unwrap_err();
    assert!(bad.to_string().contains("line 2"), "{bad}");
}
