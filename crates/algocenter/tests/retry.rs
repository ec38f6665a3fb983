//! Client commands that outlast a server going away: `algocenter push` retries the batch that was not
//! acknowledged, with backoff, and resumes there once the server is back.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{BINARY, Process, admin_env, call, temp_data_dir};

/// A free loopback port, for a server that has to come back on the same address.
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn click_line(i: u64, now: i64) -> String {
    json!({"user_id": format!("u{}", i % 50), "biz_id": "1", "trace_id": "t", "rn": format!("rn{i}"),
        "item_id": format!("i{}", i % 300), "item_type": "item", "bhv_type": "click", "bhv_time": now,
        "reach_time": now})
    .to_string()
}

async fn clicks_stored(base: &str) -> u64 {
    let (status, body) = call(base, "GET", "/v4/openapi/app-groups/shop/data-status", None).await;
    assert_eq!(status, 200, "{body}");
    body["Result"]["totals"]["clicks"].as_u64().unwrap_or(0)
}

/// Waits until `done` holds, or fails after `within`.
async fn wait_for<F: std::future::Future<Output = bool>>(
    within: Duration,
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_resumes_at_the_first_unacknowledged_batch_when_the_server_comes_back() {
    let (_tmp, data) = temp_data_dir();
    let address = free_address();
    let server = Process::serve_on(&data, &address);
    let base = server.base.clone();
    let (status, body) = call(
        &base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Records come from stdin, so the test decides what the client has read when the server dies.
    let mut push = admin_env(&mut Command::new(BINARY))
        .args([
            "--endpoint",
            &base,
            "push",
            "--app",
            "shop",
            "--type",
            "behavior",
        ])
        .args(["--batch", "1000", "--retries", "12", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = push.stdin.take().unwrap();
    let now = algocenter_domain::now_ms();
    for i in 0..1000 {
        writeln!(stdin, "{}", click_line(i, now)).unwrap();
    }
    stdin.flush().unwrap();
    wait_for(Duration::from_secs(30), "the first batch", || {
        let base = base.clone();
        async move { clicks_stored(&base).await == 1000 }
    })
    .await;

    // The server dies between two batches; the second batch meets a closed port. The rest of the records are
    // written from another thread: the client stops reading while it waits to retry.
    server.kill();
    let stderr = push.stderr.take().unwrap();
    let (notices_tx, notices) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("was not acknowledged") {
                let _ = notices_tx.send(line.clone());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let writer = std::thread::spawn(move || {
        for i in 1000..2500 {
            writeln!(stdin, "{}", click_line(i, now)).unwrap();
        }
    });
    let first_notice = notices
        .recv_timeout(Duration::from_secs(30))
        .expect("the client says it will retry");
    assert!(
        first_notice.contains("from line 1001") && first_notice.contains("retry 1 of 12"),
        "{first_notice}"
    );

    // Back on the same address: the client finishes on its own.
    let server = Process::serve_on(&data, &address);
    writer.join().unwrap();
    let output = push.wait_with_output().unwrap();
    let stderr = reader.join().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    // Every record once: the acknowledged first batch was not sent again, the rest arrived after the restart.
    assert!(
        stdout.contains("stored 2500 records, 0 duplicates"),
        "{stdout}"
    );
    assert_eq!(clicks_stored(&server.base).await, 2500);
}

#[test]
fn a_request_that_never_gets_through_fails_after_its_retries() {
    let address = free_address();
    let started = Instant::now();
    let output = admin_env(&mut Command::new(BINARY))
        .args(["--endpoint", &format!("http://{address}"), "--retries", "2"])
        .args(["app", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Exit 3: the server could not be reached; the two retries were said and waited for.
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr.matches("retry ").count(), 2, "{stderr}");
    assert!(stderr.contains("after 2 retries"), "{stderr}");
    assert!(
        started.elapsed() >= Duration::from_millis(750),
        "backoff waited"
    );
}
