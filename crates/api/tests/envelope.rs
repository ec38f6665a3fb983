//! The HTTP contract of the function API over real HTTP: the envelopes of answers and errors, unknown app groups
//! on every path, path segments decoded one by one, and bodies refused for their size or form without storing
//! anything.

mod support;

use algocenter_api::Limits;
use algocenter_testkit::{AppOptions, spawn_app};
use support::{POP, shop};
#[tokio::test]
async fn success_and_error_envelopes_have_the_spec_shape() {
    let server = shop(1).await;
    let ok = server
        .create_instance("shop", "pop", r#"{"instanceName":"p1","modelType":"pop"}"#)
        .await;
    let body = ok.assert_ok();
    for key in [
        "RequestId",
        "Status",
        "HttpCode",
        "Code",
        "Message",
        "Latency",
    ] {
        assert!(body.get(key).is_some(), "{key} missing in {body}");
    }
    assert_eq!(
        (body["Status"].as_str(), body["HttpCode"].as_u64()),
        (Some("OK"), Some(200))
    );
    assert!(body["Latency"].is_u64(), "Latency is an integer");
    assert_eq!(ok.request_id_header.as_deref(), body["RequestId"].as_str());

    let err = server
        .call("GET", &format!("{POP}/instances/nope"), None)
        .await;
    err.assert_error(404, "Instance.NotExist");
    assert!(err.body["Latency"].is_u64());
    assert_eq!(
        err.request_id_header.as_deref(),
        err.body["RequestId"].as_str()
    );

    server
        .call("GET", "/v4/openapi/nothing-here", None)
        .await
        .assert_error(404, "NotFound");
    server
        .call("PATCH", &format!("{POP}/instances"), None)
        .await
        .assert_error(405, "MethodNotAllowed");
    let deleted = server
        .call("DELETE", &format!("{POP}/instances/p1"), None)
        .await;
    assert!(
        deleted.assert_ok().get("Result").is_none(),
        "deletes answer 200 with the bare envelope"
    );
}

#[tokio::test]
async fn every_function_path_of_an_unknown_app_answers_app_not_found() {
    let server = shop(1).await;
    let base = "/v4/openapi/app-groups/ghost/functions/pop";
    let calls = [
        (
            "POST",
            format!("{base}/instances"),
            Some(r#"{"instanceName":"a","modelType":"pop"}"#),
        ),
        ("GET", format!("{base}/instances/a"), None),
        ("GET", format!("{base}/instances"), None),
        ("PUT", format!("{base}/instances/a"), Some("{}")),
        ("DELETE", format!("{base}/instances/a"), None),
        ("POST", format!("{base}/instances/a/tasks"), None),
        ("GET", format!("{base}/instances/a/tasks/1"), None),
        ("GET", format!("{base}/instances/a/tasks"), None),
        ("DELETE", format!("{base}/instances/a/tasks/1"), None),
        (
            "POST",
            format!("{base}/instances/a/tasks/1/actions/cancel"),
            None,
        ),
        (
            "POST",
            format!("{base}/resources"),
            Some(r#"{"ResourceName":"r","ResourceType":"raw_file","Data":{"Content":""}}"#),
        ),
        ("GET", format!("{base}/resources/r"), None),
        ("GET", format!("{base}/resources"), None),
        ("PUT", format!("{base}/resources/r"), Some("{}")),
        ("DELETE", format!("{base}/resources/r"), None),
        ("GET", format!("{base}/default-instance"), None),
        (
            "PUT",
            format!("{base}/default-instance"),
            Some(r#"{"instanceName":"a"}"#),
        ),
        ("GET", "/v4/openapi/app-groups/ghost".to_string(), None),
        ("DELETE", "/v4/openapi/app-groups/ghost".to_string(), None),
    ];
    for (method, path, body) in calls {
        let answer = server.call(method, &path, body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (404, "App.NotFound"),
            "{method} {path}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn encoded_path_segments_are_decoded_one_by_one() {
    let server = shop(1).await;
    let answer = server
        .call(
            "GET",
            "/v4/openapi/app-groups/my%20app%2F1/functions/pop/instances",
            None,
        )
        .await;
    answer.assert_error(404, "App.NotFound");
    assert!(
        answer.message().contains("'my app/1'"),
        "{}",
        answer.message()
    );
    let answer = server
        .call(
            "GET",
            "/v4/openapi/app-groups/shop/functions/p%6Fp/instances",
            None,
        )
        .await;
    assert_eq!(
        answer.assert_ok()["TotalCount"],
        0,
        "an encoded function name is decoded"
    );
    server
        .call(
            "GET",
            "/v4/openapi/app-groups/shop/functions/rank/instances",
            None,
        )
        .await
        .assert_error(404, "Function.NotExist");
}

#[tokio::test]
async fn body_limits_and_malformed_bodies_never_store_anything() {
    let server = spawn_app(AppOptions {
        limits: Limits {
            max_body_bytes: 4096,
            ..Limits::default()
        },
        ..AppOptions::default()
    })
    .await;
    server.create_app("shop").await;
    let huge = format!(
        r#"{{"instanceName":"p","modelType":"pop","description":"{}"}}"#,
        "x".repeat(10_000)
    );
    server
        .call("POST", &format!("{POP}/instances"), Some(&huge))
        .await
        .assert_error(413, "InvalidParameter.PayloadTooLarge");
    server
        .raw(
            "POST",
            &format!("{POP}/instances"),
            Some(vec![0xff, 0xfe, 0x00]),
        )
        .await
        .assert_error(400, "InvalidParameter");
    let long_description = format!(
        r#"{{"instanceName":"p","modelType":"pop","description":"{}"}}"#,
        "x".repeat(2000)
    );
    server
        .call("POST", &format!("{POP}/instances"), Some(&long_description))
        .await
        .assert_error(400, "InvalidParameter");
    assert_eq!(
        server
            .call("GET", &format!("{POP}/instances"), None)
            .await
            .body["TotalCount"],
        0
    );
}
