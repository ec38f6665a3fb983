//! Several algocenter processes on one PostgreSQL database (and one shared data directory for the master key and
//! artifacts): tasks complete exactly once across `serve` and `worker` processes, a `kill -9`ed worker's task is
//! reconciled by another node and its generation never reused, a killed API process loses no acknowledged event,
//! and a cron firing seen by two nodes queues one task.
//!
//! Needs the test cluster of `scripts/test` (`ALGOCENTER_TEST_DATABASE_URL`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use algocenter_store::postgres::testing::fresh_database;
use algocenter_testkit::{Deadline, wait_until};
use serde_json::{Value, json};
use support::{BINARY, Process, WORKER_READY, admin_env, call, slow_worker, temp_data_dir};

const POP: &str = "/v4/openapi/app-groups/shop/functions/pop";

/// Not a test: a worker process with the slow trainer (started by the kill test through `Process::child`).
#[test]
#[ignore = "helper run as a child process by other tests"]
fn child_worker() {
    support::slow_worker::run_from_env();
}

fn node(data: &std::path::Path, url: &str, extra: &[&str]) -> Process {
    let mut args = vec!["--database-url", url];
    args.extend_from_slice(extra);
    Process::serve(data, &args)
}

async fn ok(base: &str, method: &str, path: &str, body: Option<&str>) -> Value {
    let (status, answer) = call(base, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

async fn task(base: &str, instance: &str, generation: &str) -> Value {
    ok(
        base,
        "GET",
        &format!("{POP}/instances/{instance}/tasks/{generation}"),
        None,
    )
    .await["Result"]
        .clone()
}

/// Polls a task until `done` holds.
async fn wait_task(
    base: &str,
    instance: &str,
    generation: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Deadline::after(Duration::from_secs(90));
    loop {
        let task = task(base, instance, generation).await;
        if done(&task) {
            return task;
        }
        deadline
            .again(format_args!("{instance}/{generation}: {task}"))
            .await;
    }
}

/// `(instance, generation)` of every "training started" line of a process log.
fn trained(log: &str) -> Vec<(String, i64)> {
    log.lines()
        .filter(|l| l.contains("training started"))
        .filter_map(|l| {
            let field = |name: &str| {
                l.split(&format!("{name}="))
                    .nth(1)?
                    .split([' ', '}'])
                    .next()
                    .map(str::to_string)
            };
            Some((field("instance")?, field("generation")?.parse().ok()?))
        })
        .collect()
}

/// A new bucket on the test S3 server (moto, started by scripts/test): `(endpoint, s3://bucket/run)`.
async fn s3_bucket() -> (String, String) {
    let endpoint = std::env::var("ALGOCENTER_TEST_S3_ENDPOINT")
        .expect("ALGOCENTER_TEST_S3_ENDPOINT: scripts/test starts a moto server for these tests");
    let bucket = format!(
        "cluster{}-{}",
        std::process::id(),
        algocenter_domain::now_ms()
    );
    // moto creates buckets on an unsigned PUT.
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    (endpoint, format!("s3://{bucket}/run"))
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_and_one_worker_process_complete_every_task_exactly_once() {
    let url = fresh_database().await;
    let (endpoint, artifacts) = s3_bucket().await;
    // Nothing shared but the database, the bucket and the master key file: each process has its own directory.
    let tmp = tempfile::tempdir().unwrap();
    let master = tmp.path().join("master.key");
    let args = |workers: &str| -> Vec<String> {
        [
            "--master-key-file",
            master.to_str().unwrap(),
            "--artifact-store",
            &artifacts,
            "--s3-endpoint",
            &endpoint,
            "--workers",
            workers,
        ]
        .map(str::to_string)
        .to_vec()
    };
    // moto takes any credentials; without some, the S3 client would ask the cloud metadata service.
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let mut node_args = vec!["--database-url".to_string(), url.clone()];
    node_args.extend(args("1"));
    let a = Process::serve_with_env(&tmp.path().join("a"), &as_strs(&node_args), &credentials);
    let b = Process::serve_with_env(&tmp.path().join("b"), &as_strs(&node_args), &credentials);
    let w = Process::worker(&tmp.path().join("w"), &as_strs(&node_args), &credentials);
    for node in [&a, &b] {
        let (status, body) = call(&node.base, "GET", "/health/ready", None).await;
        assert_eq!(status, 200, "{body}");
    }
    ok(
        &a.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    let generated = tmp.path().join("generated");
    let made = std::process::Command::new(BINARY)
        .args(["generate", "--events", "20000", "--days", "7", "--out"])
        .arg(&generated)
        .output()
        .unwrap();
    assert!(made.status.success());
    let pushed = admin_env(&mut std::process::Command::new(BINARY))
        .args([
            "--endpoint",
            &b.base,
            "push",
            "--app",
            "shop",
            "--type",
            "behavior",
        ])
        .arg(generated.join("behavior.jsonl"))
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    const INSTANCES: usize = 100;
    let nodes = [a.base.as_str(), b.base.as_str()];
    for i in 0..INSTANCES {
        let body = format!(r#"{{"instanceName":"p{i}","modelType":"pop"}}"#);
        ok(
            nodes[i % 2],
            "POST",
            &format!("{POP}/instances"),
            Some(&body),
        )
        .await;
    }
    for generation in ["1", "2"] {
        for i in 0..INSTANCES {
            let created = ok(
                nodes[i % 2],
                "POST",
                &format!("{POP}/instances/p{i}/tasks"),
                None,
            )
            .await;
            assert_eq!(created["Result"]["Generation"], generation);
        }
        for i in 0..INSTANCES {
            let done = wait_task(nodes[(i + 1) % 2], &format!("p{i}"), generation, |t| {
                t["Status"] != "running"
            })
            .await;
            assert_eq!(done["Status"], "success", "p{i}/{generation}: {done}");
        }
    }
    // Every task was trained by exactly one process, once.
    let logs = [a.log(), b.log(), w.log()];
    let mut runs: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for log in &logs {
        for run in trained(log) {
            *runs.entry(run).or_default() += 1;
        }
    }
    assert_eq!(runs.len(), INSTANCES * 2, "{runs:?}");
    assert!(runs.values().all(|n| *n == 1), "a task ran twice: {runs:?}");
    let busy: Vec<usize> = logs.iter().map(|l| trained(l).len()).collect();
    assert!(
        busy.iter().filter(|n| **n > 0).count() >= 2,
        "the work spread over the processes: {busy:?}"
    );
    let listed = ok(
        &a.base,
        "GET",
        &format!("{POP}/instances/p7/tasks?pageSize=10"),
        None,
    )
    .await;
    let generations: BTreeSet<String> = listed["Result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Generation"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        generations,
        BTreeSet::from(["1".to_string(), "2".to_string()])
    );
    // Every model is served by both API nodes, from the bucket, whichever process trained it.
    for i in [0, 1, 2, 97, 98, 99] {
        for node in [&a, &b] {
            let body = r#"{"items":["i1","i2"]}"#;
            let path = format!("{POP}/instances/p{i}/predict");
            let served = ok(&node.base, "POST", &path, Some(body)).await;
            assert_eq!(served["Result"]["Generation"], "2", "p{i}: {served}");
        }
    }
    drop(w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_s_task_is_reconciled_by_another_node_and_its_generation_never_reused() {
    let url = fresh_database().await;
    let (_tmp, data) = temp_data_dir();
    // An API node without workers: only the child worker can train.
    let api = node(&data, &url, &["--workers", "0", "--lease-secs", "3"]);
    ok(
        &api.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    ok(
        &api.base,
        "POST",
        &format!("{POP}/instances"),
        Some(r#"{"instanceName":"p","modelType":"pop"}"#),
    )
    .await;
    let data_dir = data.to_string_lossy().to_string();
    let worker = Process::child(
        "child_worker",
        &[
            (slow_worker::DATABASE_URL_VAR, &url),
            (slow_worker::DATA_DIR_VAR, &data_dir),
        ],
        WORKER_READY,
    );
    ok(&api.base, "POST", &format!("{POP}/instances/p/tasks"), None).await;
    wait_task(&api.base, "p", "1", |t| {
        t["Progress"].as_i64().unwrap_or(0) > 1
    })
    .await;
    worker.kill();

    // The lease (3 s) runs out; the API node's reconciler fails the task with the reason.
    let failed = wait_task(&api.base, "p", "1", |t| t["Status"] != "running").await;
    assert_eq!(failed["Status"], "failed", "{failed}");
    let info: Value = serde_json::from_str(failed["ExtendInfo"].as_str().unwrap()).unwrap();
    let errors = info["errors"].to_string();
    assert!(errors.contains("lease"), "{errors}");
    let again = ok(&api.base, "POST", &format!("{POP}/instances/p/tasks"), None).await;
    assert_eq!(again["Result"]["Generation"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_api_process_loses_no_acknowledged_event() {
    let url = fresh_database().await;
    let (_tmp, data) = temp_data_dir();
    let a = node(&data, &url, &["--workers", "0"]);
    let b = node(&data, &url, &["--workers", "0"]);
    ok(
        &a.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    let bulk = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/behavior/actions/bulk";
    let acknowledged = Arc::new(AtomicU64::new(0));
    let (base, counter) = (a.base.clone(), Arc::clone(&acknowledged));
    let pusher = tokio::spawn(async move {
        let now = algocenter_domain::now_ms();
        for batch in 0u64.. {
            let records: Vec<Value> = (0..100)
                .map(|i| {
                    json!({"cmd": "ADD", "fields": {"user_id": format!("u{batch}"), "biz_id": "1",
                        "trace_id": "t", "rn": format!("rn{batch}"), "item_id": format!("i{i}"),
                        "item_type": "item", "bhv_type": "click", "bhv_time": now, "reach_time": now}})
                })
                .collect();
            let body = Value::Array(records).to_string();
            match support::signed(&base, "POST", bulk, Some(&body))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    counter.fetch_add(100, Ordering::SeqCst);
                }
                _ => break,
            }
        }
    });
    wait_until(
        "3,000 acknowledged records",
        Duration::from_secs(60),
        || async { (acknowledged.load(Ordering::SeqCst) >= 3_000).then_some(()) },
    )
    .await;
    a.kill();
    pusher.await.unwrap();
    let acked = acknowledged.load(Ordering::SeqCst);
    let status = ok(
        &b.base,
        "GET",
        "/v4/openapi/app-groups/shop/data-status",
        None,
    )
    .await;
    let stored = status["Result"]["totals"]["clicks"].as_u64().unwrap();
    assert!(
        stored >= acked && stored <= acked + 100,
        "stored {stored}, acknowledged {acked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_firing_seen_by_two_nodes_queues_one_task() {
    let url = fresh_database().await;
    let (_tmp, data) = temp_data_dir();
    let a = node(&data, &url, &["--workers", "0"]);
    let b = node(&data, &url, &["--workers", "0"]);
    ok(
        &a.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    // Next firing next January; then both nodes are told it is due now, as if the time had come.
    let body = r#"{"instanceName":"p","modelType":"pop","cron":"0 3 1 1 *"}"#;
    ok(&b.base, "POST", &format!("{POP}/instances"), Some(body)).await;
    let due = std::process::Command::new("psql")
        .args(["-q", "-X", "-v", "ON_ERROR_STOP=1", &url, "-c"])
        .arg(format!(
            "UPDATE instance SET next_fire_ms = {} WHERE name = 'p'",
            algocenter_domain::now_ms() - 1
        ))
        .output()
        .unwrap();
    assert!(
        due.status.success(),
        "{}",
        String::from_utf8_lossy(&due.stderr)
    );
    let tasks = format!("{POP}/instances/p/tasks");
    wait_until("the cron to fire", Duration::from_secs(20), || async {
        let listed = ok(&a.base, "GET", &tasks, None).await;
        (listed["TotalCount"].as_u64().unwrap_or(0) > 0).then_some(())
    })
    .await;
    // The claim is that nothing more happens, which only a stretch of time can show: both schedulers look
    // every second, so three more seconds of watching cover several looks by each after the firing.
    let watched = Instant::now();
    let tasks = loop {
        let listed = ok(&b.base, "GET", &tasks, None).await;
        assert_eq!(listed["TotalCount"], 1, "{listed}");
        if watched.elapsed() > Duration::from_secs(3) {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let run_id = tasks["Result"][0]["RunId"].as_str().unwrap();
    assert!(run_id.starts_with("scheduled__"), "{run_id}");
}

/// The headers of one signed request addressed to `host`, to send unchanged to any node (behind a load balancer
/// every node sees the same `Host`).
fn captured(host: &str, path: &str) -> Vec<(String, String)> {
    let credentials = algocenter_auth::client::Credentials {
        key_id: support::ADMIN_ID.into(),
        secret: support::ADMIN_SECRET.into(),
    };
    let mut headers =
        algocenter_auth::client::acs3_headers("GET", host, path, b"", "Test", &credentials)
            .unwrap();
    // The client leaves `host` to the HTTP client (which would name the node it is sent to): it is part of the
    // signature, so it goes along.
    headers.push(("host".to_string(), host.to_string()));
    headers
}

/// Sends captured headers: (status, code).
async fn send_captured(base: &str, headers: &[(String, String)], path: &str) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    (
        status,
        body["Code"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_refused_by_every_node_and_a_key_s_rate_is_shared() {
    let url = fresh_database().await;
    let (_tmp, data) = temp_data_dir();
    // One request a second, bursts of three: for the whole cluster, not per node.
    let limited = ["--workers", "0", "--rate-limit", "1", "--rate-burst", "3"];
    let a = node(&data, &url, &limited);
    let b = node(&data, &url, &limited);
    let path = "/v4/openapi/app-groups";
    let host = a.base.trim_start_matches("http://").to_string();
    let first = captured(&host, path);
    assert_eq!(send_captured(&a.base, &first, path).await.0, 200);
    for node in [&b.base, &a.base] {
        assert_eq!(
            send_captured(node, &first, path).await,
            (400, "SignatureNonceUsed".to_string()),
            "{node}"
        );
    }
    // Two more fresh requests fill the burst (the replays took no token); the next, on either node, waits.
    for node in [&b.base, &a.base] {
        let (status, code) = send_captured(node, &captured(&host, path), path).await;
        assert_eq!(status, 200, "{node}: {code}");
    }
    let (status, code) = send_captured(&b.base, &captured(&host, path), path).await;
    assert_eq!((status, code.as_str()), (429, "Throttling.User"));
}

/// Form fields of a dashboard request as `application/x-www-form-urlencoded`.
fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_session_started_on_one_node_is_served_and_ended_by_another() {
    let url = fresh_database().await;
    let (_tmp, data) = temp_data_dir();
    let a = node(&data, &url, &["--workers", "0"]);
    let b = node(&data, &url, &["--workers", "0"]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .post(format!("{}/ui/login", a.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("key_id", support::ADMIN_ID),
            ("secret", support::ADMIN_SECRET),
            ("next", "/ui"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = |base: String| {
        let (http, cookie) = (http.clone(), cookie.clone());
        async move {
            let response = http
                .get(format!("{base}/ui"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, html) = page(b.base.clone()).await;
    assert_eq!(status, 200, "the other node serves the session: {html}");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let logout = http
        .post(format!("{}/ui/logout", b.base))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &csrf)]))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    let (status, _) = page(a.base.clone()).await;
    assert_eq!(status, 303, "logged out on every node");
}
