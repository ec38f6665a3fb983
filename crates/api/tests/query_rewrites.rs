//! `synonym` and `correction` end to end over HTTP: generated searches whose users type synonyms and misspell,
//! both functions trained through the function API with intervention dictionaries, served by predict, and the
//! synonyms exported as a Solr synonym file.

use algocenter_domain::document::DocumentKind;
use algocenter_domain::now_ms;
use algocenter_functions::Trainers;
use algocenter_generator::{GeneratorConfig, Lexicon, World, document_record, push_record};
use algocenter_testkit::{Answer, AppOptions, TestApp, spawn_app};
use serde_json::{Value, json};

const BULK: &str = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type";
const FUNCTIONS: &str = "/v4/openapi/app-groups/shop/functions";

/// A server with the app group `shop` holding a generated world whose users type synonyms and misspell.
async fn shop() -> TestApp {
    let server = spawn_app(AppOptions::training(Trainers::builtin(), 2)).await;
    server.create_app("shop").await;
    let world = World::new(GeneratorConfig {
        end_ms: now_ms(),
        days: 10,
        searches: 16_000,
        users: 800,
        items: 600,
        queries: 2_000,
        lexicon: Lexicon::SHOP,
        ..GeneratorConfig::default()
    });
    let items: Vec<Value> = world
        .item_documents()
        .map(|d| document_record(DocumentKind::Item, &d))
        .collect();
    let answer = server
        .call(
            "POST",
            &format!("{BULK}/item_info/actions/bulk"),
            Some(&Value::Array(items).to_string()),
        )
        .await;
    assert_eq!(answer.body["stored"], 600, "{}", answer.body);
    let mut events = Vec::new();
    world.events(&mut |e, _| {
        // Exposures are most of the volume and neither function reads them.
        if e.bhv_type != "expose" {
            events.push(push_record(e));
        }
    });
    for chunk in events.chunks(4000) {
        let body = Value::Array(chunk.to_vec()).to_string();
        let answer = server
            .call(
                "POST",
                &format!("{BULK}/behavior/actions/bulk"),
                Some(&body),
            )
            .await;
        assert_eq!(answer.body["status"], "OK", "{}", answer.body);
    }
    server
}

async fn resource(server: &TestApp, function: &str, name: &str, content: &str) {
    let body =
        json!({"resourceName": name, "resourceType": "raw_file", "data": {"content": content}});
    server
        .call(
            "POST",
            &format!("{FUNCTIONS}/{function}/resources"),
            Some(&body.to_string()),
        )
        .await
        .assert_ok();
}

