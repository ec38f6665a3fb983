//! Request checking: signatures, freshness and replay, keys and scopes, rate limits. A real server on a loopback
//! port; requests signed here with the algocenter-auth signer (the official SDKs are used by the e2e suite).

use algocenter_api::gate::GateConfig;
use algocenter_auth::client::{Credentials, acs3_headers};
use algocenter_testkit::{Answer, AppOptions, TestApp, admin, spawn_app};
use serde_json::json;

async fn server() -> TestApp {
    spawn_app(AppOptions::checked(GateConfig::default())).await
}

/// Creates a key through the API as the admin; answers its credentials.
async fn new_key(server: &TestApp, scope: &str, apps: &[&str]) -> Credentials {
    let body = json!({"scope": scope, "apps": apps}).to_string();
    let answer = server
        .call("POST", "/v4/openapi/access-keys", Some(&body))
        .await;
    let result = &answer.assert_ok()["Result"];
    Credentials {
        key_id: result["AccessKeyId"].as_str().unwrap().into(),
        secret: result["AccessKeySecret"].as_str().unwrap().into(),
    }
}

fn headers(
    server: &TestApp,
    method: &str,
    path: &str,
    body: &[u8],
    creds: &Credentials,
) -> Vec<(String, String)> {
    acs3_headers(
        method,
        server.base.trim_start_matches("http://"),
        path,
        body,
        "Test",
        creds,
    )
    .unwrap()
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| n != name);
    headers.push((name.to_string(), value.to_string()));
}

