//! The catalogue (function versions) and app groups over real HTTP.

mod support;

use algocenter_functions::Trainers;
use algocenter_testkit::{AppOptions, spawn_app};
use support::shop;
#[tokio::test]
async fn catalogue_versions() {
    let server = shop(1).await;
    for (function, model_type, id) in [
        ("ctr", "tf_checkpoint", 101),
        ("pop", "pop", 201),
        ("category", "offline_inference", 301),
        ("hot", "offline_inference", 401),
        ("hot", "near_realtime", 402),
        ("hint", "near_realtime", 502),
        ("suggest", "offline_inference", 601),
    ] {
        let answer = server.call("GET", &format!("/v4/openapi/functions/{function}/current-version?modelType={model_type}&functionType=PAAS&domain=ecommerce&category=general"), None).await;
        let version = &answer.assert_ok()["Result"];
        assert_eq!(
            (version["VersionId"].as_i64(), version["ModelType"].as_str()),
            (Some(id), Some(model_type))
        );
        assert!(
            version["VersionConfig"]["CreateParameters"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["Required"] == "true" || p["Required"] == "false")
        );
        let by_id = server
            .call(
                "GET",
                &format!("/v4/openapi/functions/{function}/versions/{id}"),
                None,
            )
            .await;
        assert_eq!(by_id.assert_ok()["Result"]["VersionId"], id);
    }
    server
        .call("GET", "/v4/openapi/functions/ctr/current-version", None)
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "GET",
            "/v4/openapi/functions/ctr/current-version?modelType=pop",
            None,
        )
        .await
        .assert_error(404, "Version.NotExist");
    server
        .call("GET", "/v4/openapi/functions/ctr/versions/999", None)
        .await
        .assert_error(404, "Version.NotExist");
    server
        .call("GET", "/v4/openapi/functions/synonym/versions/1", None)
        .await
        .assert_error(404, "Function.NotExist");
    // The query-analysis functions and their model types.
    let analyzer = server
        .call("GET", "/v4/openapi/functions/analyzer/versions/701", None)
        .await;
    assert_eq!(
        analyzer.assert_ok()["Result"]["ModelType"],
        "text",
        "{}",
        analyzer.body
    );
    let termweight = server
        .call(
            "GET",
            "/v4/openapi/functions/termweight/current-version?modelType=tf_checkpoint&functionType=PAAS",
            None,
        )
        .await;
    assert_eq!(
        termweight.assert_ok()["Result"]["VersionId"],
        801,
        "{}",
        termweight.body
    );
}

#[tokio::test]
async fn app_groups_create_list_describe_remove() {
    let server = spawn_app(AppOptions::training(Trainers::default(), 1)).await;
    let body = r#"{"name":"shop","type":"enhanced","chargeType":"POSTPAY","quota":{"docSize":1,"computeResource":20,"spec":"opensearch.share.common"},"tags":[{"key":"team","value":"search"}]}"#;
    let created = server
        .call("POST", "/v4/openapi/app-groups", Some(body))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let app = &created.body["result"];
    assert_eq!(
        (
            app["name"].as_str(),
            app["chargeType"].as_str(),
            app["quota"]["computeResource"].as_i64()
        ),
        (Some("shop"), Some("POSTPAY"), Some(20))
    );
    assert!(created.body["requestId"].is_string());
    let id = app["id"].as_str().unwrap().to_string();
    server
        .call("POST", "/v4/openapi/app-groups", Some(body))
        .await
        .assert_error(409, "App.Duplicated");
    server
        .call(
            "POST",
            "/v4/openapi/app-groups",
            Some(r#"{"name":"bad name"}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "POST",
            "/v4/openapi/app-groups",
            Some(r#"{"type":"enhanced"}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "POST",
            "/v4/openapi/app-groups",
            Some(r#"{"name":"x","type":"premium"}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");
    server.create_app("other").await;
    let listed = server
        .call("GET", "/v4/openapi/app-groups?name=sho", None)
        .await;
    assert_eq!(
        (
            listed.body["totalCount"].as_u64(),
            listed.body["result"][0]["tags"][0]["value"].as_str()
        ),
        (Some(1), Some("search"))
    );
    assert_eq!(
        server
            .call("GET", "/v4/openapi/app-groups", None)
            .await
            .body["totalCount"],
        2
    );
    let by_id = server
        .call("GET", &format!("/v4/openapi/app-groups/{id}"), None)
        .await;
    assert_eq!(by_id.body["result"]["name"], "shop");
    server
        .call("DELETE", "/v4/openapi/app-groups/shop", None)
        .await;
    server
        .call("GET", "/v4/openapi/app-groups/shop", None)
        .await
        .assert_error(404, "App.NotFound");
}
