//! A cluster under faults (issue 19): two API nodes and a worker on a durable throwaway PostgreSQL cluster of its
//! own (fsync on, so that an immediate stop is a real crash recovery).
//!
//! * A CLI push runs while PostgreSQL is stopped at once (`pg_ctl stop -m immediate`) and started again: the nodes
//!   answer `503 ServiceUnavailable` with `Retry-After` meanwhile, the push retries, resumes and completes on its
//!   own, and every acknowledged event is stored exactly once.
//! * A signed request accepted by one node is refused as a replay by the other, before and after the crash.
//! * A worker killed in the middle of a task: the task fails when its lease runs out, and the next generation
//!   trains on another worker and succeeds.
//!
//! Needs PostgreSQL's server binaries (`scripts/postgres-test-cluster` installs them when missing).

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use algocenter_auth::client::{Credentials, acs3_headers};
use algocenter_testkit::{Deadline, wait_until};
use serde_json::Value;
use support::{
    ADMIN_ID, ADMIN_SECRET, BINARY, Process, WORKER_READY, admin_env, call, slow_worker,
};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/postgres-test-cluster"
);
const POP: &str = "/v4/openapi/app-groups/shop/functions/pop";

/// A PostgreSQL cluster of this test alone, with PostgreSQL's durable defaults; removed when dropped.
struct Database {
    dir: String,
    url: String,
}

impl Database {
    fn start() -> Database {
        let out = Command::new(SCRIPT)
            .arg("start")
            .env("ALGOCENTER_PG_DURABLE", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let exports = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            exports
                .lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("{name} in {exports}"))
                .to_string()
        };
        Database {
            dir: var("ALGOCENTER_TEST_PG_DIR"),
            url: var("ALGOCENTER_TEST_DATABASE_URL"),
        }
    }

    fn script(&self, command: &str) {
        let status = Command::new(SCRIPT)
            .args([command, &self.dir])
            .status()
            .unwrap();
        assert!(status.success(), "postgres-test-cluster {command}");
    }

    fn psql(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", &self.url, "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new(SCRIPT).args(["stop", &self.dir]).status();
    }
}

/// Not a test: a worker process with the slow trainer (started by the fault test through `Process::child`).
#[test]
#[ignore = "helper run as a child process by the fault test"]
fn child_slow_worker() {
    support::slow_worker::run_from_env();
}

async fn ok(base: &str, method: &str, path: &str, body: Option<&str>) -> Value {
    let (status, answer) = call(base, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

/// The headers of one signed `GET path` addressed to `host`, to send as they are to any node (behind a load
/// balancer, every node sees the same `Host`).
fn signed_headers(host: &str, path: &str) -> Vec<(String, String)> {
    let credentials = Credentials {
        key_id: ADMIN_ID.into(),
        secret: ADMIN_SECRET.into(),
    };
    let mut headers = acs3_headers("GET", host, path, b"", "Test", &credentials).unwrap();
    // The client leaves `host` to the HTTP client (which would name the node it is sent to): it is part of the
    // signature, so it goes along.
    headers.push(("host".to_string(), host.to_string()));
    headers
}

/// Sends captured headers to `base`: (status, code, Retry-After).
async fn send(
    base: &str,
    headers: &[(String, String)],
    path: &str,
) -> (u16, String, Option<String>) {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default();
    let code = body["Code"].as_str().unwrap_or_default().to_string();
    (status, code, retry_after)
}

/// A request accepted once is refused as a replay by both nodes.
async fn replay_is_refused_everywhere(nodes: [&str; 2], captured: &[(String, String)], path: &str) {
    for node in nodes {
        let (status, code, _) = send(node, captured, path).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "SignatureNonceUsed"),
            "{node}"
        );
    }
}

