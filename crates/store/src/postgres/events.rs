//! Behaviour events, items and users in PostgreSQL.
//!
//! Same layout as the embedded store: one compressed block per push, de-duplication keys by day, counts and
//! distinct-count sketches by day. Several processes push at once, so de-duplication relies on the `event_key`
//! primary key (a key inserted by a concurrent push makes ours wait for its commit, then do nothing), counts are
//! added atomically, and sketches (read-modify-write) are updated under a row lock.

use std::collections::HashMap;

use algocenter_domain::Result;
use algocenter_domain::behaviour::{BehaviourEvent, EventView};
use algocenter_domain::data::{BlockRef, TrainingData, day_of};
use algocenter_domain::document::{Document, DocumentKind, DocumentOp};
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;

use super::rows::app_id;
use super::{Db, PostgresStore, execute, get, in_transaction, query, query_one, query_opt};
use crate::event_block;
use crate::rules::{DaySketches, StatusTally, merged_attributes, object_json, summarise};
use crate::stored::StoredRow;
use crate::stored::records;
use crate::{AppendOutcome, DataStatus, EventStore};

/// Blocks read per query while streaming a window, so that a long scan holds neither a connection nor much memory.
const BLOCKS_PER_QUERY: i64 = 256;

/// Documents read per query, so that a large catalogue is not loaded at once.
const DOCUMENTS_PER_QUERY: i64 = 1000;

async fn append(
    tx: &Transaction<'_>,
    app_id: i64,
    events: Vec<BehaviourEvent>,
) -> Result<AppendOutcome> {
    if events.is_empty() {
        return Ok(AppendOutcome::default());
    }
    let total = events.len();
    // The key is stored as its i64 bit pattern.
    let keys: Vec<(i64, i64)> = events
        .iter()
        .map(|e| (e.bhv_time_ms, e.dedup_key() as i64))
        .collect();
    // Sorted, so that concurrent pushes of overlapping events take the key rows in the same order and cannot
    // deadlock; the block keeps the arrival order.
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    let days: Vec<i64> = sorted.iter().map(|(at, _)| day_of(*at)).collect();
    let ats: Vec<i64> = sorted.iter().map(|(at, _)| *at).collect();
    let hashes: Vec<i64> = sorted.iter().map(|(_, key)| *key).collect();
    let rows = query(
        tx,
        "INSERT INTO event_key (day, app_id, at_ms, key)
         SELECT d, $2::BIGINT, a, k FROM unnest($1::BIGINT[], $3::BIGINT[], $4::BIGINT[]) AS u(d, a, k)
         ON CONFLICT DO NOTHING RETURNING at_ms, key",
        &[&days, &app_id, &ats, &hashes],
    )
    .await?;
    // A key comes back once however often the push holds it: only its first occurrence is fresh.
    let mut inserted: HashMap<(i64, i64), usize> = HashMap::with_capacity(rows.len());
    for row in &rows {
        *inserted.entry((get(row, 0)?, get(row, 1)?)).or_default() += 1;
    }
    let mut fresh = Vec::with_capacity(rows.len());
    for (event, key) in events.into_iter().zip(keys) {
        if let Some(n) = inserted.get_mut(&key)
            && *n > 0
        {
            *n -= 1;
            fresh.push(event);
        }
    }
    let duplicates = total - fresh.len();
    if fresh.is_empty() {
        return Ok(AppendOutcome {
            stored: 0,
            duplicates,
        });
    }
    let summary = summarise(&fresh);
    let counts = &summary.counts;
    let count_days: Vec<i64> = counts.keys().map(|(day, _)| *day).collect();
    let count_types: Vec<&str> = counts.keys().map(|(_, bhv_type)| *bhv_type).collect();
    let count_events: Vec<i64> = counts.values().copied().collect();
    execute(
        tx,
        "INSERT INTO event_count (app_id, day, bhv_type, events)
         SELECT $1::BIGINT, d, t, n FROM unnest($2::BIGINT[], $3::TEXT[], $4::BIGINT[]) AS u(d, t, n)
         ON CONFLICT (app_id, day, bhv_type) DO UPDATE SET events = event_count.events + excluded.events",
        &[&app_id, &count_days, &count_types, &count_events],
    )
    .await?;
    for (day, ours) in &summary.sketches {
        update_sketches(tx, app_id, *day, ours).await?;
    }
    let stored = fresh.len();
    execute(
        tx,
        "INSERT INTO event_block (app_id, min_ms, max_ms, events, data) VALUES ($1, $2, $3, $4, $5)",
        &[
            &app_id,
            &summary.min_ms,
            &summary.max_ms,
            &(stored as i64),
            &event_block::encode(&fresh)?,
        ],
    )
    .await?;
    Ok(AppendOutcome { stored, duplicates })
}

