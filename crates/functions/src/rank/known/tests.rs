//! The served rows against the trainer's path on hand-made generators of every part, items and requests.

use std::collections::BTreeMap;

use algocenter_domain::feature_generator::specs;
use algocenter_domain::resource::{Feature, Generator};
use serde_json::{Map, Value, json};

use crate::rank::encoding::{Encoding, model_value};
use crate::rank::facts::{ItemFacts, LoadedFacts, ServedFacts};
use crate::rank::features::{ClickMap, Generators, Row, Situation, text_key};
use crate::rank::gbdt::{Node, Tree};
use crate::rank::lambdarank::Ensemble;
use crate::rank::model::{Candidate, RankModel, Scored, Stored, StoredGenerator};

fn generator(kind: &str, inputs: &[(&str, &str)], options: &[(&str, &str)], n: usize) -> Generator {
    Generator {
        generator: kind.into(),
        features: inputs
            .iter()
            .map(|(name, t)| Feature {
                name: name.to_string(),
                feature_type: t.to_string(),
            })
            .collect(),
        output: format!("{kind}_{n}"),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Generators of the situation alone, of the item alone and of both, of every kind.
fn generators() -> Vec<Generator> {
    let q = ("system_raw_q_ultra", "user");
    let terms = ("system_raw_q_terms", "user");
    let title = ("title", "item");
    let mut all = vec![
        // The situation's.
        generator("id", &[("budget", "context")], &[], 0),
        generator("raw", &[("length", "query")], &[], 1),
        generator(
            "combo",
            &[("system_user_id", "user"), ("budget", "context")],
            &[],
            2,
        ),
        generator("raw", &[("level", "user")], &[], 3),
        // The item's.
        generator("raw", &[("price", "item")], &[], 4),
        generator("id", &[("category", "item")], &[], 5),
        generator("raw", &[("system_all_nid_ctr_7", "item")], &[], 6),
        generator("raw", &[("system_all_nid_pv_1", "item")], &[], 7),
        generator("id", &[("system_item_id", "item")], &[], 8),
        generator("combo", &[("price", "item"), ("category", "item")], &[], 9),
        generator(
            "combo",
            &[("system_all_nid_ipv_30", "item"), ("category", "item")],
            &[],
            10,
        ),
        // Both.
        generator("combo", &[q, ("system_item_id", "item")], &[], 11),
        generator(
            "combo",
            &[("system_user_id", "user"), ("category", "item")],
            &[],
            12,
        ),
        generator(
            "combo",
            &[("budget", "context"), ("price", "item")],
            &[],
            13,
        ),
        generator(
            "lookup",
            &[("system_query_score_decay", "item"), q],
            &[("combiner", "sum")],
            14,
        ),
        generator(
            "lookup",
            &[("system_qterm_ctr_decay", "item"), terms],
            &[("combiner", "max")],
            15,
        ),
        generator(
            "lookup",
            &[("system_qterm_ctr_decay", "item"), terms],
            &[("combiner", "mean")],
            16,
        ),
        generator(
            "sequence",
            &[("system_user_click_seq", "user"), ("category", "item")],
            &[],
            17,
        ),
        generator(
            "sequence",
            &[
                ("system_user_click_seq", "user"),
                ("system_item_id", "item"),
            ],
            &[],
            18,
        ),
    ];
    for (n, method) in [
        "query_common_ratio",
        "title_common_ratio",
        "is_contain",
        "is_equal",
        "common_word",
        "diff_word",
    ]
    .into_iter()
    .enumerate()
    {
        all.push(generator(
            "overlap",
            &[q, title],
            &[("method", method)],
            20 + n,
        ));
        // The same methods on other inputs: each pair of inputs has its own intersection.
        all.push(generator(
            "overlap",
            &[terms, ("brand", "item")],
            &[("method", method)],
            30 + n,
        ));
    }
    all
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn served_facts() -> ServedFacts {
    let mut facts = ServedFacts::default();
    let item = |pv: f32, maps: Vec<(ClickMap, u64, f32)>| ItemFacts {
        counters: [[pv, pv * 3.0, pv * 9.0], [1.0, 2.0, 5.0], [0.1, 0.2, 0.3]],
        has_map: !maps.is_empty(),
        maps,
    };
    let mut maps = vec![
        (ClickMap::QueryScore, text_key("red dress"), 0.25),
        (ClickMap::TermCtr, text_key("red"), 0.5),
        (ClickMap::TermCtr, text_key("dress"), 0.125),
    ];
    maps.sort_by_key(|&(m, k, _)| (m as u8, k));
    facts.items.insert("i1".into(), item(4.0, maps));
    facts.items.insert("i2".into(), item(7.0, Vec::new()));
    let attributes = [
        (
            "i1",
            json!({"title": "Red Summer Dress", "price": 120, "category": "dress", "brand": "red acme"}),
        ),
        (
            "i2",
            json!({"title": "Blue Jeans", "price": "35.5", "category": "jeans", "brand": "zed"}),
        ),
        // Known by its attributes only: no system features.
        (
            "i3",
            json!({"title": "red dress", "price": 80, "category": "dress"}),
        ),
    ];
    for (id, a) in attributes {
        facts.item_attributes.insert(id.into(), a.to_string());
    }
    facts
        .user_attributes
        .insert("u1".into(), json!({"level": 3}).to_string());
    facts
        .clicks
        .insert("u1".into(), vec!["i2".into(), "i1".into(), "i3".into()]);
    facts
}

/// The trainer's path: every generator computed for the example, then each column as the model reads it.
fn trainer_row(
    generators: &Generators,
    encodings: &[Option<Encoding>],
    facts: &LoadedFacts,
    situation: &Situation<'_>,
    candidate: &Candidate<'_>,
) -> (Row, Vec<f32>) {
    let side = generators.situation_side(situation, facts);
    let item = generators.item_side(candidate.id, candidate.attributes, facts);
    let mut row = Row::default();
    generators.compute((situation, &side), (candidate.id, &item), facts, &mut row);
    let values = (0..generators.columns())
        .map(|c| model_value(&row, encodings, c))
        .collect();
    (row, values)
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn served_rows_equal_the_trainers_for_every_part_item_and_request() {
    let stored: Vec<StoredGenerator> = generators().iter().map(StoredGenerator::from).collect();
    let generators = Generators::new(specs(&generators()).unwrap());
    let trainer_facts = LoadedFacts::new(served_facts());
    let given =
        object(json!({"title": "red dress", "price": 9, "category": "jeans", "brand": "acme"}));
    let candidates = [
        Candidate {
            id: "i1",
            attributes: None,
        },
        Candidate {
            id: "i2",
            attributes: None,
        },
        Candidate {
            id: "i3",
            attributes: None,
        },
        // Known, with the request's attributes; unknown, with and without.
        Candidate {
            id: "i1",
            attributes: Some(&given),
        },
        Candidate {
            id: "new",
            attributes: Some(&given),
        },
        Candidate {
            id: "new",
            attributes: None,
        },
    ];
    let low = vec![("budget".to_string(), "low".to_string())];
    let situations = [
        Situation {
            user: "u1",
            query: "Red Dress",
            context: &low,
        },
        Situation {
            user: "u2",
            query: "blue red jeans",
            context: &[],
        },
        Situation {
            user: "",
            query: "",
            context: &low,
        },
    ];
    // Encodings of every categorical column, from half the keys the examples have (the others get the prior).
    let mut encodings: Vec<Option<Encoding>> = vec![None; generators.columns()];
    for situation in &situations {
        for candidate in &candidates {
            let (row, _) = trainer_row(
                &generators,
                &encodings,
                &trainer_facts,
                situation,
                candidate,
            );
            for c in (0..generators.columns()).filter(|&c| generators.is_categorical(c)) {
                let e = encodings[c].get_or_insert_with(|| Encoding {
                    prior: 0.5,
                    ..Default::default()
                });
                for &k in row.keys[c].iter().filter(|k| *k % 2 == 0) {
                    let n = e.values.len() as f32;
                    e.values.insert(k, 1.0 + n / 8.0);
                }
            }
        }
    }
    let model = RankModel::from_stored(Stored {
        generators: stored,
        encodings: encodings.clone(),
        ensemble: Ensemble::default(),
        facts: served_facts(),
        ctr: None,
    })
    .unwrap();
    for id in ["i1", "i2", "i3"] {
        assert!(model.knows_item(id), "{id}");
    }
    assert!(!model.knows_item("new"));

    let columns = model.columns().to_vec();
    let mut seen = vec![false; columns.len()];
    for situation in &situations {
        let served = model.score(situation, &candidates, Some(1));
        for (candidate, scored) in candidates.iter().zip(&served) {
            let (_, expected) = trainer_row(
                &generators,
                &encodings,
                &trainer_facts,
                situation,
                candidate,
            );
            let values = &scored.explanation.as_ref().unwrap().values;
            assert_eq!(values.len(), expected.len());
            for (c, ((name, got), want)) in values.iter().zip(&expected).enumerate() {
                assert_eq!(name, &columns[c]);
                assert!(
                    same(*got, *want),
                    "{name} of {} ({:?}) for {:?}: served {got}, trainer {want}",
                    candidate.id,
                    candidate.attributes.is_some(),
                    situation.query,
                );
                seen[c] |= !want.is_nan();
            }
        }
    }
    // Every column had a value somewhere: no generator passed by being missing everywhere.
    let never: Vec<&String> = columns
        .iter()
        .zip(&seen)
        .filter(|(_, s)| !**s)
        .map(|(n, _)| n)
        .collect();
    assert!(never.is_empty(), "never computed: {never:?}");

    // Scored without an explanation, only the generators the trees read are resolved and computed: the same
    // scores. A tree on one column sends a candidate right when its value is above one seen, and left when the
    // column was not computed (NaN), so a generator (or a situation input) skipped wrongly changes a score.
    let crossing: Vec<usize> = (0..generators.columns()).collect();
    let explained: Vec<Vec<Scored>> = situations
        .iter()
        .map(|s| model.score(s, &candidates, Some(1)))
        .collect();
    let value = |c: usize| {
        explained
            .iter()
            .flatten()
            .map(|s| s.explanation.as_ref().unwrap().values[c].1)
            .filter(|v| !v.is_nan())
            .fold(f32::INFINITY, f32::min)
    };
    for &c in &crossing {
        let leaf = |value: f32| Node {
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
            value,
            gain: 0.0,
        };
        let split = Node {
            feature: c as u32,
            threshold: value(c) - 1.0,
            left: 1,
            right: 2,
            value: 0.0,
            gain: 1.0,
        };
        let mut ensemble = Ensemble::default();
        ensemble.trees.push(Tree {
            nodes: vec![split, leaf(0.0), leaf(1.0)],
        });
        let model = RankModel::from_stored(Stored {
            generators: generators_stored(),
            encodings: encodings.clone(),
            ensemble,
            facts: served_facts(),
            ctr: None,
        })
        .unwrap();
        let mut right = 0;
        for situation in &situations {
            let lazy = model.score(situation, &candidates, None);
            let full = model.score(situation, &candidates, Some(1));
            for (l, f) in lazy.iter().zip(&full) {
                assert_eq!(l.score, f.score, "{}", columns[c]);
                right += usize::from(l.score == 1.0);
            }
        }
        assert!(
            right > 0,
            "{}: no candidate reached the right leaf",
            columns[c]
        );
    }
}

fn generators_stored() -> Vec<StoredGenerator> {
    generators().iter().map(StoredGenerator::from).collect()
}
