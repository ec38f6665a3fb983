//! Data collection as an operator sees it: the CLI's generate and push, and pushes that survive `kill -9`.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use algocenter_testkit::{Deadline, wait_until};
use serde_json::{Value, json};
use support::{BINARY, Process, admin_env, call, temp_data_dir};

const BULK: &str =
    "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/behavior/actions/bulk";

fn cli(base: &str, args: &[&str]) -> std::process::Output {
    admin_env(&mut std::process::Command::new(BINARY))
        .arg("--endpoint")
        .arg(base)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn clicks_stored(base: &str) -> u64 {
    let (status, body) = call(base, "GET", "/v4/openapi/app-groups/shop/data-status", None).await;
    assert_eq!(status, 200, "{body}");
    body["Result"]["totals"]["clicks"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_pushes_survive_kill_9() {
    let (_tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    call(
        &server.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    let acknowledged = Arc::new(AtomicU64::new(0));
    let base = server.base.clone();
    let counter = Arc::clone(&acknowledged);
    // One client pushing batches of 100 distinct clicks as fast as it can, counting acknowledged batches.
    let pusher = tokio::spawn(async move {
        let now = algocenter_domain::now_ms();
        for batch in 0u64.. {
            let records: Vec<Value> = (0..100)
                .map(|i| {
                    json!({"cmd": "ADD", "fields": {"user_id": format!("u{batch}"), "biz_id": "1", "trace_id": "t",
                        "rn": format!("rn{batch}"), "item_id": format!("i{i}"), "item_type": "item",
                        "bhv_type": "click", "bhv_time": now, "reach_time": now}})
                })
                .collect();
            let body = Value::Array(records).to_string();
            let sent = support::signed(&base, "POST", BULK, Some(&body))
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    counter.fetch_add(100, Ordering::SeqCst);
                }
                _ => break,
            }
        }
    });
    wait_until(
        "5,000 acknowledged records",
        Duration::from_secs(60),
        || async { (acknowledged.load(Ordering::SeqCst) >= 5_000).then_some(()) },
    )
    .await;
    server.kill();
    pusher.await.unwrap();
    let acked = acknowledged.load(Ordering::SeqCst);

    let server = Process::serve(&data, &[]);
    let stored = clicks_stored(&server.base).await;
    // Every acknowledged record is there; at most the one batch in flight at the kill may be there too.
    assert!(
        stored >= acked && stored <= acked + 100,
        "stored {stored}, acknowledged {acked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_then_push_with_the_cli_and_train_pop() {
    let (tmp, data) = temp_data_dir();
    let out = tmp.path().join("gen");
    let generated = std::process::Command::new(BINARY)
        .args(["generate", "--events", "40000", "--days", "7", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    for file in [
        "items.jsonl",
        "users.jsonl",
        "behavior.jsonl",
        "truth_items.csv",
        "truth_queries.csv",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }

    let server = Process::serve(&data, &[]);
    assert!(
        cli(&server.base, &["app", "create", "shop"])
            .status
            .success()
    );
    let items = cli(
        &server.base,
        &[
            "push",
            "--app",
            "shop",
            "--type",
            "item_info",
            out.join("items.jsonl").to_str().unwrap(),
        ],
    );
    assert!(
        items.status.success(),
        "{}",
        String::from_utf8_lossy(&items.stderr)
    );
    let behaviour = cli(
        &server.base,
        &[
            "--json",
            "push",
            "--app",
            "shop",
            "--type",
            "behavior",
            out.join("behavior.jsonl").to_str().unwrap(),
        ],
    );
    assert!(
        behaviour.status.success(),
        "{}",
        String::from_utf8_lossy(&behaviour.stderr)
    );
    let summary: Value = serde_json::from_str(stdout(&behaviour).trim()).unwrap();
    let lines = std::fs::read_to_string(out.join("behavior.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(
        (summary["stored"].as_u64(), summary["refused"].as_u64()),
        (Some(lines), Some(0))
    );
    // The same file again: everything is a duplicate.
    let again = cli(
        &server.base,
        &[
            "--json",
            "push",
            "--app",
            "shop",
            "--type",
            "behavior",
            out.join("behavior.jsonl").to_str().unwrap(),
        ],
    );
    let summary: Value = serde_json::from_str(stdout(&again).trim()).unwrap();
    assert_eq!(
        (summary["stored"].as_u64(), summary["duplicates"].as_u64()),
        (Some(0), Some(lines))
    );

    let status = cli(&server.base, &["data", "status", "--app", "shop"]);
    let text = stdout(&status);
    assert!(text.contains("pop        yes"), "{text}");

    let pop = "/v4/openapi/app-groups/shop/functions/pop";
    call(
        &server.base,
        "POST",
        &format!("{pop}/instances"),
        Some(r#"{"instanceName":"p","modelType":"pop"}"#),
    )
    .await;
    call(
        &server.base,
        "POST",
        &format!("{pop}/instances/p/tasks"),
        None,
    )
    .await;
    let deadline = Deadline::after(Duration::from_secs(60));
    loop {
        let (_, task) = call(
            &server.base,
            "GET",
            &format!("{pop}/instances/p/tasks/1"),
            None,
        )
        .await;
        if task["Result"]["Status"] == "success" {
            break;
        }
        assert_ne!(task["Result"]["Status"], "failed", "{task}");
        deadline
            .again(format_args!("the run to succeed: {task}"))
            .await;
    }
    let (status, scores) = call(
        &server.base,
        "POST",
        &format!("{pop}/instances/p/predict"),
        Some(r#"{"items":["i0"]}"#),
    )
    .await;
    assert_eq!(status, 200, "{scores}");
}

#[tokio::test]
async fn push_reports_refused_lines_csv_and_gzip() {
    let (tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    cli(&server.base, &["app", "create", "shop"]);
    let now = algocenter_domain::now_ms();
    let good = format!(
        r#"{{"user_id":"u","biz_id":"1","trace_id":"t","rn":"r","item_id":"i","item_type":"item","bhv_type":"click","bhv_time":{now},"reach_time":{now}}}"#
    );
    let file = tmp.path().join("mixed.jsonl");
    std::fs::write(
        &file,
        format!("{good}\nnot json\n{{\"user_id\":\"u\"}}\n\n"),
    )
    .unwrap();
    let output = cli(
        &server.base,
        &[
            "push",
            "--app",
            "shop",
            "--type",
            "behavior",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "refused records make the exit code 1"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("mixed.jsonl:2: not JSON"), "{stderr}");
    assert!(
        stderr.contains("mixed.jsonl:3: bhv_type: is required"),
        "{stderr}"
    );
    assert!(
        stdout(&output).contains("stored 1 records"),
        "{}",
        stdout(&output)
    );

    let csv = tmp.path().join("clicks.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&csv).unwrap(),
        flate2::Compression::fast(),
    );
    writeln!(gz, "user_id,biz_id,trace_id,rn,item_id,item_type,bhv_type,bhv_time,reach_time,position,context.device").unwrap();
    for i in 0..10 {
        writeln!(
            gz,
            "u{i},1,t,r{i},i{i},item,click,{now},{now},{},ios",
            i + 1
        )
        .unwrap();
    }
    gz.finish().unwrap();
    let output = cli(
        &server.base,
        &[
            "--json",
            "push",
            "--app",
            "shop",
            "--type",
            "behavior",
            csv.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(summary["stored"], 10);
    assert_eq!(clicks_stored(&server.base).await, 11);

    let missing = cli(
        &server.base,
        &[
            "push",
            "--app",
            "ghost",
            "--type",
            "behavior",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("App.NotFound"));
}

#[tokio::test]
async fn export_gives_back_what_push_took() {
    let (tmp, data) = temp_data_dir();
    let out = tmp.path().join("gen");
    let generated = std::process::Command::new(BINARY)
        .args(["generate", "--events", "5000", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(generated.status.success());
    let server = Process::serve(&data, &[]);
    for app in ["shop", "copy"] {
        assert!(cli(&server.base, &["app", "create", app]).status.success());
    }
    let behaviour = out.join("behavior.jsonl");
    assert!(
        cli(
            &server.base,
            &[
                "push",
                "--app",
                "shop",
                "--type",
                "behavior",
                behaviour.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    assert!(
        cli(
            &server.base,
            &[
                "push",
                "--app",
                "shop",
                "--type",
                "item_info",
                out.join("items.jsonl").to_str().unwrap()
            ]
        )
        .status
        .success()
    );

    let exported = tmp.path().join("export.jsonl.gz");
    let output = cli(
        &server.base,
        &[
            "export",
            "--app",
            "shop",
            "--type",
            "behavior",
            "--out",
            exported.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = std::fs::read_to_string(&behaviour).unwrap().lines().count();
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("exported {lines} records")));

    // Re-imported into another app group, the export is the same data.
    let output = cli(
        &server.base,
        &[
            "--json",
            "push",
            "--app",
            "copy",
            "--type",
            "behavior",
            exported.to_str().unwrap(),
        ],
    );
    let summary: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(summary["stored"].as_u64(), Some(lines as u64));
    let status = |app: &'static str| {
        let base = server.base.clone();
        async move {
            call(
                &base,
                "GET",
                &format!("/v4/openapi/app-groups/{app}/data-status"),
                None,
            )
            .await
            .1["Result"]["days"]
                .clone()
        }
    };
    assert_eq!(status("shop").await, status("copy").await);

    let items = cli(
        &server.base,
        &["export", "--app", "shop", "--type", "item_info"],
    );
    assert_eq!(
        stdout(&items).lines().count(),
        std::fs::read_to_string(out.join("items.jsonl"))
            .unwrap()
            .lines()
            .count()
    );
    let recent = cli(
        &server.base,
        &[
            "export", "--app", "shop", "--type", "behavior", "--days", "1",
        ],
    );
    let recent_lines = stdout(&recent).lines().count();
    assert!(
        recent_lines > 0 && recent_lines < lines,
        "{recent_lines} of {lines}"
    );
    let ghost = cli(
        &server.base,
        &["export", "--app", "ghost", "--type", "behavior"],
    );
    assert_eq!(ghost.status.code(), Some(1));
}
