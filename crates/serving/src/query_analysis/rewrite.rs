//! The analysed query rewritten for a search engine, over the rule's fields:
//!
//! * **OpenSearch query clause**: high- and mid-level terms are required (`AND`), low-level ones only rank
//!   (`RANK`, with a boost from their weight), stop words are left out:
//!   `title:'nova' AND title:'云朵鞋' RANK title:'cheap'^12`. Several fields become
//!   `(title:'nova' OR brand:'nova')`; a name of several words is a phrase (`title:"air max"`).
//! * **Query DSL** (Elasticsearch / OpenSearch): `{"bool": {"must": [multi_match per required term],
//!   "should": [multi_match per optional term, boosted by its weight; the predicted categories on the rule's
//!   category field (those scored 0.05 or more)], "minimum_should_match": 0}}`.
//!
//! Without weights every term is required. A query whose terms are all low keeps its heaviest one required, so
//! that the rewritten query never matches everything.
//!
//! A term with synonyms becomes an OR-group of the term and its synonyms, each synonym boosted by the synonym
//! instance's `boost` (0.5: half the word typed): `(title:'trainers' OR title:'sneakers'^50)`, and in the DSL a
//! `bool` whose `should` holds the term and its synonyms with `minimum_should_match: 1` (a required term), or
//! more `should` clauses (an optional one).

use algocenter_domain::query_rule::{RuleSpec, SearchField};
use serde_json::{Value, json};

use super::{AnalysedQuery, AnalysedToken, Level, Rewritten};

/// Categories scored below this are left out of the rewrite: they would only add noise.
const MIN_CATEGORY_SCORE: f32 = 0.05;

/// OpenSearch's boost range is 0..=99.
fn boost(weight: f32) -> u32 {
    (weight * 99.0).round().clamp(1.0, 99.0) as u32
}

/// A term as an OpenSearch query word: quotes cannot be escaped there, so they become spaces.
fn quoted(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c == '\'' || c == '"' { ' ' } else { c })
        .collect();
    // A name of several words is a phrase; a quote replaced by a space is not.
    if text.contains(' ') {
        format!("\"{}\"", clean.trim())
    } else {
        format!("'{clean}'")
    }
}

/// OpenSearch's boost of a word with none.
const DEFAULT_BOOST: u32 = 99;

/// `text` searched in each field, boosted by `term_boost` or else the field's boost; `scale` below 1 (a synonym)
/// scales that boost, or the default one, so that a synonym weighs less than the word typed in every field.
fn clause(fields: &[SearchField], text: &str, term_boost: Option<u32>, scale: f32) -> String {
    let one = |f: &SearchField| {
        let b = term_boost.or(f.boost);
        let b = if scale < 1.0 {
            let scaled = b.unwrap_or(DEFAULT_BOOST) as f32 * scale;
            Some(scaled.round().clamp(1.0, DEFAULT_BOOST as f32) as u32)
        } else {
            b
        };
        match b {
            Some(b) => format!("{}:{}^{b}", f.name, quoted(text)),
            None => format!("{}:{}", f.name, quoted(text)),
        }
    };
    match fields {
        [f] => one(f),
        _ => format!(
            "({})",
            fields.iter().map(one).collect::<Vec<_>>().join(" OR ")
        ),
    }
}

fn multi_match(fields: &[SearchField], text: &str, weight: Option<f32>) -> Value {
    let mut m = json!({
        "query": text,
        "fields": fields.iter().map(SearchField::as_text).collect::<Vec<_>>(),
    });
    if text.contains(' ') {
        m["type"] = json!("phrase");
    } else {
        m["operator"] = json!("and");
    }
    if let Some(w) = weight {
        m["boost"] = json!((f64::from(w) * 1000.0).round() / 1000.0);
    }
    json!({ "multi_match": m })
}

/// A term and its synonyms in OpenSearch's syntax: the term's clause, or an OR-group with the synonyms boosted.
fn term_clause(
    fields: &[SearchField],
    t: &AnalysedToken,
    weight: Option<f32>,
    synonym: f32,
) -> String {
    let own = clause(fields, &t.text, weight.map(boost), 1.0);
    if t.synonyms.is_empty() {
        return own;
    }
    let mut parts = vec![own];
    parts.extend(
        t.synonyms
            .iter()
            .map(|s| clause(fields, s, weight.map(boost), synonym)),
    );
    format!("({})", parts.join(" OR "))
}

