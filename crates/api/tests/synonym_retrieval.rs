//! Retrieval with synonyms on, with a real BM25 engine ([`search_index`]): does the query that the query-analysis
//! endpoint rewrites with a `synonym` instance find more of what users clicked than the same rule without it?
//!
//! A shop whose users and item titles use other words for a concept (the generator's `Lexicon::SHOP`: `trainers`
//! for `sneakers`, `球鞋` for `运动鞋`, …) is generated over ten days and a held-out eleventh; the ten are pushed
//! and `synonym` is trained on them over HTTP. The items are indexed in tantivy; each held-out search with clicks
//! is run as the `rewritten.dsl` the endpoint answers under a rule without synonyms and under the same rule with
//! them, and scored by recall@10 of its clicked items, averaged over all searches and over those the generator's
//! truth says were typed with another word of a synonym group (where synonyms matter; the others gain little,
//! since most titles hold the catalogue's English and Chinese names).

// The harness serves several checks; this one uses part of it.
#[allow(dead_code)]
mod search_index;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use algocenter_domain::data::DAY_MS;
use algocenter_domain::document::{DocumentKind, DocumentOp};
use algocenter_domain::now_ms;
use algocenter_functions::Trainers;
use algocenter_generator::{GeneratorConfig, Lexicon, LexiconTruth, World};
use algocenter_testkit::{AppOptions, TestApp, spawn_app, wait_until};
use search_index::{SearchIndex, jieba_with_dictionary, recall};
use serde_json::{Value, json};

const APP: &str = "shop";
const FUNCTIONS: &str = "/v4/openapi/app-groups/shop/functions";
const RULES: &str = "/v4/openapi/app-groups/shop/query-analysis-rules";
const K: usize = 10;

fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A held-out search: the query as typed, the items clicked after it, and whether the user typed another word
/// of a synonym group than the catalogue's (the generator's truth).
struct HeldOutSearch {
    query: String,
    clicked: Vec<String>,
    other_word: bool,
}

/// The world's items and the events before `cutoff_ms` stored in the app group; answers the searches after it.
async fn shop(server: &TestApp, world: &World, cutoff_ms: i64) -> Vec<HeldOutSearch> {
    server.create_app(APP).await;
    let store = server.store();
    let items = world.item_documents().map(DocumentOp::Add).collect();
    store
        .apply_documents(APP, DocumentKind::Item, items, now_ms())
        .await
        .unwrap();
    let (mut stored, mut held_out) = (Vec::new(), Vec::<HeldOutSearch>::new());
    let mut search_at: HashMap<String, usize> = HashMap::new();
    let mut other_words: HashSet<String> = HashSet::new();
    world.events_with_lexicon(
        &mut |e, _| match e.bhv_type.as_str() {
            // Exposures are most of the volume and synonym mining reads none.
            "expose" => {}
            "search" if e.bhv_time_ms >= cutoff_ms => {
                search_at.insert(e.rn.clone(), held_out.len());
                held_out.push(HeldOutSearch {
                    query: e.raw_query.clone(),
                    clicked: Vec::new(),
                    other_word: false,
                });
            }
            "click" if search_at.contains_key(&e.rn) => {
                held_out[search_at[&e.rn]].clicked.push(e.item_id.clone());
            }
            _ => stored.push(e.clone()),
        },
        &mut |truth| {
            if let LexiconTruth::Synonym(used) = truth {
                other_words.insert(used.rn);
            }
        },
    );
    for (rn, &i) in &search_at {
        held_out[i].other_word = other_words.contains(rn);
    }
    for chunk in stored.chunks(10_000) {
        store.append_events(APP, chunk.to_vec()).await.unwrap();
    }
    held_out.retain(|s| !s.clicked.is_empty());
    held_out
}

