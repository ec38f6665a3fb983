//! PostgreSQL out of space: the event blocks' table is moved to a tablespace on a small file system of its own,
//! which pushes then fill. Needs the test cluster on this machine and permission to mount (skipped otherwise).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

use algocenter_domain::app_group::NewAppGroup;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::{Error, now_ms};
use tokio_postgres::NoTls;

use super::PostgresStore;
use super::testing::{TEST_DATABASE_URL, fresh_database};
use crate::small_disk::SmallDisk;
use crate::{AppGroupStore, EventStore};

/// A push of 200 events whose item ids are pseudo-random (so that their block hardly compresses).
fn batch(number: u64, seed: &mut u64) -> Vec<BehaviourEvent> {
    let at = 1_790_000_000_000 + number as i64;
    (0..200)
        .map(|i| {
            let mut item = String::new();
            for _ in 0..4 {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                item.push_str(&format!("{:016x}", *seed));
            }
            BehaviourEvent {
                user_id: format!("u{i}"),
                imei: String::new(),
                biz_id: "default".into(),
                trace_id: "Alibaba".into(),
                rn: format!("rn{number}"),
                item_id: item,
                item_type: "item".into(),
                bhv_type: "click".into(),
                bhv_time_ms: at,
                reach_time_ms: at,
                raw_query: String::new(),
                hits: None,
                position: Some(1),
                context: vec![],
                extra: vec![],
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_storage_full_loses_no_acknowledged_push_and_passes() {
    let url = fresh_database().await;
    let store = PostgresStore::connect(&url, 2).await.unwrap();
    let client = store.client().await.unwrap();
    // The tablespace's directory must belong to the server's user: that of its data directory, if it is here.
    let data_dir: String = client
        .query_one("SHOW data_directory", &[])
        .await
        .unwrap()
        .get(0);
    let Ok(server_files) = std::fs::metadata(&data_dir) else {
        eprintln!("skipped: the test cluster's data directory {data_dir} is not on this machine");
        return;
    };
    let tag = format!("{}_{}", std::process::id(), now_ms());
    let mount = std::env::temp_dir().join(format!("algocenter-pg-disk-{tag}"));
    let disk = match SmallDisk::mount(&mount, 4 << 20) {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: no small file system for this test: {why}");
            return;
        }
    };
    let location = disk.path().join("pg");
    std::fs::create_dir(&location).unwrap();
    std::os::unix::fs::chown(
        &location,
        Some(server_files.uid()),
        Some(server_files.gid()),
    )
    .unwrap();
    let tablespace = format!("small_{tag}");
    // One statement each: CREATE TABLESPACE refuses to run inside a transaction, which a batch is.
    for statement in [
        format!(
            "CREATE TABLESPACE {tablespace} LOCATION '{}'",
            location.display()
        ),
        format!("ALTER TABLE event_block SET TABLESPACE {tablespace}"),
    ] {
        client.batch_execute(&statement).await.unwrap();
    }
    let app = NewAppGroup {
        name: "shop".into(),
        app_type: "enhanced".into(),
        description: String::new(),
        extra: Default::default(),
    };
    store.create_app_group(app, 0).await.unwrap();
    disk.fill(256 * 1024).unwrap();

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut acknowledged = HashSet::new();
    let mut full = None;
    for number in 0..2000 {
        let events = batch(number, &mut seed);
        let keys: Vec<u64> = events.iter().map(|e| e.dedup_key()).collect();
        match store.append_events("shop", events).await {
            Ok(outcome) => {
                assert_eq!(outcome.stored, 200);
                acknowledged.extend(keys);
            }
            Err(e) => {
                full = Some(e);
                break;
            }
        }
    }
    match &full {
        Some(Error::StorageFull(message)) => assert!(message.contains("53100"), "{message}"),
        other => panic!(
            "expected storage full after {} events: {other:?}",
            acknowledged.len()
        ),
    }
    assert!(
        !acknowledged.is_empty(),
        "some pushes fit before the disk filled"
    );

    let stored = tokio::task::spawn_blocking({
        let store = store.clone();
        move || {
            let data = store.training_data("shop").unwrap();
            let mut keys = HashSet::new();
            data.for_each_event(0, i64::MAX, &mut |e| {
                keys.insert(e.dedup_key());
                Ok(())
            })
            .unwrap();
            keys
        }
    })
    .await
    .unwrap();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged event, and only those, is stored"
    );

    disk.free().unwrap();
    let outcome = store
        .append_events("shop", batch(9999, &mut seed))
        .await
        .unwrap();
    assert_eq!(outcome.stored, 200, "pushes pass again once space is freed");

    // The tablespace lives on the small disk: remove it (and the database in it) before the disk goes.
    drop(client);
    drop(store);
    let base = std::env::var(TEST_DATABASE_URL).unwrap();
    let (admin, connection) = tokio_postgres::connect(&base, NoTls).await.unwrap();
    tokio::spawn(connection);
    let database = url.rsplit('/').next().unwrap();
    for statement in [
        format!("DROP DATABASE {database} WITH (FORCE)"),
        format!("DROP TABLESPACE {tablespace}"),
    ] {
        admin.batch_execute(&statement).await.unwrap();
    }
}
