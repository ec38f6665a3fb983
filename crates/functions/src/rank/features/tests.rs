//! Every generator kind and option on hand-made examples.

use std::collections::{BTreeMap, HashMap};

use algocenter_domain::feature_generator::specs;
use algocenter_domain::resource::{Feature, Generator};
use serde_json::{Value, json};

use super::*;

#[derive(Default)]
struct Known {
    items: HashMap<String, Map<String, Value>>,
    users: HashMap<String, Map<String, Value>>,
    counters: HashMap<(String, usize), [f64; 3]>,
    maps: HashMap<(String, u64), f64>,
    clicks: HashMap<String, Vec<String>>,
}

impl Facts for Known {
    fn counter(&self, item: &str, counter: Counter, days: usize) -> Option<f64> {
        self.counters
            .get(&(item.to_string(), days))
            .map(|c| c[counter as usize])
    }
    fn click_map(&self, item: &str, _map: ClickMap, key: u64) -> Option<f64> {
        self.maps.get(&(item.to_string(), key)).copied()
    }
    fn has_click_map(&self, item: &str) -> bool {
        self.maps.keys().any(|(i, _)| i == item)
    }
    fn sequence(&self, user: &str, _buys: bool) -> &[String] {
        self.clicks.get(user).map_or(&[], Vec::as_slice)
    }
    fn item_attribute(&self, item: &str, name: &str) -> Option<&Value> {
        self.items.get(item)?.get(name)
    }
    fn user_attribute(&self, user: &str, name: &str) -> Option<&Value> {
        self.users.get(user)?.get(name)
    }
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn known() -> Known {
    let mut k = Known::default();
    k.items.insert(
        "i1".into(),
        object(
            json!({"title": "Red Summer Dress", "price": 120, "brand": "acme",
            "category": "women>dress", "colour_score": "red:0.9\u{1d}blue:0.1",
            "embedding": [0.5, -1.0, 2.0]}),
        ),
    );
    k.items.insert(
        "i2".into(),
        object(json!({"title": "Blue Jeans", "price": "35.5", "brand": "zed", "category": "men>jeans"})),
    );
    k.users.insert(
        "u1".into(),
        object(json!({"segment": "gold", "budget": 100})),
    );
    k.counters.insert(("i1".into(), 1), [40.0, 4.0, 0.1]);
    k.maps.insert(("i1".into(), text_key("red dress")), 0.25);
    k.maps.insert(("i1".into(), text_key("red")), 0.5);
    k.maps.insert(("i1".into(), text_key("dress")), 0.3);
    k.clicks
        .insert("u1".into(), vec!["i2".into(), "i1".into(), "i2".into()]);
    k
}

fn generator(kind: &str, inputs: &[(&str, &str)], options: &[(&str, &str)]) -> Generator {
    Generator {
        generator: kind.into(),
        features: inputs
            .iter()
            .map(|(n, t)| Feature {
                name: n.to_string(),
                feature_type: t.to_string(),
            })
            .collect(),
        output: "out".into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// The row of one example: query "Red Dress", user u1, context device=ios.
fn row_of(g: Generator, item: &str, attributes: Option<Value>) -> Row {
    let facts = known();
    let generators = Generators::new(specs(&[g]).unwrap());
    let context = vec![
        ("device".to_string(), "ios".to_string()),
        ("hour".into(), "21".into()),
    ];
    let situation = Situation {
        user: "u1",
        query: "Red Dress",
        context: &context,
    };
    let s = generators.situation_side(&situation, &facts);
    let attributes = attributes.map(object);
    let i = generators.item_side(item, attributes.as_ref(), &facts);
    let mut row = Row::default();
    generators.compute((&situation, &s), (item, &i), &facts, &mut row);
    row
}

fn number(g: Generator, item: &str) -> f32 {
    row_of(g, item, None).numbers[0]
}

fn keys_of(g: Generator, item: &str) -> Vec<u64> {
    row_of(g, item, None).keys[0].clone()
}

#[test]
fn raw_reads_numbers_strings_and_dimensions() {
    assert_eq!(
        number(generator("raw", &[("price", "item")], &[]), "i1"),
        120.0
    );
    assert_eq!(
        number(generator("raw", &[("price", "item")], &[]), "i2"),
        35.5
    );
    assert!(number(generator("raw", &[("price", "item")], &[]), "nope").is_nan());
    assert!(
        number(generator("raw", &[("brand", "item")], &[]), "i1").is_nan(),
        "not a number"
    );
    let row = row_of(
        generator("raw", &[("embedding", "item")], &[("value_dimension", "3")]),
        "i1",
        None,
    );
    assert_eq!(row.numbers, [0.5, -1.0, 2.0]);
    assert_eq!(
        number(generator("raw", &[("budget", "user")], &[]), "i1"),
        100.0
    );
    assert_eq!(
        number(generator("raw", &[("hour", "context")], &[]), "i1"),
        21.0
    );
    assert_eq!(
        number(generator("raw", &[("length", "query")], &[]), "i1"),
        2.0
    );
    assert_eq!(
        number(
            generator("raw", &[("system_all_nid_pv_7", "item")], &[]),
            "i1"
        ),
        40.0
    );
    assert_eq!(
        number(
            generator("raw", &[("system_all_nid_ctr_7", "item")], &[]),
            "i1"
        ),
        0.1
    );
    assert!(
        number(
            generator("raw", &[("system_all_nid_ipv_30", "item")], &[]),
            "i1"
        )
        .is_nan()
    );
    // Attributes a request gives win over the known ones.
    let row = row_of(
        generator("raw", &[("price", "item")], &[]),
        "i1",
        Some(json!({"price": 99})),
    );
    assert_eq!(row.numbers[0], 99.0);
}

#[test]
fn id_and_combo_hash_values_and_cross_them() {
    let brand = generator("id", &[("brand", "item")], &[]);
    let a = keys_of(brand.clone(), "i1");
    assert_eq!(a.len(), 1);
    assert_ne!(a, keys_of(brand.clone(), "i2"));
    assert!(keys_of(brand, "nope").is_empty(), "missing value, no key");
    assert!(row_of(generator("id", &[("brand", "item")], &[]), "i1", None).numbers[0].is_nan());
    let ids = generator("id_feature", &[("system_item_id", "item")], &[]);
    assert_ne!(keys_of(ids.clone(), "i1"), keys_of(ids, "i2"));
    let combo = generator(
        "combo",
        &[("system_raw_q_ultra", "user"), ("system_item_id", "item")],
        &[],
    );
    let c1 = keys_of(combo.clone(), "i1");
    assert_eq!(c1.len(), 1);
    assert_ne!(c1, keys_of(combo, "i2"));
    // Terms × brand: one key per term.
    let terms = generator("combo", &[("terms", "query"), ("brand", "item")], &[]);
    assert_eq!(keys_of(terms, "i1").len(), 2);
    let context = generator("combo", &[("device", "context"), ("segment", "user")], &[]);
    assert_eq!(keys_of(context, "i1").len(), 1);
    let missing = generator("combo", &[("device", "context"), ("nothing", "user")], &[]);
    assert!(keys_of(missing, "i1").is_empty());
}

#[test]
fn lookup_finds_keys_and_combines_them() {
    let by_query = generator(
        "lookup",
        &[
            ("system_query_ctr_decay", "item"),
            ("system_raw_q_ultra", "user"),
        ],
        &[],
    );
    assert_eq!(number(by_query.clone(), "i1"), 0.25);
    assert!(number(by_query, "i2").is_nan(), "no click map: missing");
    let by_terms = |combiner: &str| {
        number(
            generator(
                "lookup",
                &[
                    ("system_qterm_ctr_decay", "item"),
                    ("system_raw_q_terms", "user"),
                ],
                &[("combiner", combiner)],
            ),
            "i1",
        )
    };
    assert!((by_terms("sum") - 0.8).abs() < 1e-6);
    assert!((by_terms("mean") - 0.4).abs() < 1e-6);
    assert_eq!(by_terms("max"), 0.5);
    assert_eq!(by_terms("min"), 0.3);
    // A map attribute of k:v values, looked up by the query's terms.
    let attribute = generator(
        "lookup",
        &[("colour_score", "item"), ("terms", "query")],
        &[],
    );
    assert!((number(attribute, "i1") - 0.9).abs() < 1e-6);
    let none = generator(
        "lookup",
        &[("colour_score", "item"), ("device", "context")],
        &[],
    );
    assert_eq!(number(none, "i1"), 0.0, "a map without the key: 0");
}

#[test]
fn overlap_methods() {
    let method = |m: &str, item: &str| {
        row_of(
            generator(
                "overlap",
                &[("raw", "query"), ("title", "item")],
                &[("method", m)],
            ),
            item,
            None,
        )
    };
    assert_eq!(method("query_common_ratio", "i1").numbers[0], 10.0);
    assert_eq!(method("query_common_ratio", "i2").numbers[0], 0.0);
    // Two of three title terms.
    assert_eq!(method("title_common_ratio", "i1").numbers[0], 66.0);
    assert_eq!(
        method("is_contain", "i1").numbers[0],
        0.0,
        "not in this order"
    );
    assert_eq!(method("is_equal", "i1").numbers[0], 0.0);
    let contain = row_of(
        generator(
            "overlap",
            &[("raw", "query"), ("title", "item")],
            &[("method", "is_contain")],
        ),
        "x",
        Some(json!({"title": "a red dress for summer"})),
    );
    assert_eq!(contain.numbers[0], 1.0);
    let equal = row_of(
        generator(
            "overlap",
            &[("raw", "query"), ("title", "item")],
            &[("method", "is_equal")],
        ),
        "x",
        Some(json!({"title": "RED dress"})),
    );
    assert_eq!(equal.numbers[0], 1.0);
    let common = method("common_word", "i1").keys[0].clone();
    assert_eq!(common.len(), 1);
    assert_ne!(common, method("common_word", "i2").keys[0]);
    assert_eq!(method("diff_word", "i2").keys[0].len(), 1);
    assert!(
        method("query_common_ratio", "nope").numbers[0].is_nan(),
        "no title"
    );
}

#[test]
fn sequence_counts_matches_in_the_recent_history() {
    let by_id = |len: &str| {
        number(
            generator(
                "sequence",
                &[
                    ("system_user_click_seq", "user"),
                    ("system_item_id", "item"),
                ],
                &[("sequence_length", len)],
            ),
            "i2",
        )
    };
    assert_eq!(by_id("50"), 2.0);
    assert_eq!(by_id("1"), 1.0, "only the most recent item");
    assert_eq!(by_id("2"), 1.0);
    let by_category = generator(
        "sequence",
        &[("system_user_click_seq", "user"), ("category", "item")],
        &[],
    );
    assert_eq!(number(by_category, "i1"), 1.0);
}

#[test]
fn columns_and_their_generators() {
    let gens = Generators::new(
        specs(&[
            generator("raw", &[("embedding", "item")], &[("value_dimension", "2")]),
            Generator {
                output: "b".into(),
                ..generator("id", &[("brand", "item")], &[])
            },
        ])
        .unwrap(),
    );
    assert_eq!(gens.column_names(), ["out_0", "out_1", "b"]);
    assert_eq!(gens.column_generator(1), 0);
    assert_eq!(gens.column_generator(2), 1);
    assert!(!gens.is_categorical(0));
    assert!(gens.is_categorical(2));
}