async fn analyse(server: &TestApp, query: &str, rule: &str) -> Value {
    let path = format!(
        "/v3/openapi/apps/{APP}/query-analysis?query={}&rule={rule}",
        encoded(query)
    );
    let answer = server.call("GET", &path, None).await;
    assert_eq!(answer.status, 200, "{query}: {}", answer.body);
    answer.body["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synonyms_in_the_rewritten_query_find_more_clicked_items() {
    let now = now_ms();
    let world = World::new(GeneratorConfig {
        end_ms: now + DAY_MS,
        days: 11,
        searches: 22_000,
        users: 800,
        items: 600,
        queries: 2_000,
        lexicon: Lexicon::SHOP,
        ..GeneratorConfig::default()
    });
    let server = spawn_app(AppOptions::training(Trainers::builtin(), 2)).await;
    let held_out = shop(&server, &world, now).await;

    let body = json!({"instanceName": "syn", "modelType": "offline_inference"});
    server
        .create_instance(APP, "synonym", &body.to_string())
        .await
        .assert_ok();
    server
        .call(
            "POST",
            &format!("{FUNCTIONS}/synonym/instances/syn/tasks"),
            None,
        )
        .await
        .assert_ok();
    let task = wait_until(
        "synonym to finish training",
        Duration::from_secs(300),
        || async {
            let answer = server
                .call(
                    "GET",
                    &format!("{FUNCTIONS}/synonym/instances/syn/tasks/1"),
                    None,
                )
                .await;
            let task = answer.assert_ok()["Result"].clone();
            (task["Status"] != "running").then_some(task)
        },
    )
    .await;
    assert_eq!(task["Status"], "success", "{task}");
    for (name, rule) in [
        ("plain", json!({"fields": ["title"]})),
        ("synonyms", json!({"synonym": "syn", "fields": ["title"]})),
    ] {
        server
            .call("PUT", &format!("{RULES}/{name}"), Some(&rule.to_string()))
            .await
            .assert_ok();
    }

    // Titles mix English and Chinese: the index splits Chinese as jieba does, English at spaces.
    let analyzer = jieba_with_dictionary("").unwrap();
    let documents = world.item_documents().map(|d| {
        let title = d.attributes.get("title").and_then(Value::as_str);
        (d.id, vec![("title", title.unwrap_or_default().to_string())])
    });
    let index = SearchIndex::build(&["title"], analyzer, documents).unwrap();

    // Recall@10 summed without and with synonyms: over all searches, and over those typed with another word.
    let (mut all, mut other) = ([0.0; 2], [0.0; 2]);
    let mut others = 0;
    let mut answers: HashMap<String, (Value, Value)> = HashMap::new();
    for search in &held_out {
        if !answers.contains_key(&search.query) {
            let answer = (
                analyse(&server, &search.query, "plain").await,
                analyse(&server, &search.query, "synonyms").await,
            );
            answers.insert(search.query.clone(), answer);
        }
        let (without, with) = &answers[&search.query];
        let run = |r: &Value| {
            let dsl = &r["rewritten"]["dsl"];
            if dsl.is_object() {
                index
                    .search(dsl, K)
                    .unwrap_or_else(|e| panic!("{e}: {dsl}"))
            } else {
                Vec::new()
            }
        };
        let found = [
            recall(&run(without), &search.clicked),
            recall(&run(with), &search.clicked),
        ];
        for (sum, r) in all.iter_mut().zip(found) {
            *sum += r;
        }
        if search.other_word {
            others += 1;
            for (sum, r) in other.iter_mut().zip(found) {
                *sum += r;
            }
        }
    }
    let n = held_out.len() as f64;
    let (plain, expanded) = (all[0] / n, all[1] / n);
    let m = f64::from(others.max(1));
    let (other_plain, other_expanded) = (other[0] / m, other[1] / m);
    println!(
        "recall@{K} over {} held-out searches: without synonyms {plain:.3}, with {expanded:.3}; over the {others} \
         typed with another word of a synonym group: without {other_plain:.3}, with {other_expanded:.3}",
        held_out.len()
    );
    assert!(
        held_out.len() > 500 && others > 50,
        "{} {others}",
        held_out.len()
    );
    assert!(
        expanded > plain,
        "with synonyms {expanded} vs without {plain}"
    );
    assert!(
        other_expanded > other_plain + 0.1,
        "typed with another word: with synonyms {other_expanded} vs without {other_plain}"
    );
}
