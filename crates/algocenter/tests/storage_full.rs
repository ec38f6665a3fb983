//! Running out of space with the real binary: pushes on a full disk answer 507 `Storage.Full` with a
//! `Retry-After`, lose nothing they acknowledged and pass again once space is freed, without a restart; a training
//! task whose artifact finds no room fails with `storage full: …`. The full disks are small tmpfs mounts of the
//! test's own (skipped, saying why, where this machine does not allow mounting).

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use algocenter_store::small_disk::SmallDisk;
use serde_json::{Value, json};
use support::{Process, call, signed, temp_data_dir};

const BULK: &str =
    "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/behavior/actions/bulk";
const EXPORT: &str = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/behavior/actions/export";
const POP: &str = "/v4/openapi/app-groups/shop/functions/pop";

fn small_disk(at: &Path, bytes: u64) -> Option<SmallDisk> {
    match SmallDisk::mount(at, bytes) {
        Ok(disk) => Some(disk),
        Err(why) => {
            eprintln!("skipped: no small file system for this test: {why}");
            None
        }
    }
}

/// The push records of batch `batch`: `events` clicks whose item ids hardly compress, so that the disk fills soon.
fn records(batch: u64, events: u64, seed: &mut u64) -> Vec<Value> {
    let now = algocenter_domain::now_ms();
    (0..events)
        .map(|i| {
            let mut item = String::new();
            for _ in 0..4 {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                item.push_str(&format!("{:016x}", *seed));
            }
            json!({"cmd": "ADD", "fields": {"user_id": format!("u{}", i % 10), "biz_id": "1", "trace_id": "t",
                "rn": format!("rn{batch}"), "item_id": item, "item_type": "item", "bhv_type": "click",
                "bhv_time": now, "reach_time": now}})
        })
        .collect()
}

/// `(rn, item_id)` of every record.
fn keys(records: &[Value]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|r| {
            let fields = &r["fields"];
            (
                fields["rn"].as_str().unwrap().to_string(),
                fields["item_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Pushes a batch: the HTTP status, the `Retry-After` header and the body.
async fn push(base: &str, records: &[Value]) -> (u16, Option<String>, Value) {
    let body = Value::Array(records.to_vec()).to_string();
    let response = signed(base, "POST", BULK, Some(&body))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    (status, retry_after, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_on_a_full_disk_answer_507_lose_nothing_acknowledged_and_resume_once_space_is_freed()
{
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = small_disk(&tmp.path().join("disk"), 24 << 20) else {
        return;
    };
    let server = Process::serve(&disk.path().join("data"), &[]);
    let (status, body) = call(
        &server.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Room for some pushes, then none: the database runs into the end of the file system.
    disk.fill(3 << 20).unwrap();

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut acknowledged = HashSet::new();
    let mut refusal = None;
    for batch in 0..5000 {
        let records = records(batch, 500, &mut seed);
        let (status, retry_after, body) = push(&server.base, &records).await;
        match status {
            200 => acknowledged.extend(keys(&records)),
            507 => {
                refusal = Some((retry_after, body));
                break;
            }
            other => panic!("push {batch} answered {other}: {body}"),
        }
    }
    let Some((retry_after, body)) = refusal else {
        panic!(
            "the disk never filled ({} records stored)",
            acknowledged.len()
        )
    };
    assert!(
        !acknowledged.is_empty(),
        "some pushes fit before the disk filled"
    );
    assert_eq!(body["errors"][0]["code"], "Storage.Full", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("storage full: "),
        "{body}"
    );
    let seconds: u64 = retry_after.expect("a Retry-After header").parse().unwrap();
    assert!(seconds > 0);

    // Reads still work on a full disk, and every acknowledged record is there.
    let exported = signed(&server.base, "GET", EXPORT, None)
        .send()
        .await
        .unwrap();
    assert_eq!(exported.status().as_u16(), 200);
    let text = exported.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stored: HashSet<(String, String)> = keys(&lines).into_iter().collect();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged record, and only those, is stored"
    );

    // Freed space: pushes pass again, without a restart.
    disk.free().unwrap();
    let later = records(1_000_000, 500, &mut seed);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = push(&server.base, &later).await;
        if status == 200 {
            assert_eq!(body["stored"].as_u64(), Some(500), "{body}");
            break;
        }
        assert_eq!(status, 507, "{body}");
        assert!(
            Instant::now() < deadline,
            "pushes still refused after space was freed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, data) = call(
        &server.base,
        "GET",
        "/v4/openapi/app-groups/shop/data-status",
        None,
    )
    .await;
    assert_eq!(status, 200, "{data}");
    assert_eq!(
        data["Result"]["totals"]["clicks"].as_u64(),
        Some(acknowledged.len() as u64 + 500)
    );
    drop(server);
}

/// Starts a run of pop instance `p` (its generation `generation`) and waits until it ends; answers the task.
async fn train(base: &str, generation: u32) -> Value {
    call(base, "POST", &format!("{POP}/instances/p/tasks"), None).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, task) = call(
            base,
            "GET",
            &format!("{POP}/instances/p/tasks/{generation}"),
            None,
        )
        .await;
        if task["Result"]["Status"] != "running" {
            return task["Result"].clone();
        }
        assert!(Instant::now() < deadline, "{task}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_artifact_finds_no_space_fails_with_storage_full() {
    let (_tmp, data) = temp_data_dir();
    // The database has room; the artifacts' directory is a file system of its own, full to the last byte.
    let Some(disk) = small_disk(&data.join("artifacts"), 256 << 10) else {
        return;
    };
    disk.fill(0).unwrap();
    let server = Process::serve(&data, &[]);
    call(
        &server.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut clicks = records(0, 300, &mut seed);
    // Three days old: training holds out the most recent day.
    let at = algocenter_domain::now_ms() - 3 * algocenter_domain::data::DAY_MS;
    for (i, record) in clicks.iter_mut().enumerate() {
        let fields = &mut record["fields"];
        fields["item_id"] = json!(format!("i{}", i % 20));
        fields["user_id"] = json!(format!("u{i}"));
        fields["bhv_time"] = json!(at);
        fields["reach_time"] = json!(at);
    }
    let (status, _, body) = push(&server.base, &clicks).await;
    assert_eq!(status, 200, "{body}");
    call(
        &server.base,
        "POST",
        &format!("{POP}/instances"),
        Some(r#"{"instanceName":"p","modelType":"pop"}"#),
    )
    .await;

    let task = train(&server.base, 1).await;
    assert_eq!(task["Status"], "failed", "{task}");
    let info: Value = serde_json::from_str(task["ExtendInfo"].as_str().unwrap()).unwrap();
    let reason = info["errors"][0].as_str().unwrap();
    assert!(
        reason.starts_with("storage full: could not store the artifact"),
        "{reason}"
    );

    disk.free().unwrap();
    let task = train(&server.base, 2).await;
    assert_eq!(
        task["Status"], "success",
        "training succeeds again once space is freed: {task}"
    );
    drop(server);
}
