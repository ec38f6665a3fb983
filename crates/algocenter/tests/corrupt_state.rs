//! Damaged stored state through the real binary and its gate: a key whose stored app groups are unreadable
//! authorises nothing (read as a default, the empty list would mean all app groups).

mod support;

use algocenter_auth::client::{Credentials, acs3_headers};
use serde_json::Value;
use support::{Process, call, temp_data_dir};

/// A request signed with `id`/`secret`; answers (status, body).
async fn call_as(
    base: &str,
    id: &str,
    secret: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Value) {
    let credentials = Credentials {
        key_id: id.into(),
        secret: secret.into(),
    };
    let host = base.trim_start_matches("http://");
    let mut request = reqwest::Client::new().request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{base}{path}"),
    );
    for (name, value) in
        acs3_headers(method, host, path, body.as_bytes(), "Test", &credentials).unwrap()
    {
        request = request.header(name, value);
    }
    let response = request.body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_stored_app_groups_are_unreadable_authorises_nothing() {
    let (_tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    for app in ["shop", "blog"] {
        let (status, body) = call(
            &server.base,
            "POST",
            "/v4/openapi/app-groups",
            Some(&format!(r#"{{"name":"{app}"}}"#)),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, created) = call(
        &server.base,
        "POST",
        "/v4/openapi/access-keys",
        Some(r#"{"scope":"write","apps":["blog"]}"#),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["Result"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = created["Result"]["AccessKeySecret"]
        .as_str()
        .unwrap()
        .to_string();

    // Damaged behind the server's back (SQLite lets a second connection write beside the server's).
    let db = rusqlite::Connection::open(data.join("algocenter.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute("UPDATE access_key SET apps = 'blog' WHERE id = ?1", [&id])
        .unwrap();
    drop(db);

    let instances = |app: &str| format!("/v4/openapi/app-groups/{app}/functions/pop/instances");
    let create = r#"{"instanceName":"p","modelType":"pop"}"#;
    for app in ["shop", "blog"] {
        let (status, body) =
            call_as(&server.base, &id, &secret, "POST", &instances(app), create).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (500, Some("Storage.Corrupt")),
            "{app}: {body}"
        );
        assert!(
            !body["Message"].as_str().unwrap().contains("'blog'"),
            "no stored contents: {body}"
        );
        let (status, body) = call_as(&server.base, &id, &secret, "GET", &instances(app), "").await;
        assert_eq!(status, 500, "{app}: {body}");
    }
    // Nothing was created, and the server names the damage in its log.
    for app in ["shop", "blog"] {
        let (_, listed) = call(&server.base, "GET", &instances(app), None).await;
        assert_eq!(listed["TotalCount"], 0, "{listed}");
    }
    // (The log arrives through a pipe: wait for it, bounded.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.log().contains("stored state is unreadable") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(server.log().contains("access_key"), "{}", server.log());
}