/// `algocenter push` in the background, its standard error collected as it comes.
struct Push {
    child: std::process::Child,
    stderr: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl Push {
    fn start(base: &str, app: &str, file: &Path) -> Push {
        let mut child = admin_env(&mut Command::new(BINARY))
            .args(["--endpoint", base, "--json", "push", "--app", app])
            .args(["--type", "behavior", "--batch", "100"])
            .arg(file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let pipe = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Push {
            child,
            stderr,
            reader,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit (bounded); answers the summary it printed.
    async fn finish(mut self, within: Duration) -> Value {
        let deadline = Deadline::after(within);
        while self.running() {
            deadline
                .again(format_args!("the push to finish: {}", self.stderr()))
                .await;
        }
        let status = self.child.wait().unwrap();
        let mut stdout = String::new();
        std::io::Read::read_to_string(self.child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        let _ = self.reader.join();
        let stderr = self.stderr.lock().unwrap().clone();
        assert!(status.success(), "push failed: {stdout}\n{stderr}");
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }
}

async fn task(base: &str, generation: &str) -> Value {
    ok(
        base,
        "GET",
        &format!("{POP}/instances/p/tasks/{generation}"),
        None,
    )
    .await["Result"]
        .clone()
}

async fn wait_task(base: &str, generation: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Deadline::after(Duration::from_secs(90));
    loop {
        let task = task(base, generation).await;
        if done(&task) {
            return task;
        }
        deadline.again(format_args!("p/{generation}: {task}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_survives_a_database_crash_a_replay_and_a_killed_worker() {
    let db = Database::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let node_args = [
        "--database-url",
        &db.url,
        "--workers",
        "0",
        "--lease-secs",
        "3",
    ];
    let a = Process::serve(&data, &node_args);
    let b = Process::serve(&data, &node_args);
    let nodes = [a.base.as_str(), b.base.as_str()];
    ok(
        &a.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;

    // A replay sent to the other node.
    let path = "/v4/openapi/app-groups/shop";
    let host = a.base.trim_start_matches("http://").to_string();
    let captured = signed_headers(&host, path);
    assert_eq!(send(&a.base, &captured, path).await.0, 200);
    replay_is_refused_everywhere(nodes, &captured, path).await;

    // A push of a file that takes several seconds, through a crash of the database.
    let generated = tmp.path().join("generated");
    let made = Command::new(BINARY)
        .args(["generate", "--events", "60000", "--days", "7", "--out"])
        .arg(&generated)
        .output()
        .unwrap();
    assert!(made.status.success());
    let file = generated.join("behavior.jsonl");
    let lines = std::fs::read_to_string(&file).unwrap().lines().count() as u64;
    let mut push = Push::start(&b.base, "shop", &file);
    let stored = || {
        db.psql(
            "SELECT coalesce(sum(c.events), 0) FROM event_count c JOIN app_group g ON g.id = c.app_id \
             WHERE g.name = 'shop'",
        )
    };
    wait_until(
        "the first batches to be stored",
        Duration::from_secs(60),
        || async { (stored() != "0").then_some(()) },
    )
    .await;
    db.script("crash");
    assert!(
        push.running(),
        "the push ended before the crash: make the file larger"
    );
    // Meanwhile the nodes say so in the SDK's terms: a passing outage, with a time to come back.
    let fresh = signed_headers(&host, path);
    let (status, code, retry_after) = send(&a.base, &fresh, path).await;
    assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)));
    wait_until(
        "the push to notice the outage",
        Duration::from_secs(60),
        || async { push.stderr().contains("was not acknowledged").then_some(()) },
    )
    .await;
    db.script("restart");
    let summary = push.finish(Duration::from_secs(120)).await;
    let (received, pushed, duplicates) = (
        summary["received"].as_u64().unwrap(),
        summary["stored"].as_u64().unwrap(),
        summary["duplicates"].as_u64().unwrap(),
    );
    assert_eq!(
        (received, summary["refused"].as_u64()),
        (lines, Some(0)),
        "{summary}"
    );
    assert_eq!(pushed + duplicates, received, "{summary}");
    // Every event of the file is stored once: as many as an uninterrupted push of the same file stores into an
    // app group of its own, and a second push stores nothing more. The database may hold more than this push was
    // told it stored: a batch committed just before the crash, whose answer was lost, is stored once and its
    // retry reports its events as duplicates.
    ok(
        &a.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"reference"}"#),
    )
    .await;
    let reference = Push::start(&a.base, "reference", &file)
        .finish(Duration::from_secs(120))
        .await;
    let distinct = reference["stored"].as_u64().unwrap();
    let held: u64 = stored().parse().unwrap();
    assert_eq!(held, distinct, "{summary} {reference}");
    assert!(
        (pushed..=pushed + duplicates).contains(&held),
        "{held} stored, {summary}"
    );
    let again = Push::start(&a.base, "shop", &file)
        .finish(Duration::from_secs(120))
        .await;
    assert_eq!(again["stored"], 0, "{again}");
    assert_eq!(stored(), distinct.to_string());

    // The nonces survived the crash: the replay is still refused everywhere.
    replay_is_refused_everywhere(nodes, &captured, path).await;

    // A worker killed in the middle of a task.
    ok(
        &a.base,
        "POST",
        &format!("{POP}/instances"),
        Some(r#"{"instanceName":"p","modelType":"pop"}"#),
    )
    .await;
    let data_dir = data.to_string_lossy().to_string();
    let slow = Process::child(
        "child_slow_worker",
        &[
            (slow_worker::DATABASE_URL_VAR, &db.url),
            (slow_worker::DATA_DIR_VAR, &data_dir),
        ],
        WORKER_READY,
    );
    ok(&b.base, "POST", &format!("{POP}/instances/p/tasks"), None).await;
    wait_task(&a.base, "1", |t| t["Progress"].as_i64().unwrap_or(0) > 1).await;
    slow.kill();
    let failed = wait_task(&b.base, "1", |t| t["Status"] != "running").await;
    assert_eq!(failed["Status"], "failed", "{failed}");
    assert!(
        failed["ExtendInfo"].as_str().unwrap().contains("lease"),
        "{failed}"
    );
    let worker = Process::worker(&data, &["--database-url", &db.url], &[]);
    let next = ok(&a.base, "POST", &format!("{POP}/instances/p/tasks"), None).await;
    assert_eq!(next["Result"]["Generation"], "2");
    let done = wait_task(&b.base, "2", |t| t["Status"] != "running").await;
    assert_eq!(done["Status"], "success", "{done}");
    drop(worker);
}
