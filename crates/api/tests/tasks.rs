//! Training tasks over real HTTP: queued and run by the engine with progress, listed, cancelled, deleted with
//! their artifacts, pinned, and one task for fifty concurrent requests.

mod support;

use std::sync::Arc;
use std::time::Duration;

use algocenter_testkit::{Deadline, wait_until};
use serde_json::{Value, json};
use support::{POP, pop_instance, shop};
#[tokio::test]
async fn tasks_queue_run_report_progress_and_list() {
    let server = shop(1).await;
    pop_instance(&server, "p").await;
    let created = server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await;
    assert_eq!(created.assert_ok()["Result"]["Generation"], "1");
    let mut seen = Vec::new();
    let deadline = Deadline::after(Duration::from_secs(20));
    let task = loop {
        let task = server
            .call("GET", &format!("{POP}/instances/p/tasks/1"), None)
            .await
            .body["Result"]
            .clone();
        seen.push(task["Progress"].as_i64().unwrap());
        if task["Status"] != "running" {
            break task;
        }
        deadline.again(format_args!("the run to end: {task}")).await;
    };
    assert_eq!(
        (task["Status"].as_str(), task["Progress"].as_i64()),
        (Some("success"), Some(100))
    );
    assert!(
        seen.iter().any(|p| (1..100).contains(p)),
        "progress moved while running: {seen:?}"
    );
    let info: Value = serde_json::from_str(task["ExtendInfo"].as_str().unwrap()).unwrap();
    assert_eq!(
        (info["recall"].as_i64(), info["errors"].clone()),
        (Some(91), json!([]))
    );
    assert!(task["RunId"].as_str().unwrap().starts_with("trigger__"));
    assert!(task["EndTime"].as_i64().unwrap() >= task["StartTime"].as_i64().unwrap());
    let instance = server
        .call("GET", &format!("{POP}/instances/p?output=detail"), None)
        .await
        .body["Result"]
        .clone();
    assert_eq!(
        (
            instance["Status"].as_str(),
            instance["Task"]["DagStatus"].as_str()
        ),
        (Some("available"), Some("success"))
    );

    server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await
        .assert_ok();
    server.wait_task("shop", "pop", "p", "2").await;
    let listed = server
        .call("GET", &format!("{POP}/instances/p/tasks"), None)
        .await;
    assert_eq!(listed.body["TotalCount"], 2);
    assert_eq!(
        listed.body["Result"].as_array().unwrap().len(),
        1,
        "pageSize defaults to 1"
    );
    assert_eq!(listed.body["Result"][0]["Generation"], "2", "newest first");
    let success = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?status=success&pageSize=10"),
            None,
        )
        .await;
    assert_eq!(success.body["TotalCount"], 2);
    let none = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?status=failed"),
            None,
        )
        .await;
    assert_eq!(none.body["TotalCount"], 0);
    let future = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?startTime=4102444800000"),
            None,
        )
        .await;
    assert_eq!(future.body["TotalCount"], 0);
    let in_seconds = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?endTime=4102444800"),
            None,
        )
        .await;
    assert_eq!(
        in_seconds.body["TotalCount"], 2,
        "times below 10^11 are read as seconds"
    );
    server
        .call("GET", &format!("{POP}/instances/p/tasks?status=done"), None)
        .await
        .assert_error(400, "InvalidParameter");
    server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?startTime=yesterday"),
            None,
        )
        .await
        .assert_error(400, "InvalidParameter");

    // Both generations' artifacts exist until generation 1 is deleted with its record.
    let artifact_files = || {
        let mut names: Vec<String> = std::fs::read_dir(server.dir.path().join("artifacts/1"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(artifact_files(), ["1.bin", "2.bin"]);
    server
        .call("DELETE", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_ok();
    server
        .call("GET", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_error(404, "Task.NotExist");
    wait_until(
        "the deleted generation's artifact to be removed",
        Duration::from_secs(5),
        || async { (artifact_files() == ["2.bin"]).then_some(()) },
    )
    .await;
    server
        .call("DELETE", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_error(404, "Task.NotExist");
}

#[tokio::test]
async fn queued_tasks_show_as_running_and_can_be_cancelled() {
    // No workers: tasks stay queued, like on an API-only node.
    let server = shop(0).await;
    pop_instance(&server, "p").await;
    server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await
        .assert_ok();
    let task = server
        .call("GET", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .body["Result"]
        .clone();
    assert_eq!(
        (
            task["Status"].as_str(),
            task["Progress"].as_i64(),
            task["EndTime"].as_i64()
        ),
        (Some("running"), Some(0), Some(0))
    );
    server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await
        .assert_error(409, "Task.IsRunning");
    server
        .call("DELETE", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_error(409, "Task.IsRunning");
    server
        .call("DELETE", &format!("{POP}/instances/p"), None)
        .await
        .assert_error(409, "Task.IsRunning");
    server
        .call("DELETE", "/v4/openapi/app-groups/shop", None)
        .await
        .assert_error(409, "Task.IsRunning");
    let detail = server
        .call("GET", &format!("{POP}/instances/p?output=detail"), None)
        .await;
    assert_eq!(detail.body["Result"]["Task"]["DagStatus"], "pending");
    let cancelled = server
        .call(
            "POST",
            &format!("{POP}/instances/p/tasks/1/actions/cancel"),
            None,
        )
        .await;
    assert_eq!(cancelled.assert_ok()["Result"]["Status"], "failed");
    assert_eq!(
        cancelled.body["Result"]["ExtendInfo"],
        r#"{"errors":["cancelled"]}"#
    );
    server
        .call(
            "POST",
            &format!("{POP}/instances/p/tasks/1/actions/cancel"),
            None,
        )
        .await
        .assert_error(409, "Task.Finished");
    server
        .call(
            "POST",
            &format!("{POP}/instances/p/tasks/7/actions/cancel"),
            None,
        )
        .await
        .assert_error(404, "Task.NotExist");
    server
        .call("POST", &format!("{POP}/instances/p/tasks"), None)
        .await
        .assert_ok();
}

#[tokio::test]
async fn pinning_holds_the_serving_generation_until_unpinned() {
    let server = shop(1).await;
    pop_instance(&server, "p").await;
    let train = || async {
        let created = server
            .call("POST", &format!("{POP}/instances/p/tasks"), None)
            .await;
        let generation = created.assert_ok()["Result"]["Generation"]
            .as_str()
            .unwrap()
            .to_string();
        server.wait_task("shop", "pop", "p", &generation).await;
    };
    let generations = || async {
        let instance = server
            .call("GET", &format!("{POP}/instances/p"), None)
            .await
            .body["Result"]
            .clone();
        let info: Value = serde_json::from_str(instance["ExtendInfo"].as_str().unwrap()).unwrap();
        (
            info["serving_generation"].as_i64(),
            info["pinned_generation"].as_i64(),
        )
    };
    let pin = format!("{POP}/instances/p/pinned-generation");
    server
        .call("PUT", &pin, Some(r#"{"generation": 1}"#))
        .await
        .assert_error(404, "Task.NotExist");
    train().await;
    train().await;
    assert_eq!(generations().await, (Some(2), None));

    for body in [
        "{}",
        r#"{"generation": null}"#,
        r#"{"generation": [1]}"#,
        "[1",
    ] {
        server
            .call("PUT", &pin, Some(body))
            .await
            .assert_error(400, "InvalidParameter");
    }
    let pinned = server.call("PUT", &pin, Some(r#"{"generation": 1}"#)).await;
    assert!(
        pinned.assert_ok()["Result"]["ExtendInfo"]
            .as_str()
            .unwrap()
            .contains(r#""pinned_generation":1"#)
    );
    train().await;
    assert_eq!(
        generations().await,
        (Some(1), Some(1)),
        "generation 3 trained but the pin holds"
    );
    server
        .call("DELETE", &format!("{POP}/instances/p/tasks/1"), None)
        .await
        .assert_error(409, "Task.IsPinned");
    server.call("DELETE", &pin, None).await.assert_ok();
    assert_eq!(generations().await, (Some(3), None));
    // A string generation, as the task API spells it.
    server
        .call("PUT", &pin, Some(r#"{"generation": "2"}"#))
        .await
        .assert_ok();
    assert_eq!(generations().await, (Some(2), Some(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_create_task_calls_make_one_task() {
    let server = Arc::new(shop(0).await);
    pop_instance(&server, "p").await;
    let mut calls = Vec::new();
    for _ in 0..50 {
        let server = Arc::clone(&server);
        calls.push(tokio::spawn(async move {
            let answer = server
                .call("POST", &format!("{POP}/instances/p/tasks"), None)
                .await;
            (answer.status, answer.code().to_string())
        }));
    }
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    let created = outcomes.iter().filter(|(s, _)| *s == 200).count();
    let running = outcomes
        .iter()
        .filter(|(s, c)| *s == 409 && c == "Task.IsRunning")
        .count();
    assert_eq!((created, running), (1, 49), "{outcomes:?}");
    let listed = server
        .call(
            "GET",
            &format!("{POP}/instances/p/tasks?pageSize=100"),
            None,
        )
        .await;
    assert_eq!(listed.body["TotalCount"], 1);
}