/// Merges `ours` into the day's stored sketches. A new day takes ours as they are; an existing one is read and
/// written back under its row lock, so that a concurrent push waits instead of overwriting our update.
async fn update_sketches(
    tx: &Transaction<'_>,
    app_id: i64,
    day: i64,
    ours: &DaySketches,
) -> Result<()> {
    // Two turns at most in practice: the row can only vanish in between through retention.
    loop {
        let inserted = query_opt(
            tx,
            "INSERT INTO event_sketch (app_id, day, users, items, queries) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING RETURNING day",
            &[
                &app_id,
                &day,
                &ours.users.as_bytes(),
                &ours.items.as_bytes(),
                &ours.queries.as_bytes(),
            ],
        )
        .await?;
        if inserted.is_some() {
            return Ok(());
        }
        let Some(row) = query_opt(
            tx,
            "SELECT users, items, queries FROM event_sketch WHERE app_id = $1 AND day = $2 FOR UPDATE",
            &[&app_id, &day],
        )
        .await?
        else {
            continue;
        };
        let mut stored = sketches_of(app_id, day, &row)?;
        stored.merge(ours);
        execute(
            tx,
            "UPDATE event_sketch SET users = $3, items = $4, queries = $5 WHERE app_id = $1 AND day = $2",
            &[
                &app_id,
                &day,
                &stored.users.as_bytes(),
                &stored.items.as_bytes(),
                &stored.queries.as_bytes(),
            ],
        )
        .await?;
        return Ok(());
    }
}

/// The stored sketches of a day from the columns `users, items, queries` of `row`.
fn sketches_of(app_id: i64, day: i64, row: &Row) -> Result<DaySketches> {
    DaySketches::read(
        app_id,
        day,
        get::<&[u8]>(row, 0)?,
        get::<&[u8]>(row, 1)?,
        get::<&[u8]>(row, 2)?,
    )
}

/// The id a document command is about.
fn op_id(op: &DocumentOp) -> &str {
    match op {
        DocumentOp::Add(doc) | DocumentOp::Update(doc) => &doc.id,
        DocumentOp::Delete(id) => id,
    }
}

async fn apply(
    tx: &Transaction<'_>,
    app_id: i64,
    kind: DocumentKind,
    mut ops: Vec<DocumentOp>,
    now_ms: i64,
) -> Result<usize> {
    let kind_name = kind.as_str();
    let applied = ops.len();
    // Commands on different documents commute: applying them by id (stable sort, so that the commands of one
    // document keep their order) gives the same result and makes concurrent batches lock rows in the same order,
    // so they cannot deadlock.
    ops.sort_by(|a, b| op_id(a).cmp(op_id(b)));
    for op in ops {
        match op {
            DocumentOp::Add(doc) => {
                execute(
                    tx,
                    "INSERT INTO document (app_id, kind, id, attributes, updated_ms) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (app_id, kind, id) DO UPDATE SET attributes = excluded.attributes,
                         updated_ms = excluded.updated_ms",
                    &[&app_id, &kind_name, &doc.id, &object_json(doc.attributes), &now_ms],
                )
                .await?;
            }
            DocumentOp::Update(doc) => update_document(tx, app_id, kind, doc, now_ms).await?,
            DocumentOp::Delete(id) => {
                execute(
                    tx,
                    "DELETE FROM document WHERE app_id = $1 AND kind = $2 AND id = $3",
                    &[&app_id, &kind_name, &id],
                )
                .await?;
            }
        }
    }
    Ok(applied)
}

/// Merges `doc`'s attributes into the stored document (read under its row lock, so that a concurrent update is
/// not lost), or stores it as it is when there is none.
async fn update_document(
    tx: &Transaction<'_>,
    app_id: i64,
    kind: DocumentKind,
    doc: Document,
    now_ms: i64,
) -> Result<()> {
    let kind_name = kind.as_str();
    loop {
        let current = query_opt(
            tx,
            "SELECT attributes FROM document WHERE app_id = $1 AND kind = $2 AND id = $3 FOR UPDATE",
            &[&app_id, &kind_name, &doc.id],
        )
        .await?;
        if let Some(row) = current {
            let stored: &str = get(&row, 0)?;
            let merged = merged_attributes(app_id, kind, &doc.id, Some(stored), doc.attributes)?;
            execute(
                tx,
                "UPDATE document SET attributes = $4, updated_ms = $5 WHERE app_id = $1 AND kind = $2 AND id = $3",
                &[&app_id, &kind_name, &doc.id, &merged, &now_ms],
            )
            .await?;
            return Ok(());
        }
        // When a concurrent batch stores the document first, the next turn merges into it.
        let inserted = execute(
            tx,
            "INSERT INTO document (app_id, kind, id, attributes, updated_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&app_id, &kind_name, &doc.id, &object_json(doc.attributes.clone()), &now_ms],
        )
        .await?;
        if inserted == 1 {
            return Ok(());
        }
    }
}

