//! Retrieval with a real BM25 engine. The harness ([`search_index`]) first: the DSL translation on documents
//! small enough to know every answer.

mod search_index;

use std::sync::Arc;

use search_index::{Analyzer, SearchIndex, jieba_with_dictionary, recall};
use serde_json::{Value, json};

// The translation itself, on documents small enough to know every answer.

/// Lower-cased words split on white space.
fn words() -> Analyzer {
    Arc::new(|text: &str| text.split_whitespace().map(str::to_lowercase).collect())
}

fn tiny(documents: &[(&str, &str, &str)]) -> SearchIndex {
    let documents = documents.iter().map(|(id, title, brand)| {
        (
            id.to_string(),
            vec![("title", title.to_string()), ("brand", brand.to_string())],
        )
    });
    SearchIndex::build(&["title", "brand"], words(), documents).unwrap()
}

fn ids(found: &[&str]) -> Vec<String> {
    found.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_bool_requires_its_must_clauses_and_ranks_by_its_should_clauses() {
    let index = tiny(&[
        ("ab", "red shoe", "acme"),
        ("ac", "red shoe cheap", "acme"),
        ("bc", "blue shoe cheap", "acme"),
    ]);
    assert_eq!(index.len(), 3);
    let query = json!({"bool": {
        "must": [{"match": {"title": "red"}}],
        "should": [{"match": {"title": {"query": "cheap", "boost": 2.0}}}],
        "minimum_should_match": 0}});
    assert_eq!(index.search(&query, 10).unwrap(), ids(&["ac", "ab"]));
    // Should clauses alone: at least one must match, unless a count asks for more.
    let should =
        json!({"bool": {"should": [{"match": {"title": "red"}}, {"match": {"title": "cheap"}}]}});
    assert_eq!(index.count(&should).unwrap(), 3);
    let both = json!({"bool": {"should": [{"match": {"title": "red"}}, {"match": {"title": "cheap"}}],
        "minimum_should_match": "100%"}});
    assert_eq!(index.search(&both, 10).unwrap(), ids(&["ac"]));
    let not = json!({"bool": {"must_not": [{"term": {"title": "blue"}}]}});
    assert_eq!(index.count(&not).unwrap(), 2);
}

#[test]
fn match_operators_phrases_and_field_boosts_behave_as_elasticsearch_says() {
    let index = tiny(&[
        ("1", "air max runner", "nike"),
        ("2", "max air cushion", "nike"),
        ("3", "nike air", "other"),
    ]);
    let and = json!({"match": {"title": {"query": "air max", "operator": "and"}}});
    assert_eq!(index.count(&and).unwrap(), 2);
    let or = json!({"match": {"title": "air max"}});
    assert_eq!(index.count(&or).unwrap(), 3);
    let phrase = json!({"multi_match": {"query": "air max", "fields": ["title", "brand"], "type": "phrase"}});
    assert_eq!(index.search(&phrase, 10).unwrap(), ids(&["1"]));
    // "nike" is in the brand of 1 and 2 and in the title of 3: a title boost puts 3 first, a brand boost last.
    let on = |fields: Value| json!({"multi_match": {"query": "nike", "fields": fields}});
    assert_eq!(
        index.search(&on(json!(["title^3", "brand"])), 1).unwrap(),
        ids(&["3"])
    );
    assert_ne!(
        index.search(&on(json!(["title", "brand^3"])), 3).unwrap()[0],
        "3"
    );
}

#[test]
fn a_clause_or_option_the_translation_does_not_know_is_an_error() {
    let index = tiny(&[("1", "red shoe", "acme")]);
    for dsl in [
        json!({"fuzzy": {"title": "red"}}),
        json!({"match": {"title": {"query": "red", "fuzziness": "AUTO"}}}),
        json!({"match": {"colour": "red"}}),
        json!({"bool": {"should": [{"match": {"title": "red"}}], "minimum_should_match": "many"}}),
    ] {
        assert!(index.search(&dsl, 10).is_err(), "{dsl}");
    }
}

#[test]
fn the_jieba_analyzer_keeps_a_dictionary_word_whole() {
    let analyzer = jieba_with_dictionary("蓝牙耳机 1000 n\n").unwrap();
    assert_eq!(analyzer("Sony蓝牙耳机!"), vec!["sony", "蓝牙耳机"]);
    assert_eq!(recall(&ids(&["a", "b"]), &ids(&["b", "c"])), 0.5);
    assert_eq!(recall(&ids(&["a"]), &[]), 0.0);
}