/// Creates an instance, runs its first task, and returns its metrics.
async fn predict(server: &TestApp, function: &str, instance: &str, queries: &[&str]) -> Answer {
    server
        .call(
            "POST",
            &format!("{FUNCTIONS}/{function}/instances/{instance}/predict"),
            Some(&json!({ "queries": queries }).to_string()),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correction_and_synonym_train_serve_and_honour_their_dictionaries() {
    let server = shop().await;

    // correction: typos, a homophone, pinyin, the dictionary; right queries stand.
    resource(
        &server,
        "correction",
        "fixes",
        "iphone15\tiphone 15\nnever\tsneakerz\n",
    )
    .await;
    let metrics = server
        .create_and_train(
            "shop",
            "correction",
            &json!({"instanceName": "fix", "modelType": "offline_inference",
               "createParameters": [{"name": "intervention_dict", "value": "fixes"}]}),
        )
        .await;
    assert!(
        metrics["false_correction_rate"].as_f64().unwrap() <= 0.01,
        "{metrics}"
    );
    assert!(metrics["holdout_pairs"].as_u64().unwrap() > 0, "{metrics}");
    let answer = predict(
        &server,
        "correction",
        "fix",
        &[
            "Snaekers",
            "sneakers",
            "连衣群",
            "lianyiqun",
            "iphone15",
            "sneakerz",
            "snxakxrs",
        ],
    )
    .await;
    answer.assert_ok();
    let result = &answer.body["Result"];
    assert_eq!(result["InstanceName"], "fix");
    assert_eq!(result["Generation"], "1");
    let found: Vec<(Value, Value)> = result["Corrections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["CorrectedQuery"].clone(), c["CorrectionLevel"].clone()))
        .collect();
    let expected = [
        (json!("sneakers"), json!(1)),
        (json!(null), json!(0)),
        (json!("连衣裙"), json!(1)),
        (json!("连衣裙"), json!(1)),
        (json!("iphone 15"), json!(1)),
        (json!(null), json!(0)),
        (json!("sneakers"), json!(2)),
    ];
    assert_eq!(found, expected, "{result}");
    assert_eq!(result["Corrections"][4]["Source"], "dictionary");
    // Without did-you-mean, a level-2 correction is not answered.
    server
        .call(
            "PUT",
            &format!("{FUNCTIONS}/correction/instances/fix"),
            Some(r#"{"usageParameters":[{"name":"did_you_mean","value":"false"}]}"#),
        )
        .await
        .assert_ok();
    let answer = predict(&server, "correction", "fix", &["snxakxrs"]).await;
    assert_eq!(
        answer.body["Result"]["Corrections"][0]["CorrectionLevel"],
        0
    );

    // synonym: a blocked pair is never served, an enabled one always.
    resource(
        &server,
        "synonym",
        "rules",
        "trainers\tsneakers\tblocked\nkicks\tsneakers\tenabled\n",
    )
    .await;
    let untrained = json!({"instanceName": "syn", "modelType": "offline_inference",
                           "createParameters": [{"name": "intervention_dict", "value": "rules"}]});
    let metrics = server.create_and_train("shop", "synonym", &untrained).await;
    assert!(metrics["pairs"].as_u64().unwrap() > 20, "{metrics}");
    assert!(metrics["holdout_precision"].is_number(), "{metrics}");
    let answer = predict(
        &server,
        "synonym",
        "syn",
        &["Acme Sneakers", "红色 球鞋", "zzz"],
    )
    .await;
    answer.assert_ok();
    let expansions = answer.body["Result"]["Expansions"]
        .as_array()
        .unwrap()
        .clone();
    let first = &expansions[0];
    assert_eq!(first["NormalizedQuery"], "acme sneakers");
    let term = &first["Terms"][0];
    assert_eq!(
        (&term["Term"], &term["Start"], &term["End"]),
        (&json!("sneakers"), &json!(5), &json!(13))
    );
    let texts: Vec<&str> = term["Synonyms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Text"].as_str().unwrap())
        .collect();
    assert_eq!(texts[0], "kicks", "intervened first: {texts:?}");
    assert!(
        texts.contains(&"运动鞋") && !texts.contains(&"trainers"),
        "{texts:?}"
    );
    let chinese = &expansions[1]["Terms"][0];
    assert_eq!(chinese["Term"], "球鞋");
    assert!(
        chinese["Synonyms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["Text"] == "运动鞋"),
        "{chinese}"
    );
    assert_eq!(expansions[2]["Terms"], json!([]));

    // The pairs as a Solr / Elasticsearch synonym file.
    let path = format!("{FUNCTIONS}/synonym/instances/syn/dictionary?format=solr");
    let (status, content_type, text) = server.get_text(&path, true).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(
        text.starts_with("# synonyms of instance syn generation 1"),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "kicks, sneakers"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == "sneakers, 运动鞋" || l == "运动鞋, sneakers"),
        "{text}"
    );
    assert!(!text.contains("trainers, sneakers") && !text.contains("sneakers, trainers"));
    for (path, code) in [
        (
            format!("{FUNCTIONS}/synonym/instances/syn/dictionary?format=ik"),
            "InvalidParameter",
        ),
        (
            format!("{FUNCTIONS}/correction/instances/fix/dictionary?format=solr"),
            "InvalidParameter",
        ),
        (
            format!("{FUNCTIONS}/synonym/instances/nobody/dictionary?format=solr"),
            "Instance.NotExist",
        ),
    ] {
        let answer = server.call("GET", &path, None).await;
        assert_eq!(answer.body["Code"], code, "{path}: {}", answer.body);
    }

    // In query analysis: a level-1 correction rewrites the query before the other stages, and the answer says so;
    // synonyms join the rewritten query as OR-groups, boosted below the word typed.
    server
        .call(
            "PUT",
            "/v4/openapi/app-groups/shop/query-analysis-rules/main",
            Some(&json!({"correction": "fix", "synonym": "syn", "fields": ["title"]}).to_string()),
        )
        .await
        .assert_ok();
    let answer = server
        .call(
            "GET",
            "/v3/openapi/apps/shop/query-analysis?query=Snaekers&rule=main",
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = &answer.body["result"];
    assert_eq!(result["corrected"], "sneakers", "{result}");
    assert_eq!(result["offsets_in"], "corrected", "{result}");
    assert_eq!(
        result["query_correction_info"][0],
        json!({"original_query": "Snaekers", "corrected_query": "sneakers", "correction_level": 1,
               "source": "spelling"})
    );
    let stages: Vec<&str> = result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["correction", "synonyms"], "{result}");
    let token = &result["tokens"][0];
    assert_eq!(token["token"], "sneakers", "{result}");
    let synonyms: Vec<&str> = token["synonyms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        synonyms.contains(&"运动鞋") && !synonyms.contains(&"trainers"),
        "{synonyms:?}"
    );
    let opensearch = result["rewritten"]["opensearch"].as_str().unwrap();
    assert!(
        opensearch.starts_with("(title:'sneakers' OR ") && opensearch.contains("title:'运动鞋'^50"),
        "{opensearch}"
    );
    assert_eq!(
        result["rewritten"]["dsl"]["bool"]["must"][0]["bool"]["minimum_should_match"],
        1
    );

    // A phrase the synonym instance knows is one token with its synonyms, though segmentation split it.
    let phrase = predict(&server, "synonym", "syn", &["running machine"]).await;
    let learned = &phrase.body["Result"]["Expansions"][0]["Terms"][0];
    assert_eq!(learned["Term"], "running machine", "{}", phrase.body);
    let answer = server
        .call(
            "GET",
            "/v3/openapi/apps/shop/query-analysis?query=Running%20Machine&rule=main",
            None,
        )
        .await;
    let result = &answer.body["result"];
    assert_eq!(result["offsets_in"], "query", "{result}");
    let tokens = result["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{result}");
    assert_eq!(
        (&tokens[0]["token"], &tokens[0]["start"], &tokens[0]["end"]),
        (&json!("running machine"), &json!(0), &json!(15))
    );
    assert_eq!(
        tokens[0]["synonyms"][0], learned["Synonyms"][0]["Text"],
        "{result}"
    );
    let opensearch = result["rewritten"]["opensearch"].as_str().unwrap();
    assert!(
        opensearch.starts_with("(title:\"running machine\" OR "),
        "{opensearch}"
    );

    // When a correction changes the query's length, the offsets still cut each token out of the text the answer's
    // `offsets_in` names: the corrected query (`iphone 15` has a space `iphone15` lacks, `连衣裙` is a third of
    // `lianyiqun`).
    for (sent, corrected) in [("iphone15", "iphone 15"), ("lianyiqun", "连衣裙")] {
        let answer = server
            .call(
                "GET",
                &format!("/v3/openapi/apps/shop/query-analysis?query={sent}&rule=main"),
                None,
            )
            .await;
        let result = &answer.body["result"];
        assert_eq!(
            (&result["corrected"], &result["offsets_in"]),
            (&json!(corrected), &json!("corrected")),
            "{result}"
        );
        let text: Vec<char> = corrected.chars().collect();
        let tokens = result["tokens"].as_array().unwrap();
        assert!(!tokens.is_empty(), "{result}");
        for token in tokens {
            let (start, end) = (
                token["start"].as_u64().unwrap() as usize,
                token["end"].as_u64().unwrap() as usize,
            );
            assert!(start < end && end <= text.len(), "{result}");
            let cut: String = text[start..end].iter().collect();
            assert_eq!(cut, token["token"].as_str().unwrap(), "{result}");
        }
    }

    // /metrics times each stage that ran in the four analyses above: the rule names no termweight or category
    // instance, so weights and categories never ran; the buckets resolve 0.1 ms steps up to 1 ms.
    let (status, _, text) = server.get_text("/metrics", false).await;
    assert_eq!(status, 200, "{text}");
    let sample = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    };
    let stage = |kind: &str, stage: &str| {
        sample(&format!(
            "algocenter_query_analysis_stage_seconds_{kind}{{stage=\"{stage}\"}}"
        ))
    };
    for ran in ["correction", "segmentation", "synonyms", "rewrite"] {
        assert_eq!(stage("count", ran), 4.0, "{ran}: {text}");
        assert!(stage("sum", ran) > 0.0, "{ran}: {text}");
    }
    for skipped in ["weights", "categories"] {
        assert_eq!(stage("count", skipped), 0.0, "{skipped}: {text}");
    }
    let bounds: Vec<f64> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("algocenter_query_analysis_stage_seconds_bucket{le=\"")?;
            let (le, labels) = rest.split_once('"')?;
            labels
                .starts_with(",stage=\"correction\"")
                .then(|| le.parse().ok())?
        })
        .collect();
    let resolved: Vec<&f64> = bounds
        .iter()
        .filter(|b| (0.000_1..=0.001).contains(*b))
        .collect();
    assert!(
        resolved.len() >= 10 && resolved.windows(2).all(|w| w[1] - w[0] <= 0.000_100_1),
        "{bounds:?}"
    );

    // Bad input answers an OpenSearch error, not a panic.
    let answer = server
        .call(
            "POST",
            &format!("{FUNCTIONS}/synonym/instances/syn/predict"),
            Some(r#"{"queries": "not a list"}"#),
        )
        .await;
    assert_eq!(
        (answer.status, answer.body["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );
}