/// The rewrite of an analysed query; `None` when it has no term left.
pub(super) fn rewrite(spec: &RuleSpec, query: &AnalysedQuery) -> Option<Rewritten> {
    let terms: Vec<&AnalysedToken> = query.tokens.iter().filter(|t| !t.stop_word).collect();
    if terms.is_empty() {
        return None;
    }
    let mut required: Vec<&AnalysedToken> = terms
        .iter()
        .copied()
        .filter(|t| t.level != Some(Level::Low))
        .collect();
    let mut optional: Vec<&AnalysedToken> = terms
        .iter()
        .copied()
        .filter(|t| t.level == Some(Level::Low))
        .collect();
    if required.is_empty() {
        let (heaviest, _) = optional.iter().enumerate().max_by(|a, b| {
            let w = |t: &AnalysedToken| t.weight.unwrap_or(0.0);
            w(a.1).total_cmp(&w(b.1)).then(b.0.cmp(&a.0))
        })?;
        required.push(optional.remove(heaviest));
    }
    let fields = &spec.fields;
    let synonym = query.synonym_boost.unwrap_or(1.0);
    let mut opensearch = required
        .iter()
        .map(|t| term_clause(fields, t, None, synonym))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut ranked: Vec<String> = optional
        .iter()
        .map(|t| term_clause(fields, t, Some(t.weight.unwrap_or(0.0)), synonym))
        .collect();
    let mut should: Vec<Value> = Vec::new();
    for t in &optional {
        let w = t.weight.unwrap_or(0.0).max(0.001);
        should.push(multi_match(fields, &t.text, Some(w)));
        should.extend(
            t.synonyms
                .iter()
                .map(|s| multi_match(fields, s, Some((w * synonym).max(0.001)))),
        );
    }
    if let Some(field) = &spec.category_field {
        for (category, score) in query
            .categories
            .iter()
            .filter(|c| c.1 >= MIN_CATEGORY_SCORE)
        {
            let target = [SearchField {
                name: field.clone(),
                boost: None,
            }];
            ranked.push(clause(&target, category, Some(boost(*score)), 1.0));
            should.push(json!({"match": {field: {
                "query": category,
                "operator": "and",
                "boost": (f64::from(*score) * 1000.0).round() / 1000.0,
            }}}));
        }
    }
    match ranked.len() {
        0 => {}
        1 => opensearch = format!("{opensearch} RANK {}", ranked[0]),
        _ => opensearch = format!("{opensearch} RANK ({})", ranked.join(" OR ")),
    }
    let must: Vec<Value> = required
        .iter()
        .map(|t| {
            if t.synonyms.is_empty() {
                return multi_match(fields, &t.text, None);
            }
            let mut any = vec![multi_match(fields, &t.text, None)];
            any.extend(
                t.synonyms
                    .iter()
                    .map(|s| multi_match(fields, s, Some(synonym))),
            );
            json!({"bool": {"should": any, "minimum_should_match": 1}})
        })
        .collect();
    let dsl = json!({"bool": {"must": must, "should": should, "minimum_should_match": 0}});
    Some(Rewritten { opensearch, dsl })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str, weight: f32, level: Level, stop_word: bool) -> AnalysedToken {
        AnalysedToken {
            text: text.into(),
            start: 0,
            end: 0,
            source: None,
            entity: None,
            weight: Some(weight),
            level: Some(level),
            stop_word,
            synonyms: Vec::new(),
        }
    }

    fn query(tokens: Vec<AnalysedToken>, categories: Vec<(String, f32)>) -> AnalysedQuery {
        AnalysedQuery {
            raw: String::new(),
            normalised: String::new(),
            corrected: None,
            correction: None,
            synonym_boost: None,
            tokens,
            categories,
            rewritten: None,
            stages: Vec::new(),
            timings: Vec::new(),
            rule: "r".into(),
        }
    }

    fn spec(fields: &[&str], category_field: Option<&str>) -> RuleSpec {
        RuleSpec {
            fields: fields
                .iter()
                .map(|f| SearchField::parse(f).unwrap())
                .collect(),
            category_field: category_field.map(str::to_string),
            ..RuleSpec::default()
        }
    }

    #[test]
    fn required_terms_and_optional_ones_ranked() {
        let q = query(
            vec![
                token("cheap", 0.1, Level::Low, false),
                token("air max", 0.9, Level::High, false),
                token("the", 0.0, Level::Low, true),
                token("shoe", 0.5, Level::Mid, false),
            ],
            vec![("鞋靴>运动鞋".into(), 0.8), ("家居>灯具".into(), 0.01)],
        );
        let r = rewrite(&spec(&["title"], Some("category")), &q).unwrap();
        assert_eq!(
            r.opensearch,
            "title:\"air max\" AND title:'shoe' RANK (title:'cheap'^10 OR category:'鞋靴>运动鞋'^79)"
        );
        let b = &r.dsl["bool"];
        assert_eq!(b["must"].as_array().unwrap().len(), 2);
        assert_eq!(b["must"][0]["multi_match"]["type"], "phrase");
        assert_eq!(b["must"][1]["multi_match"]["operator"], "and");
        assert_eq!(b["should"][0]["multi_match"]["query"], "cheap");
        assert_eq!(b["should"][1]["match"]["category"]["query"], "鞋靴>运动鞋");
        assert_eq!(b["minimum_should_match"], 0);
    }

    #[test]
    fn synonyms_make_or_groups_boosted_below_the_word_typed() {
        let mut trainers = token("trainers", 0.9, Level::High, false);
        trainers.synonyms = vec!["sneakers".into(), "运动鞋".into()];
        let mut cheap = token("cheap", 0.2, Level::Low, false);
        cheap.synonyms = vec!["budget".into()];
        let mut q = query(
            vec![token("acme", 0.6, Level::Mid, false), trainers, cheap],
            Vec::new(),
        );
        q.synonym_boost = Some(0.5);
        let r = rewrite(&spec(&["title"], None), &q).unwrap();
        assert_eq!(
            r.opensearch,
            "title:'acme' AND (title:'trainers' OR title:'sneakers'^50 OR title:'运动鞋'^50) \
             RANK (title:'cheap'^20 OR title:'budget'^10)"
        );
        let must = &r.dsl["bool"]["must"];
        assert_eq!(must[1]["bool"]["minimum_should_match"], 1);
        assert_eq!(
            must[1]["bool"]["should"][0]["multi_match"]["query"],
            "trainers"
        );
        assert_eq!(must[1]["bool"]["should"][1]["multi_match"]["boost"], 0.5);
        let should = r.dsl["bool"]["should"].as_array().unwrap();
        assert_eq!(should[1]["multi_match"]["query"], "budget");
        assert_eq!(should[1]["multi_match"]["boost"], 0.1);
    }

    #[test]
    fn a_synonym_weighs_less_than_the_word_typed_in_every_field() {
        let mut sneakers = token("sneakers", 0.9, Level::High, false);
        sneakers.synonyms = vec!["trainers".into()];
        let mut q = query(vec![sneakers], Vec::new());
        q.synonym_boost = Some(0.5);
        let r = rewrite(&spec(&["title^3", "brand"], None), &q).unwrap();
        assert_eq!(
            r.opensearch,
            "((title:'sneakers'^3 OR brand:'sneakers') OR (title:'trainers'^2 OR brand:'trainers'^50))"
        );
    }

    #[test]
    fn several_fields_and_a_query_of_low_terms_keeps_its_heaviest_required() {
        let q = query(
            vec![
                token("new", 0.1, Level::Low, false),
                token("men's", 0.2, Level::Low, false),
            ],
            Vec::new(),
        );
        let r = rewrite(&spec(&["title^3", "brand"], None), &q).unwrap();
        assert_eq!(
            r.opensearch,
            "(title:'men s'^3 OR brand:'men s') RANK (title:'new'^10 OR brand:'new'^10)"
        );
        assert_eq!(
            r.dsl["bool"]["must"][0]["multi_match"]["fields"],
            json!(["title^3", "brand"])
        );
        let only_stop = query(vec![token("the", 0.0, Level::Low, true)], Vec::new());
        assert!(rewrite(&spec(&["title"], None), &only_stop).is_none());
    }
}
