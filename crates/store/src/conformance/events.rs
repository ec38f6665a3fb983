//! Behaviour events, items and users: de-duplication, windows, documents, data status, retention, concurrent
//! pushes, unreadable documents, sketches and blocks.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use algocenter_domain::Error;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::document::{Document, DocumentKind, DocumentOp};

use super::{APP, Backend, T0, collect, event, is_corrupt, with_app};
use crate::{AppendOutcome, Store};

pub async fn events_are_stored_once_and_read_back_by_window(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let day = 86_400_000;
    let batch: Vec<_> = (0..100)
        .map(|i| {
            event(
                &format!("u{}", i % 7),
                &format!("i{i}"),
                "click",
                T0 + i * 1000,
            )
        })
        .collect();
    let mut with_dup = batch[..10].to_vec();
    with_dup.push(batch[0].clone());
    let first = store.append_events(APP, with_dup).await.unwrap();
    assert_eq!(
        first,
        AppendOutcome {
            stored: 10,
            duplicates: 1
        },
        "a duplicate inside one request is stored once"
    );
    let second = store.append_events(APP, batch.clone()).await.unwrap();
    assert_eq!(
        second,
        AppendOutcome {
            stored: 90,
            duplicates: 10
        }
    );
    let next_day: Vec<_> = (0..5)
        .map(|i| event("u1", &format!("j{i}"), "search", T0 + day + i))
        .collect();
    store.append_events(APP, next_day).await.unwrap();
    assert!(matches!(
        store.append_events("ghost", batch.clone()).await,
        Err(Error::AppNotFound(_))
    ));

    let app = APP.to_string();
    let window = tokio::task::spawn_blocking({
        let store = Arc::clone(&store);
        move || {
            let data = store.training_data(&app).unwrap();
            let all = collect(&*data, 0, i64::MAX);
            let first_day = collect(&*data, T0, T0 + day);
            let slice = collect(&*data, T0 + 5_000, T0 + 15_000);
            let recent = data.recent_blocks(T0 + 50_000).unwrap();
            let mut of_newest = Vec::new();
            if let Some(newest) = recent.iter().max_by_key(|b| b.newest_ms) {
                data.for_each_event_of_block(newest.id, None, &mut |e| {
                    of_newest.push(e.to_event());
                    Ok(())
                })
                .unwrap();
            }
            (
                all,
                first_day,
                slice,
                data.estimate_events(T0 + day, i64::MAX).unwrap(),
                recent.iter().map(|b| b.newest_ms).collect::<HashSet<_>>(),
                of_newest,
            )
        }
    })
    .await
    .unwrap();
    let (all, first_day, slice, estimate, recent, of_newest) = window;
    assert_eq!(
        recent,
        HashSet::from([T0 + 99_000, T0 + day + 4]),
        "the blocks whose newest event is recent, by their newest event"
    );
    assert_eq!(of_newest, all[100..], "a block's events, in arrival order");
    assert_eq!(all.len(), 105);
    assert_eq!(first_day.len(), 100);
    assert_eq!(
        slice.iter().map(|e| e.bhv_time_ms).collect::<Vec<_>>(),
        (5..15).map(|i| T0 + i * 1000).collect::<Vec<_>>()
    );
    assert_eq!(
        all.iter().find(|e| e.item_id == "i42").unwrap(),
        &batch[42],
        "events come back as they went in"
    );
    assert_eq!(estimate, 5);
}

