//! Function instances and the default instance over real HTTP: validation, both body casings, output levels,
//! paging and filters, updates.

mod support;

use serde_json::json;
use support::{POP, pop_instance, shop};
#[tokio::test]
async fn instance_validation_names_what_is_wrong() {
    let server = shop(1).await;
    let cases = [
        (r#"{"modelType":"pop"}"#, "instanceName"),
        (
            r#"{"instanceName":"1bad","modelType":"pop"}"#,
            "instanceName",
        ),
        (
            r#"{"instanceName":"this_name_is_way_too_long_for_it","modelType":"pop"}"#,
            "instanceName",
        ),
        (r#"{"instanceName":"p"}"#, "modelType"),
        (
            r#"{"instanceName":"p","modelType":"tf_checkpoint"}"#,
            "modelType",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","functionType":"SAAS"}"#,
            "functionType",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","cron":"0 0 3 ? * MON"}"#,
            "cron",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","cron":"every day"}"#,
            "cron",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","createParameters":[{"name":"params1","value":"v1"}]}"#,
            "params1",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","createParameters":[{"name":"half_life_days","value":"soon"}]}"#,
            "half_life_days",
        ),
        (
            r#"{"instanceName":"p","modelType":"pop","usageParameters":[{"name":"default_score","value":"2"}]}"#,
            "default_score",
        ),
        (r#"{"instanceName":5,"modelType":"pop"}"#, "invalid type"),
        (r#"{"instanceName":"p","modelType":"pop""#, "EOF"),
        (r#"[1,2]"#, "invalid type"),
    ];
    for (body, needle) in cases {
        let answer = server.create_instance("shop", "pop", body).await;
        answer.assert_error(400, "InvalidParameter");
        assert!(
            answer.message().contains(needle),
            "{body}: {}",
            answer.message()
        );
    }
    let ctr = server
        .create_instance(
            "shop",
            "ctr",
            r#"{"instanceName":"c","modelType":"tf_checkpoint"}"#,
        )
        .await;
    ctr.assert_error(400, "InvalidParameter");
    assert!(
        ctr.message()
            .contains("missing required parameter 'id_field'"),
        "{}",
        ctr.message()
    );
    let listed = server.call("GET", &format!("{POP}/instances"), None).await;
    assert_eq!(
        listed.assert_ok()["TotalCount"],
        0,
        "nothing was stored by refused requests"
    );
}

#[tokio::test]
async fn camel_and_pascal_case_bodies_are_both_accepted() {
    let server = shop(1).await;
    server.create_instance("shop", "pop", r#"{"instanceName":"camel","modelType":"pop","createParameters":[{"name":"half_life_days","value":"3"}]}"#).await.assert_ok();
    server.create_instance("shop", "pop", r#"{"InstanceName":"Pascal","ModelType":"pop","CreateParameters":[{"Name":"half_life_days","Value":"4"}],"Cron":"0 3 ? * 0,1,3,5"}"#).await.assert_ok();
    let answer = server
        .call("GET", &format!("{POP}/instances/Pascal"), None)
        .await;
    let instance = &answer.assert_ok()["Result"];
    assert_eq!(
        instance["CreateParameters"],
        json!([{"Name": "half_life_days", "Value": "4"}])
    );
    assert_eq!(instance["Cron"], "0 3 ? * 0,1,3,5");
    server
        .create_instance(
            "shop",
            "pop",
            r#"{"instanceName":"camel","modelType":"pop"}"#,
        )
        .await
        .assert_error(409, "Instance.Duplicated");
}

#[tokio::test]
async fn output_levels_select_fields() {
    let server = shop(1).await;
    pop_instance(&server, "p").await;
    let get = |level: &'static str| {
        let server = &server;
        async move {
            server
                .call("GET", &format!("{POP}/instances/p?output={level}"), None)
                .await
                .body["Result"]
                .clone()
        }
    };
    let simple = get("simple").await;
    assert!(simple.get("InstanceName").is_some() && simple.get("Status").is_some());
    assert!(
        simple.get("CreateParameters").is_none()
            && simple.get("Cron").is_none()
            && simple.get("Task").is_none()
    );
    let normal = get("normal").await;
    assert!(
        normal.get("CreateParameters").is_some()
            && normal.get("Cron").is_some()
            && normal.get("Belongs").is_some()
    );
    assert!(normal.get("Task").is_none());
    let detail = get("detail").await;
    assert_eq!(
        detail["Task"],
        json!({"DagStatus": "untrained", "LastRunTime": 0})
    );
    server
        .call("GET", &format!("{POP}/instances/p?output=everything"), None)
        .await
        .assert_error(400, "InvalidParameter");
    let listed = server
        .call("GET", &format!("{POP}/instances?output=detail"), None)
        .await;
    assert!(
        listed.assert_ok()["Result"][0].get("Task").is_none(),
        "lists never carry Task (SDK model)"
    );
}

#[tokio::test]
async fn instance_paging_and_filters() {
    let server = shop(1).await;
    for i in 0..25 {
        pop_instance(&server, &format!("p{i:02}")).await;
    }
    let page = |query: &str| {
        let server = &server;
        let path = format!("{POP}/instances?{query}");
        async move { server.call("GET", &path, None).await }
    };
    let first = page("").await;
    assert_eq!(
        (
            first.body["TotalCount"].as_u64(),
            first.body["Result"].as_array().unwrap().len()
        ),
        (Some(25), 10)
    );
    let third = page("pageNumber=3&pageSize=10").await;
    assert_eq!(third.body["Result"].as_array().unwrap().len(), 5);
    assert_eq!(third.body["Result"][0]["InstanceName"], "p20");
    assert_eq!(page("pageNumber=9").await.body["Result"], json!([]));
    assert_eq!(
        page("modelType=pop&functionType=PAAS&source=all")
            .await
            .body["TotalCount"],
        25
    );
    assert_eq!(page("source=builtin").await.body["TotalCount"], 0);
    for bad in [
        "pageSize=0",
        "pageSize=101",
        "pageNumber=0",
        "pageNumber=x",
        "source=mine",
    ] {
        page(bad).await.assert_error(400, "InvalidParameter");
    }
}

#[tokio::test]
async fn update_keeps_omitted_fields_and_replaces_sent_lists() {
    let server = shop(1).await;
    server.create_instance("shop", "pop", r#"{"instanceName":"p","modelType":"pop","description":"d","cron":"0 3 * * *","createParameters":[{"name":"half_life_days","value":"3"}],"usageParameters":[{"name":"default_score","value":"0.1"}]}"#).await.assert_ok();
    let path = format!("{POP}/instances/p");
    server.call("PUT", &path, Some("{}")).await.assert_ok();
    let unchanged = server.call("GET", &path, None).await.body["Result"].clone();
    assert_eq!(
        (
            unchanged["Description"].as_str(),
            unchanged["Cron"].as_str()
        ),
        (Some("d"), Some("0 3 * * *"))
    );
    server
        .call(
            "PUT",
            &path,
            Some(r#"{"cron":"","createParameters":[{"name":"min_evidence","value":"9"}]}"#),
        )
        .await
        .assert_ok();
    let updated = server.call("GET", &path, None).await.body["Result"].clone();
    assert_eq!(updated["Cron"], "");
    assert_eq!(
        updated["CreateParameters"],
        json!([{"Name": "min_evidence", "Value": "9"}])
    );
    assert_eq!(
        updated["UsageParameters"],
        json!([{"Name": "default_score", "Value": "0.1"}])
    );
    assert_eq!(updated["Description"], "d");
    server
        .call("PUT", &path, Some(r#"{"cron":"61 * * * *"}"#))
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "PUT",
            &path,
            Some(r#"{"usageParameters":[{"name":"nope","value":"1"}]}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call("PUT", &format!("{POP}/instances/ghost"), Some("{}"))
        .await
        .assert_error(404, "Instance.NotExist");
}

#[tokio::test]
async fn default_instance_set_replace_clear_and_deleted_instance() {
    let server = shop(1).await;
    pop_instance(&server, "a").await;
    pop_instance(&server, "b").await;
    let path = format!("{POP}/default-instance");
    server
        .call("GET", &path, None)
        .await
        .assert_error(404, "DefaultInstance.NotExist");
    server
        .call("PUT", &path, Some(r#"{"instanceName":"a"}"#))
        .await
        .assert_ok();
    let got = server.call("GET", &path, None).await;
    assert_eq!(
        (
            got.body["Result"]["InstanceName"].as_str(),
            got.body["InstanceName"].as_str(),
            got.body["FunctionName"].as_str()
        ),
        (Some("a"), Some("a"), Some("pop"))
    );
    server
        .call("PUT", &path, Some(r#"{"instanceName":"b"}"#))
        .await
        .assert_ok();
    server
        .call("PUT", &path, Some(r#"{"instanceName":"zzz"}"#))
        .await
        .assert_error(404, "Instance.NotExist");
    assert_eq!(
        server.call("GET", &path, None).await.body["Result"]["InstanceName"],
        "b"
    );
    server
        .call("PUT", &path, Some(r#"{"instanceName":""}"#))
        .await
        .assert_ok();
    server
        .call("GET", &path, None)
        .await
        .assert_error(404, "DefaultInstance.NotExist");
    server
        .call("PUT", &path, Some(r#"{"instanceName":"a"}"#))
        .await
        .assert_ok();
    server
        .call("DELETE", &format!("{POP}/instances/a"), None)
        .await
        .assert_ok();
    server
        .call("GET", &path, None)
        .await
        .assert_error(404, "DefaultInstance.NotExist");
}