async fn instances(server: &TestApp) -> u64 {
    server
        .call(
            "GET",
            "/v4/openapi/app-groups/shop/functions/pop/instances",
            None,
        )
        .await
        .assert_ok()["TotalCount"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn unsigned_malformed_unknown_and_wrongly_signed_requests_are_refused() {
    let server = server().await;
    server.create_app("shop").await;
    let path = "/v4/openapi/app-groups/shop/functions/pop/instances";
    server
        .signed("GET", path, None, None)
        .await
        .assert_error(400, "IncompleteSignature");
    let mut bad = headers(&server, "GET", path, b"", &admin());
    set(
        &mut bad,
        "authorization",
        "ACS3-HMAC-SHA256 Credential=admin-key",
    );
    server
        .send("GET", path, None, &bad)
        .await
        .assert_error(400, "IncompleteSignature");
    let stranger = Credentials {
        key_id: "nobody-key".into(),
        secret: "whatever-secret".into(),
    };
    server
        .signed("GET", path, None, Some(&stranger))
        .await
        .assert_error(404, "InvalidAccessKeyId.NotFound");
    let wrong = Credentials {
        secret: "not-the-secret-0000".into(),
        ..admin()
    };
    let answer = server.signed("GET", path, None, Some(&wrong)).await;
    answer.assert_error(400, "SignatureDoesNotMatch");
    assert!(
        !answer.message().contains("canonical"),
        "the answer does not say which part differed"
    );
    let mut sts = headers(&server, "GET", path, b"", &admin());
    sts.push(("x-acs-security-token".into(), "token".into()));
    server
        .send("GET", path, None, &sts)
        .await
        .assert_error(400, "InvalidSecurityToken.NotSupported");
    // Refusals on the data plane answer in its shape.
    let push = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/behavior/actions/bulk";
    let answer = server
        .signed("POST", push, Some(b"[]".to_vec()), None)
        .await;
    assert_eq!(
        (answer.status, answer.body["errors"][0]["code"].as_str()),
        (400, Some("IncompleteSignature"))
    );
}

#[tokio::test]
async fn tampered_and_replayed_requests_are_refused_and_change_nothing() {
    let server = server().await;
    server.create_app("shop").await;
    let path = "/v4/openapi/app-groups/shop/functions/pop/instances";
    let body = br#"{"instanceName":"p1","modelType":"pop"}"#;
    let signed = headers(&server, "POST", path, body, &admin());

    let other_body = br#"{"instanceName":"evil","modelType":"pop"}"#.to_vec();
    server
        .send("POST", path, Some(other_body), &signed)
        .await
        .assert_error(400, "SignatureDoesNotMatch");
    let other_path = "/v4/openapi/app-groups/other/functions/pop/instances";
    server
        .send("POST", other_path, Some(body.to_vec()), &signed)
        .await
        .assert_error(400, "SignatureDoesNotMatch");
    let query_path = format!("{path}?pageSize=1");
    server
        .send("POST", &query_path, Some(body.to_vec()), &signed)
        .await
        .assert_error(400, "SignatureDoesNotMatch");
    assert_eq!(
        instances(&server).await,
        0,
        "no tampered request changed anything"
    );

    server
        .send("POST", path, Some(body.to_vec()), &signed)
        .await
        .assert_ok();
    // The same request again, byte for byte.
    server
        .send("POST", path, Some(body.to_vec()), &signed)
        .await
        .assert_error(400, "SignatureNonceUsed");
    assert_eq!(instances(&server).await, 1);
}

#[tokio::test]
async fn stale_and_future_dates_are_refused() {
    let server = server().await;
    let path = "/v4/openapi/app-groups";
    for offset in [-20i64, 20] {
        let date = (chrono::Utc::now() + chrono::Duration::minutes(offset))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut h = vec![
            (
                "host".to_string(),
                server.base.trim_start_matches("http://").to_string(),
            ),
            ("x-acs-version".into(), "2017-12-25".into()),
            ("x-acs-action".into(), "ListAppGroups".into()),
            ("x-acs-date".into(), date),
            ("x-acs-signature-nonce".into(), format!("nonce{offset}")),
        ];
        let auth =
            algocenter_auth::sign_acs3("GET", path, &[], &mut h, b"", "admin-key", &admin().secret);
        h.retain(|(n, _)| n != "host");
        h.push(("authorization".into(), auth));
        server
            .send("GET", path, None, &h)
            .await
            .assert_error(400, "InvalidTimeStamp.Expired");
    }
}

#[tokio::test]
async fn scopes_and_app_groups_limit_what_a_key_may_do() {
    let server = server().await;
    server.create_app("shop").await;
    server.create_app("blog").await;
    let reader = new_key(&server, "read", &[]).await;
    let writer = new_key(&server, "write", &[]).await;
    let shop_only = new_key(&server, "write", &["shop"]).await;
    let instances = "/v4/openapi/app-groups/shop/functions/pop/instances";
    let body = || Some(br#"{"instanceName":"p1","modelType":"pop"}"#.to_vec());

    server
        .signed("GET", instances, None, Some(&reader))
        .await
        .assert_ok();
    server
        .signed("POST", instances, body(), Some(&reader))
        .await
        .assert_error(403, "Forbidden.RAM");
    server
        .signed("POST", instances, body(), Some(&writer))
        .await
        .assert_ok();
    let app_body = Some(br#"{"name":"news"}"#.to_vec());
    server
        .signed("POST", "/v4/openapi/app-groups", app_body, Some(&writer))
        .await
        .assert_error(403, "Forbidden.RAM");
    server
        .signed(
            "POST",
            "/v4/openapi/access-keys",
            Some(b"{}".to_vec()),
            Some(&writer),
        )
        .await
        .assert_error(403, "Forbidden.RAM");

    server
        .signed("GET", instances, None, Some(&shop_only))
        .await
        .assert_ok();
    let blog = "/v4/openapi/app-groups/blog/functions/pop/instances";
    server
        .signed("GET", blog, None, Some(&shop_only))
        .await
        .assert_error(403, "Forbidden.RAM");
    let push = "/v3/openapi/app-groups/blog/data-collections/blog/data-collection-type/behavior/actions/bulk";
    let answer = server
        .signed("POST", push, Some(b"[]".to_vec()), Some(&shop_only))
        .await;
    assert_eq!(
        (answer.status, answer.body["errors"][0]["code"].as_str()),
        (403, Some("Forbidden.RAM"))
    );
    let listed = server
        .signed("GET", "/v4/openapi/app-groups", None, Some(&shop_only))
        .await;
    assert_eq!(listed.status, 200);
    let names: Vec<&str> = listed.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        (names, listed.body["totalCount"].as_u64()),
        (vec!["shop"], Some(1))
    );
    // The catalogue needs no app group.
    server
        .signed(
            "GET",
            "/v4/openapi/functions/pop/versions/201",
            None,
            Some(&reader),
        )
        .await
        .assert_ok();
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked() {
    let server = server().await;
    let created = server
        .call(
            "POST",
            "/v4/openapi/access-keys",
            Some(r#"{"scope":"read","apps":["shop"],"description":"dashboard"}"#),
        )
        .await;
    let key = created.assert_ok()["Result"].clone();
    let id = key["AccessKeyId"].as_str().unwrap().to_string();
    assert_eq!(key["AccessKeySecret"].as_str().unwrap().len(), 32);
    let listed = server.call("GET", "/v4/openapi/access-keys", None).await;
    let keys = listed.assert_ok()["Result"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|k| k.get("AccessKeySecret").is_none()),
        "secrets are shown once, at creation"
    );
    let stored = server.store().key(&id).await.unwrap().unwrap().1;
    assert!(
        !stored.windows(8).any(|w| key["AccessKeySecret"]
            .as_str()
            .unwrap()
            .as_bytes()
            .starts_with(w)),
        "stored sealed"
    );

    let creds = Credentials {
        key_id: id.clone(),
        secret: key["AccessKeySecret"].as_str().unwrap().into(),
    };
    server
        .signed("GET", "/v4/openapi/app-groups", None, Some(&creds))
        .await
        .assert_ok();
    let revoked = server
        .call("DELETE", &format!("/v4/openapi/access-keys/{id}"), None)
        .await;
    assert_eq!(revoked.assert_ok()["Result"]["Status"], "revoked");
    server
        .signed("GET", "/v4/openapi/app-groups", None, Some(&creds))
        .await
        .assert_error(404, "InvalidAccessKeyId.NotFound");
    server
        .call("DELETE", "/v4/openapi/access-keys/admin-key", None)
        .await
        .assert_error(409, "AccessKey.LastAdmin");
    server
        .call("DELETE", "/v4/openapi/access-keys/nobody", None)
        .await
        .assert_error(404, "AccessKey.NotExist");
    server
        .call(
            "POST",
            "/v4/openapi/access-keys",
            Some(r#"{"scope":"root"}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");

    // An admin restricted to one app group cannot mint an unrestricted key.
    let shop_admin = new_key(&server, "admin", &["shop"]).await;
    let answer = server
        .signed(
            "POST",
            "/v4/openapi/access-keys",
            Some(br#"{"scope":"admin"}"#.to_vec()),
            Some(&shop_admin),
        )
        .await;
    answer.assert_error(403, "Forbidden.RAM");
    let answer = server
        .signed(
            "POST",
            "/v4/openapi/access-keys",
            Some(br#"{"scope":"read","apps":["shop"]}"#.to_vec()),
            Some(&shop_admin),
        )
        .await;
    answer.assert_ok();
}

#[tokio::test]
async fn a_throttled_key_waits_and_other_keys_do_not() {
    let server = spawn_app(AppOptions::checked(GateConfig {
        rate_limit: Some((2, 2)),
        ..GateConfig::default()
    }))
    .await;
    let other = {
        // Created with the admin's budget; the admin is then throttled on its own.
        new_key(&server, "read", &[]).await
    };
    let path = "/v4/openapi/app-groups";
    let mut throttled: Option<Answer> = None;
    for _ in 0..5 {
        let answer = server.call("GET", path, None).await;
        if answer.status == 429 {
            throttled = Some(answer);
            break;
        }
    }
    let answer = throttled.expect("the admin key was throttled");
    answer.assert_error(429, "Throttling.User");
    let retry_after: u64 = answer.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=1000).contains(&retry_after), "{retry_after}");
    server
        .signed("GET", path, None, Some(&other))
        .await
        .assert_ok();
}

#[tokio::test]
async fn the_legacy_and_data_plane_schemes_are_accepted() {
    let server = server().await;
    server.create_app("shop").await;
    // ROA v2, as the SDK's signature_algorithm = "v2".
    let path = "/v4/openapi/app-groups/shop/functions/pop/instances";
    let mut h: Vec<(String, String)> = vec![
        (
            "date".into(),
            chrono::Utc::now().to_rfc2822().replace("+0000", "GMT"),
        ),
        ("accept".into(), "application/json".into()),
        ("x-acs-action".into(), "ListFunctionInstances".into()),
        ("x-acs-signature-method".into(), "HMAC-SHA1".into()),
        ("x-acs-signature-nonce".into(), "roa-nonce-1".into()),
        ("x-acs-signature-version".into(), "1.0".into()),
        ("x-acs-version".into(), "2017-12-25".into()),
    ];
    let query = vec![("pageSize".to_string(), "5".to_string())];
    let auth = algocenter_auth::sign_roa("GET", path, &query, &h, "admin-key", &admin().secret);
    h.push(("authorization".into(), auth));
    server
        .send("GET", &format!("{path}?pageSize=5"), None, &h)
        .await
        .assert_ok();

    // OpenSearch v3, as alibabacloud-opensearch-util signs a push.
    let push = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/item_info/actions/bulk";
    let body = br#"[{"cmd":"ADD","fields":{"item_id":"1","title":"t"}}]"#;
    let mut h: Vec<(String, String)> = vec![
        ("content-md5".into(), algocenter_auth::content_md5(body)),
        ("content-type".into(), "application/json".into()),
        (
            "date".into(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("x-opensearch-nonce".into(), "os-nonce-1".into()),
    ];
    let auth =
        algocenter_auth::sign_opensearch("POST", push, &[], &h, "admin-key", &admin().secret);
    h.push(("authorization".into(), auth));
    let answer = server.send("POST", push, Some(body.to_vec()), &h).await;
    assert_eq!(
        (answer.status, answer.body["stored"].as_u64()),
        (200, Some(1)),
        "{}",
        answer.body
    );
}

/// Every route has an operation: the gate refuses an unclassified one with an internal error, which would show
/// here.
#[tokio::test]
async fn every_route_is_classified() {
    let server = server().await;
    let f = "/v4/openapi/app-groups/shop/functions/pop";
    let d =
        "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/behavior/actions";
    let routes = [
        ("POST", "/v4/openapi/app-groups".to_string()),
        ("GET", "/v4/openapi/app-groups".to_string()),
        ("GET", "/v4/openapi/app-groups/shop".to_string()),
        ("DELETE", "/v4/openapi/app-groups/shop".to_string()),
        ("GET", "/v4/openapi/app-groups/shop/data-status".to_string()),
        ("POST", format!("{f}/instances")),
        ("GET", format!("{f}/instances")),
        ("GET", format!("{f}/instances/i")),
        ("PUT", format!("{f}/instances/i")),
        ("DELETE", format!("{f}/instances/i")),
        ("POST", format!("{f}/instances/i/tasks")),
        ("GET", format!("{f}/instances/i/tasks")),
        ("GET", format!("{f}/instances/i/tasks/1")),
        ("DELETE", format!("{f}/instances/i/tasks/1")),
        ("POST", format!("{f}/instances/i/tasks/1/actions/cancel")),
        ("POST", format!("{f}/instances/i/predict")),
        ("POST", format!("{f}/predict")),
        ("POST", format!("{f}/resources")),
        ("GET", format!("{f}/resources")),
        ("GET", format!("{f}/resources/r")),
        ("PUT", format!("{f}/resources/r")),
        ("DELETE", format!("{f}/resources/r")),
        ("GET", format!("{f}/default-instance")),
        ("PUT", format!("{f}/default-instance")),
        (
            "GET",
            "/v4/openapi/functions/pop/current-version".to_string(),
        ),
        ("GET", "/v4/openapi/functions/pop/versions/201".to_string()),
        ("POST", format!("{d}/bulk")),
        ("GET", format!("{d}/export")),
        ("POST", "/v4/openapi/access-keys".to_string()),
        ("GET", "/v4/openapi/access-keys".to_string()),
        ("DELETE", "/v4/openapi/access-keys/nobody".to_string()),
    ];
    for (method, path) in routes {
        let body = matches!(method, "POST" | "PUT").then(|| b"{}".to_vec());
        let answer = server.raw(method, &path, body).await;
        assert!(answer.status < 500, "{method} {path}: {}", answer.body);
    }
}