async fn status(
    c: &impl GenericClient,
    app_id: i64,
    from_ms: i64,
    to_ms: i64,
) -> Result<DataStatus> {
    let (first, last) = (day_of(from_ms), day_of(to_ms - 1));
    let mut tally = StatusTally::default();
    let rows = query(
        c,
        "SELECT day, bhv_type, events FROM event_count WHERE app_id = $1 AND day BETWEEN $2 AND $3",
        &[&app_id, &first, &last],
    )
    .await?;
    for row in &rows {
        tally.count(row.int(0)?, row.text(1)?, row.int(2)? as u64);
    }
    let rows = query(
        c,
        "SELECT users, items, queries, day FROM event_sketch WHERE app_id = $1 AND day BETWEEN $2 AND $3",
        &[&app_id, &first, &last],
    )
    .await?;
    for row in &rows {
        tally.sketches(&sketches_of(app_id, row.int(3)?, row)?);
    }
    let rows = query(
        c,
        "SELECT kind, count(*) FROM document WHERE app_id = $1 GROUP BY kind",
        &[&app_id],
    )
    .await?;
    let (mut items, mut users) = (0, 0);
    for row in &rows {
        let kind: &str = get(row, 0)?;
        let n = get::<i64>(row, 1)? as u64;
        match kind {
            "item" => items = n,
            "user" => users = n,
            _ => {}
        }
    }
    Ok(tally.finish(items, users))
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn append_events(&self, app: &str, events: Vec<BehaviourEvent>) -> Result<AppendOutcome> {
        in_transaction!(self, |tx| {
            let app_id = app_id(&tx, app).await?;
            append(&tx, app_id, events).await?
        })
    }

    async fn apply_documents(
        &self,
        app: &str,
        kind: DocumentKind,
        ops: Vec<DocumentOp>,
        now_ms: i64,
    ) -> Result<usize> {
        in_transaction!(self, |tx| {
            let app_id = app_id(&tx, app).await?;
            apply(&tx, app_id, kind, ops, now_ms).await?
        })
    }

    async fn documents(
        &self,
        app: &str,
        kind: DocumentKind,
        ids: Vec<String>,
    ) -> Result<Vec<Document>> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        let rows = query(
            &client,
            "SELECT id, attributes FROM document WHERE app_id = $1 AND kind = $2 AND id = ANY($3)",
            &[&app_id, &kind.as_str(), &ids],
        )
        .await?;
        let mut found: HashMap<&str, &str> = HashMap::with_capacity(rows.len());
        for row in &rows {
            found.insert(get(row, 0)?, get(row, 1)?);
        }
        let mut out = Vec::with_capacity(found.len());
        for id in &ids {
            if let Some(attributes) = found.get(id.as_str()) {
                out.push(records::document(app_id, kind, id.clone(), attributes)?);
            }
        }
        Ok(out)
    }

    async fn data_status(&self, app: &str, from_ms: i64, to_ms: i64) -> Result<DataStatus> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        status(&client, app_id, from_ms, to_ms).await
    }

    async fn events_stored(&self) -> Result<u64> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            "SELECT coalesce(sum(events), 0)::BIGINT FROM event_block",
            &[],
        )
        .await?;
        Ok(get::<i64>(&row, 0)? as u64)
    }

    async fn delete_events_before(&self, cutoff_ms: i64) -> Result<u64> {
        let cutoff_day = day_of(cutoff_ms);
        in_transaction!(self, |tx| {
            // Counted from the rows deleted, not by a separate sum that a concurrent push could change.
            let row = query_one(
                &tx,
                "WITH deleted AS (DELETE FROM event_block WHERE max_ms < $1 RETURNING events)
                 SELECT coalesce(sum(events), 0)::BIGINT FROM deleted",
                &[&cutoff_ms],
            )
            .await?;
            let events: i64 = get(&row, 0)?;
            // Keys and counts go by whole days: a day is dropped once all of it is older than the cutoff.
            execute(&tx, "DELETE FROM event_key WHERE day < $1", &[&cutoff_day]).await?;
            execute(
                &tx,
                "DELETE FROM event_count WHERE day < $1",
                &[&cutoff_day],
            )
            .await?;
            execute(
                &tx,
                "DELETE FROM event_sketch WHERE day < $1",
                &[&cutoff_day],
            )
            .await?;
            events as u64
        })
    }

    fn training_data(&self, app: &str) -> Result<Box<dyn TrainingData>> {
        let app_id = self.runtime.block_on(async {
            let client = self.client().await?;
            app_id(&client, app).await
        })?;
        Ok(Box::new(PostgresTrainingData {
            store: self.clone(),
            app_id,
        }))
    }
}