pub async fn documents_add_merge_delete(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let doc = |id: &str, attrs: serde_json::Value| Document {
        id: id.into(),
        attributes: attrs.as_object().unwrap().clone(),
    };
    let ops = vec![
        DocumentOp::Add(doc(
            "1",
            serde_json::json!({"title": "red dress", "price": 10}),
        )),
        DocumentOp::Add(doc("2", serde_json::json!({"title": "shoe"}))),
        DocumentOp::Update(doc("1", serde_json::json!({"price": 12, "brand": "acme"}))),
        DocumentOp::Update(doc("3", serde_json::json!({"title": "new via update"}))),
        DocumentOp::Delete("2".into()),
        DocumentOp::Delete("404".into()),
    ];
    assert_eq!(
        store
            .apply_documents(APP, DocumentKind::Item, ops, T0)
            .await
            .unwrap(),
        6
    );
    let users = vec![DocumentOp::Add(doc("u1", serde_json::json!({"age": 30})))];
    store
        .apply_documents(APP, DocumentKind::User, users, T0)
        .await
        .unwrap();
    let items = tokio::task::spawn_blocking({
        let store = Arc::clone(&store);
        move || {
            let data = store.training_data(APP).unwrap();
            let mut items = Vec::new();
            data.for_each_document(DocumentKind::Item, &mut |d| {
                items.push(d.clone());
                Ok(())
            })
            .unwrap();
            items
        }
    })
    .await
    .unwrap();
    assert_eq!(items.len(), 2);
    let one = items.iter().find(|d| d.id == "1").unwrap();
    assert_eq!(
        serde_json::Value::Object(one.attributes.clone()),
        serde_json::json!({"title": "red dress", "price": 12, "brand": "acme"})
    );
    let status = store.data_status(APP, 0, i64::MAX).await.unwrap();
    assert_eq!((status.items, status.users), (2, 1));
    // Lookup by id: in the order asked, deleted and unknown ids left out, kinds kept apart.
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let found = store
        .documents(APP, DocumentKind::Item, ids(&["3", "2", "1", "u1", "404"]))
        .await
        .unwrap();
    let found_ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(found_ids, ["3", "1"]);
    assert_eq!(found[1].attributes["brand"], "acme");
    assert_eq!(
        store
            .documents(APP, DocumentKind::User, ids(&["u1"]))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn data_status_counts_by_day_and_type(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let day = 86_400_000;
    let mut events = Vec::new();
    for i in 0..300 {
        events.push(event(
            &format!("u{}", i % 50),
            &format!("i{}", i % 40),
            "expose",
            T0 + i,
        ));
    }
    for i in 0..30 {
        events.push(event(
            &format!("u{i}"),
            &format!("i{i}"),
            "click",
            T0 + day + i,
        ));
        events.push(event(
            &format!("u{i}"),
            &format!("q{}", i % 3),
            "search",
            T0 + day + i,
        ));
    }
    store.append_events(APP, events).await.unwrap();
    let status = store.data_status(APP, T0, T0 + 2 * day).await.unwrap();
    assert_eq!(status.days.len(), 2);
    assert_eq!(status.days[0].events.get("expose"), Some(&300));
    assert_eq!(status.days[1].events.get("click"), Some(&30));
    assert_eq!(
        (
            status.totals.exposures,
            status.totals.clicks,
            status.totals.searches
        ),
        (300, 30, 30)
    );
    assert_eq!(status.totals.engagements, 30);
    assert_eq!(
        status.totals.distinct_items, 40,
        "small sets are counted exactly by the sketch"
    );
    assert_eq!((status.distinct_users, status.distinct_queries), (50, 3));
    let all = status.totals.exposures + status.totals.engagements + status.totals.searches;
    assert_eq!(store.events_stored().await.unwrap(), all);
    let later = store
        .data_status(APP, T0 + day, T0 + 2 * day)
        .await
        .unwrap();
    assert_eq!((later.days.len(), later.totals.exposures), (1, 0));
}

pub async fn retention_and_app_deletion_remove_events(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let day = 86_400_000;
    let old = vec![
        event("u", "old", "click", T0),
        event("u", "old2", "click", T0 + 10),
    ];
    let new = vec![event("u", "new", "click", T0 + 3 * day)];
    store.append_events(APP, old.clone()).await.unwrap();
    store.append_events(APP, new.clone()).await.unwrap();
    assert_eq!(store.delete_events_before(T0 + 2 * day).await.unwrap(), 2);
    assert_eq!(
        store
            .data_status(APP, 0, i64::MAX)
            .await
            .unwrap()
            .totals
            .clicks,
        1
    );
    assert_eq!(
        store.append_events(APP, old).await.unwrap().stored,
        2,
        "expired days no longer block re-pushes"
    );
    store.delete_app_group(APP).await.unwrap();
    with_app(&*store).await;
    assert_eq!(
        store.append_events(APP, new).await.unwrap().stored,
        1,
        "a deleted app group takes its keys along"
    );
}

/// An event of the concurrency test: users and items by runs of events, so that each push carries only a few
/// (a lost sketch update loses some of them); many behaviour types, so that pushes of different events rarely
/// share a count row (whose lock would otherwise serialise them before they reach the sketches); three days, each
/// with its own users, so that concurrent pushes update the same sketch rows.
fn pushed_event(i: i64) -> BehaviourEvent {
    const DAY: i64 = 86_400_000;
    let mut e = event(
        &format!("u{}", i / 20),
        &format!("i{}", i / 25),
        &format!("t{}", i / 10),
        T0 + (i / 334) * DAY + i,
    );
    e.rn = format!("rn{i}");
    e
}

pub async fn concurrent_overlapping_pushes_store_each_event_once(store: Arc<dyn Store>) {
    with_app(&*store).await;
    // Sixteen pushers, ten batches each, over overlapping slices of 1000 events; odd pushers go backwards so that
    // batches meet the same keys in opposite orders, and every batch repeats its first event. (Without row locks
    // on PostgreSQL's sketches, this loses users in every run.)
    let mut pushed = 0;
    let mut distinct = HashSet::new();
    let mut handles = Vec::new();
    for pusher in 0..16i64 {
        let mut batches = Vec::new();
        for batch in 0..10i64 {
            let start = (pusher * 170 + batch * 40) % 1000;
            let mut events: Vec<_> = (start..start + 40)
                .map(|i| pushed_event(i % 1000))
                .collect();
            if pusher % 2 == 1 {
                events.reverse();
            }
            events.push(events[0].clone());
            pushed += events.len();
            distinct.extend(events.iter().map(|e| e.dedup_key()));
            batches.push(events);
        }
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let mut total = AppendOutcome::default();
            for events in batches {
                let outcome = store.append_events(APP, events).await.unwrap();
                total.stored += outcome.stored;
                total.duplicates += outcome.duplicates;
            }
            total
        }));
    }
    // A follower (as the live tail reads) lists the blocks while the pushes commit and reads each block it has
    // not read: whatever order the blocks become visible in, it reads every event once.
    let pushing = Arc::new(AtomicBool::new(true));
    let follower = tokio::task::spawn_blocking({
        let (store, pushing) = (Arc::clone(&store), Arc::clone(&pushing));
        move || {
            let data = store.training_data(APP).unwrap();
            let (mut read, mut keys) = (HashSet::new(), Vec::new());
            loop {
                // Listed before the flag is read: the last listing starts after every push committed.
                let done = !pushing.load(Ordering::Acquire);
                for block in data.recent_blocks(0).unwrap() {
                    if read.insert(block.id) {
                        data.for_each_event_of_block(block.id, None, &mut |e| {
                            keys.push(e.to_event().dedup_key());
                            Ok(())
                        })
                        .unwrap();
                    }
                }
                if done {
                    return keys;
                }
            }
        }
    });
    let (mut stored, mut duplicates) = (0, 0);
    for handle in handles {
        let outcome = handle.await.unwrap();
        stored += outcome.stored;
        duplicates += outcome.duplicates;
    }
    pushing.store(false, Ordering::Release);
    let followed = follower.await.unwrap();
    assert_eq!(
        followed.len(),
        distinct.len(),
        "the follower read each event once"
    );
    assert_eq!(followed.into_iter().collect::<HashSet<_>>(), distinct);
    assert_eq!(stored, distinct.len(), "each event is stored once");
    assert_eq!(duplicates, pushed - distinct.len());
    assert_eq!(store.events_stored().await.unwrap(), distinct.len() as u64);

    let status = store.data_status(APP, 0, i64::MAX).await.unwrap();
    assert_eq!(status.days.len(), 3);
    let counted: u64 = status.days.iter().flat_map(|d| d.events.values()).sum();
    assert_eq!(counted, distinct.len() as u64, "no count update was lost");
    assert_eq!(
        (status.distinct_users, status.totals.distinct_items),
        (50, 40),
        "no sketch update was lost"
    );
    let read_back = tokio::task::spawn_blocking(move || {
        let data = store.training_data(APP).unwrap();
        collect(&*data, 0, i64::MAX)
            .iter()
            .map(|e| e.dedup_key())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert_eq!(read_back.len(), distinct.len());
    assert_eq!(read_back.into_iter().collect::<HashSet<_>>(), distinct);
}

fn doc(id: &str, attributes: serde_json::Value) -> Document {
    Document {
        id: id.into(),
        attributes: attributes.as_object().unwrap().clone(),
    }
}

pub async fn unreadable_documents_are_refused_and_never_rewritten(backend: &Backend) {
    let store = &backend.store;
    with_app(&**store).await;
    let add =
        |id: &str| DocumentOp::Add(doc(id, serde_json::json!({"title": "dress", "price": 10})));
    store
        .apply_documents(APP, DocumentKind::Item, vec![add("1"), add("2")], T0)
        .await
        .unwrap();
    backend
        .tamper("UPDATE document SET attributes = '{\"title\": ' WHERE id = '1'")
        .await;
    let ids = vec!["2".to_string(), "1".to_string()];
    let read = store.documents(APP, DocumentKind::Item, ids.clone()).await;
    assert!(is_corrupt(&read, "document", "attributes"), "{read:?}");

    // An update merges into the stored attributes: unreadable ones refuse the whole batch rather than being
    // replaced by the update's alone.
    let update = vec![
        DocumentOp::Update(doc("2", serde_json::json!({"price": 11}))),
        DocumentOp::Update(doc("1", serde_json::json!({"price": 12}))),
    ];
    let refused = store
        .apply_documents(APP, DocumentKind::Item, update, T0)
        .await;
    assert!(
        is_corrupt(&refused, "document", "attributes"),
        "{refused:?}"
    );
    assert!(
        is_corrupt(
            &store.documents(APP, DocumentKind::Item, ids.clone()).await,
            "document",
            "attributes"
        ),
        "the damaged document was not rewritten"
    );
    let app = APP.to_string();
    let training = {
        let store = Arc::clone(store);
        tokio::task::spawn_blocking(move || {
            let data = store.training_data(&app).unwrap();
            data.for_each_document(DocumentKind::Item, &mut |_| Ok(()))
        })
        .await
        .unwrap()
    };
    assert!(
        is_corrupt(&training, "document", "attributes"),
        "{training:?}"
    );

    // An ADD replaces the document whole: that repairs it.
    store
        .apply_documents(APP, DocumentKind::Item, vec![add("1")], T0)
        .await
        .unwrap();
    let found = store.documents(APP, DocumentKind::Item, ids).await.unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(
        found[0].attributes["price"], 10,
        "the refused batch changed nothing"
    );
}

pub async fn unreadable_sketches_and_blocks_are_refused(backend: &Backend) {
    let store = &backend.store;
    with_app(&**store).await;
    store
        .append_events(
            APP,
            vec![
                event("u1", "i1", "click", T0),
                event("u2", "i2", "click", T0 + 1),
            ],
        )
        .await
        .unwrap();
    backend
        .tamper("UPDATE event_sketch SET users = substr(users, 1, 3)")
        .await;
    let status = store.data_status(APP, 0, i64::MAX).await;
    assert!(is_corrupt(&status, "event_sketch", "users"), "{status:?}");
    // A push to that day would read, merge and write the sketch back: refused, not started afresh.
    let refused = store
        .append_events(APP, vec![event("u3", "i3", "click", T0 + 2)])
        .await;
    assert!(is_corrupt(&refused, "event_sketch", "users"), "{refused:?}");
    assert_eq!(
        store.events_stored().await.unwrap(),
        2,
        "the refused push stored nothing"
    );

    backend
        .tamper("UPDATE event_block SET data = substr(data, 1, 5)")
        .await;
    let app = APP.to_string();
    let store = Arc::clone(store);
    let read = tokio::task::spawn_blocking(move || {
        let data = store.training_data(&app).unwrap();
        data.for_each_event(0, i64::MAX, &mut |_| Ok(()))
    })
    .await
    .unwrap();
    assert!(is_corrupt(&read, "event_block", "data"), "{read:?}");
    assert!(matches!(read, Err(Error::Corrupt { .. })));
}
