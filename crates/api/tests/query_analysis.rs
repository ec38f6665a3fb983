//! Query analysis end to end over HTTP: `analyzer`, `termweight` and `category` trained on a pushed shop, a
//! query-analysis rule naming them, and the analysis of Chinese and English queries on the data plane.

use algocenter_domain::document::DocumentKind;
use algocenter_domain::now_ms;
use algocenter_functions::Trainers;
use algocenter_generator::query_analysis::{QaConfig, QaWorld};
use algocenter_generator::{document_record, push_record};
use algocenter_testkit::{Answer, AppOptions, TestApp, spawn_app};
use serde_json::{Value, json};

const BULK: &str = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type";
const FUNCTIONS: &str = "/v4/openapi/app-groups/shop/functions";
const RULES: &str = "/v4/openapi/app-groups/shop/query-analysis-rules";

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

async fn shop() -> TestApp {
    let server = spawn_app(AppOptions::training(Trainers::builtin(), 2)).await;
    server.create_app("shop").await;
    let world = QaWorld::new(QaConfig {
        end_ms: now_ms(),
        days: 10,
        searches: 8_000,
        items: 800,
        queries: 800,
        ..QaConfig::default()
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
    assert_eq!(answer.body["stored"], 800, "{}", answer.body);
    let mut events = Vec::new();
    world.events(&mut |e| {
        if e.bhv_type != "expose" {
            events.push(push_record(e));
        }
    });
    for chunk in events.chunks(2000) {
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

async fn analyse(server: &TestApp, query: &str, rule: Option<&str>) -> Answer {
    let rule = rule.map(|r| format!("&rule={r}")).unwrap_or_default();
    server
        .call(
            "GET",
            &format!(
                "/v3/openapi/apps/shop/query-analysis?query={}{rule}",
                encoded(query)
            ),
            None,
        )
        .await
}

fn token<'a>(result: &'a Value, text: &str) -> &'a Value {
    result["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token"] == text)
        .unwrap_or_else(|| panic!("no token {text} in {result}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_analyses_and_rewrites_chinese_and_english_queries() {
    let server = shop().await;
    let entities = json!([{"name": "entity_fields", "value": "brand,line,color"}]);
    let analyzer = server
        .create_and_train(
            "shop",
            "analyzer",
            &json!({"instanceName": "an", "modelType": "text", "createParameters": entities}),
        )
        .await;
    assert!(
        analyzer["learned_words"].as_u64().unwrap() > 5,
        "{analyzer}"
    );
    let weights = server.create_and_train("shop", "termweight", &json!({"instanceName": "tw", "modelType": "tf_checkpoint", "createParameters": entities}),
    )
    .await;
    assert!(
        weights["spearman"].as_f64() > weights["baseline_idf_spearman"].as_f64(),
        "{weights}"
    );
    server
        .create_and_train(
            "shop",
            "category",
            &json!({"instanceName": "cat", "modelType": "offline_inference"}),
        )
        .await;

    // Rules: instances must exist, of every stage's function.
    let rule = json!({"analyzer": "an", "termweight": "tw", "category": "cat",
        "fields": ["title^3", "brand"], "categoryField": "category", "default": true});
    server
        .call("PUT", &format!("{RULES}/main"), Some(&rule.to_string()))
        .await
        .assert_ok();
    server
        .call(
            "PUT",
            &format!("{RULES}/other"),
            Some(&json!({"analyzer": "nope"}).to_string()),
        )
        .await
        .assert_error(404, "Instance.NotExist");
    server
        .call(
            "PUT",
            &format!("{RULES}/other"),
            Some(&json!({"synonym": "syn"}).to_string()),
        )
        .await
        .assert_error(404, "Instance.NotExist");
    let listed = server.call("GET", RULES, None).await;
    assert_eq!(listed.body["TotalCount"], 1, "{}", listed.body);
    let got = server.call("GET", &format!("{RULES}/main"), None).await;
    assert_eq!(
        got.assert_ok()["Result"]["Fields"],
        json!(["title^3", "brand"])
    );
    assert_eq!(got.body["Result"]["Default"], true);

    // Chinese: the coined word is one token, the filler is a stop word, the brand an entity.
    let answer = analyse(&server, "新款 nova云朵鞋", None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = &answer.body["result"];
    assert_eq!(result["rule"], "main");
    let shoe = token(result, "云朵鞋");
    assert_eq!(
        (shoe["start"].as_u64(), shoe["end"].as_u64()),
        (Some(7), Some(10))
    );
    assert_eq!(shoe["level"], "high", "{result}");
    assert_eq!(token(result, "nova")["entity"], "brand");
    assert_eq!(token(result, "新款")["stop_word"], true, "{result}");
    assert_eq!(
        result["categories"][0]["category"], "鞋靴>休闲鞋",
        "{result}"
    );
    let opensearch = result["rewritten"]["opensearch"].as_str().unwrap();
    assert!(
        opensearch.starts_with(
            "(title:'nova'^3 OR brand:'nova') AND (title:'云朵鞋'^3 OR brand:'云朵鞋')"
        ),
        "{opensearch}"
    );
    assert!(
        opensearch.ends_with("RANK category:'鞋靴>休闲鞋'^99"),
        "{opensearch}"
    );
    assert!(!opensearch.contains("新款"), "{opensearch}");
    let must = result["rewritten"]["dsl"]["bool"]["must"]
        .as_array()
        .unwrap();
    assert_eq!(must.len(), 2, "{result}");
    let stages: Vec<(&str, &str, i64)> = result["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["function"].as_str().unwrap(),
                s["instance"].as_str().unwrap(),
                s["generation"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            ("analyzer", "an", 1),
            ("termweight", "tw", 1),
            ("category", "cat", 1)
        ]
    );

    // English: a product line is one phrase token.
    let answer = analyse(&server, "cheap Cloud Runner sneakers", Some("main")).await;
    let result = &answer.body["result"];
    assert_eq!(token(result, "cloud runner")["level"], "high", "{result}");
    let opensearch = result["rewritten"]["opensearch"].as_str().unwrap();
    assert!(
        opensearch.contains("title:\"cloud runner\"^3"),
        "{opensearch}"
    );
    assert!(
        !opensearch.contains("cheap"),
        "a learned stop word: {opensearch}"
    );

    // Unknown rules answer in the data plane's error shape.
    let missing = analyse(&server, "x", Some("nope")).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(
        missing.body["errors"][0]["code"],
        "QueryAnalysisRule.NotExist"
    );

    // The functions' own predict paths and the dictionary export.
    let predicted = server
        .call(
            "POST",
            &format!("{FUNCTIONS}/analyzer/instances/an/predict"),
            Some(&json!({"texts": ["北极 云朵鞋"]}).to_string()),
        )
        .await;
    let tokens = &predicted.assert_ok()["Result"]["Tokens"][0];
    assert_eq!(
        tokens.as_array().unwrap().last().unwrap()["Token"],
        "云朵鞋",
        "{tokens}"
    );
    let weighed = server
        .call(
            "POST",
            &format!("{FUNCTIONS}/termweight/instances/tw/predict"),
            Some(&json!({"queries": ["best 冰丝裤"]}).to_string()),
        )
        .await;
    let terms = &weighed.assert_ok()["Result"]["Queries"][0]["Terms"];
    assert_eq!(terms[1]["Token"], "冰丝裤", "{terms}");
    assert_eq!(terms[1]["Level"], "high", "{terms}");
    let (status, content_type, text) = server
        .get_text(
            &format!("{FUNCTIONS}/analyzer/instances/an/dictionary?format=ik"),
            true,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"));
    assert!(text.lines().any(|l| l == "云朵鞋"), "{text}");

    // Deleting the default rule: the endpoint needs a rule again.
    server
        .call("DELETE", &format!("{RULES}/main"), None)
        .await
        .assert_ok();
    let answer = analyse(&server, "云朵鞋", None).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
}