/// A trainer's view of one app group. Runs on a blocking thread: each page is one query on a pooled connection
/// (given back before the trainer sees the page, so that a slow trainer does not hold one).
struct PostgresTrainingData {
    store: PostgresStore,
    app_id: i64,
}

impl TrainingData for PostgresTrainingData {
    fn for_each_event(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(&BehaviourEvent) -> Result<()>,
    ) -> Result<()> {
        let mut after = 0i64;
        loop {
            let rows = self.store.runtime.block_on(async {
                let client = self.store.client().await?;
                query(
                    &client,
                    "SELECT id, data FROM event_block
                     WHERE app_id = $1 AND max_ms >= $2 AND min_ms < $3 AND id > $4 ORDER BY id LIMIT $5",
                    &[&self.app_id, &from_ms, &to_ms, &after, &BLOCKS_PER_QUERY],
                )
                .await
            })?;
            if rows.is_empty() {
                return Ok(());
            }
            // Keep the blocks compressed until their turn: decoding them all up front held a quarter of a
            // million events in memory (measured on the embedded store: 170 MB more during training).
            for row in &rows {
                after = get(row, 0)?;
                for event in event_block::decode(after, get::<&[u8]>(row, 1)?)? {
                    if event.bhv_time_ms >= from_ms && event.bhv_time_ms < to_ms {
                        f(&event)?;
                    }
                }
            }
        }
    }

    fn estimate_events(&self, from_ms: i64, to_ms: i64) -> Result<u64> {
        let n: i64 = self.store.runtime.block_on(async {
            let client = self.store.client().await?;
            let row = query_one(
                &client,
                "SELECT coalesce(sum(events), 0)::BIGINT FROM event_block
                 WHERE app_id = $1 AND max_ms >= $2 AND min_ms < $3",
                &[&self.app_id, &from_ms, &to_ms],
            )
            .await?;
            get(&row, 0)
        })?;
        Ok(n as u64)
    }

    fn recent_blocks(&self, newest_from_ms: i64) -> Result<Vec<BlockRef>> {
        let rows = self.store.runtime.block_on(async {
            let client = self.store.client().await?;
            query(
                &client,
                "SELECT id, max_ms FROM event_block WHERE app_id = $1 AND max_ms >= $2",
                &[&self.app_id, &newest_from_ms],
            )
            .await
        })?;
        rows.iter()
            .map(|row| {
                Ok(BlockRef {
                    id: get(row, 0)?,
                    newest_ms: get(row, 1)?,
                })
            })
            .collect()
    }

    fn for_each_event_of_block(
        &self,
        id: i64,
        only: Option<&str>,
        f: &mut dyn FnMut(&EventView<'_>) -> Result<()>,
    ) -> Result<()> {
        let rows = self.store.runtime.block_on(async {
            let client = self.store.client().await?;
            query(
                &client,
                "SELECT data FROM event_block WHERE id = $1 AND app_id = $2",
                &[&id, &self.app_id],
            )
            .await
        })?;
        match rows.first() {
            Some(row) => event_block::for_each_view(id, get::<&[u8]>(row, 0)?, only, f),
            None => Ok(()),
        }
    }

    fn for_each_document(
        &self,
        kind: DocumentKind,
        f: &mut dyn FnMut(&Document) -> Result<()>,
    ) -> Result<()> {
        let kind_name = kind.as_str();
        let mut after: Option<String> = None;
        loop {
            let rows = self.store.runtime.block_on(async {
                let client = self.store.client().await?;
                // Two statements rather than `$3 IS NULL OR id > $3`, which a generic plan cannot run as a range
                // scan of the primary key.
                match &after {
                    None => {
                        query(
                            &client,
                            "SELECT id, attributes FROM document WHERE app_id = $1 AND kind = $2
                             ORDER BY id LIMIT $3",
                            &[&self.app_id, &kind_name, &DOCUMENTS_PER_QUERY],
                        )
                        .await
                    }
                    Some(after) => {
                        query(
                            &client,
                            "SELECT id, attributes FROM document WHERE app_id = $1 AND kind = $2 AND id > $3
                             ORDER BY id LIMIT $4",
                            &[&self.app_id, &kind_name, after, &DOCUMENTS_PER_QUERY],
                        )
                        .await
                    }
                }
            })?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = Some(get(last, 0)?);
            for row in &rows {
                let attributes: &str = get(row, 1)?;
                let document = records::document(self.app_id, kind, get(row, 0)?, attributes)?;
                f(&document)?;
            }
        }
    }
}
