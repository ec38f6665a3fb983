//! Behaviour events, items and users in SQLite.

use algocenter_domain::Result;
use algocenter_domain::behaviour::{BehaviourEvent, EventView};
use algocenter_domain::data::{BlockRef, TrainingData, day_of};
use algocenter_domain::document::{Document, DocumentKind, DocumentOp};
use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, Transaction, params};

use super::rows::{app_id, query, query_one, query_opt};
use super::{Db, SqliteStore, configure_reader};
use crate::event_block;
use crate::rules::{DaySketches, StatusTally, merged_attributes, object_json, summarise};
use crate::stored::records;
use crate::{AppendOutcome, DataStatus, EventStore};

/// Blocks read per query while streaming a window, so that a long scan does not hold one read snapshot.
const BLOCKS_PER_QUERY: i64 = 256;

/// The stored sketches of an app group's day, if any.
fn stored_sketches(tx: &Transaction<'_>, app_id: i64, day: i64) -> Result<Option<DaySketches>> {
    query_opt(
        tx,
        "SELECT users, items, queries FROM event_sketch WHERE app_id = ?1 AND day = ?2",
        params![app_id, day],
        |r| DaySketches::read(app_id, day, &r.bytes(0)?, &r.bytes(1)?, &r.bytes(2)?),
    )
}

fn append(tx: &Transaction<'_>, app_id: i64, events: Vec<BehaviourEvent>) -> Result<AppendOutcome> {
    let mut fresh = Vec::with_capacity(events.len());
    {
        let mut insert_key = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO event_key (day, app_id, at_ms, key) VALUES (?1, ?2, ?3, ?4)",
            )
            .db()?;
        for event in events {
            let day = day_of(event.bhv_time_ms);
            // The key is stored as its i64 bit pattern.
            if insert_key
                .execute(params![
                    day,
                    app_id,
                    event.bhv_time_ms,
                    event.dedup_key() as i64
                ])
                .db()?
                == 1
            {
                fresh.push(event);
            }
        }
    }
    let duplicates = fresh.capacity() - fresh.len();
    if fresh.is_empty() {
        return Ok(AppendOutcome {
            stored: 0,
            duplicates,
        });
    }
    let summary = summarise(&fresh);
    let mut count_stmt = tx
        .prepare_cached(
            "INSERT INTO event_count (app_id, day, bhv_type, events) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (app_id, day, bhv_type) DO UPDATE SET events = events + excluded.events",
        )
        .db()?;
    for ((day, bhv_type), n) in &summary.counts {
        count_stmt.execute(params![app_id, day, bhv_type, n]).db()?;
    }
    let mut sketch_stmt = tx
        .prepare_cached("INSERT OR REPLACE INTO event_sketch (app_id, day, users, items, queries) VALUES (?1, ?2, ?3, ?4, ?5)")
        .db()?;
    // The single writer: nothing changes the stored sketches between this read and the write below.
    for (day, ours) in &summary.sketches {
        let mut day_sketches = stored_sketches(tx, app_id, *day)?.unwrap_or_default();
        day_sketches.merge(ours);
        sketch_stmt
            .execute(params![
                app_id,
                day,
                day_sketches.users.as_bytes(),
                day_sketches.items.as_bytes(),
                day_sketches.queries.as_bytes()
            ])
            .db()?;
    }
    let stored = fresh.len();
    tx.prepare_cached("INSERT INTO event_block (app_id, min_ms, max_ms, events, data) VALUES (?1, ?2, ?3, ?4, ?5)")
        .db()?
        .execute(params![app_id, summary.min_ms, summary.max_ms, stored as i64, event_block::encode(&fresh)?])
        .db()?;
    Ok(AppendOutcome { stored, duplicates })
}

fn apply(
    tx: &Transaction<'_>,
    app_id: i64,
    kind: DocumentKind,
    ops: Vec<DocumentOp>,
    now_ms: i64,
) -> Result<usize> {
    let kind_name = kind.as_str();
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO document (app_id, kind, id, attributes, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (app_id, kind, id) DO UPDATE SET attributes = excluded.attributes,
                 updated_ms = excluded.updated_ms",
        )
        .db()?;
    let mut delete = tx
        .prepare_cached("DELETE FROM document WHERE app_id = ?1 AND kind = ?2 AND id = ?3")
        .db()?;
    let mut applied = 0;
    for op in ops {
        match op {
            DocumentOp::Add(doc) => {
                upsert
                    .execute(params![
                        app_id,
                        kind_name,
                        doc.id,
                        object_json(doc.attributes),
                        now_ms
                    ])
                    .db()?;
            }
            DocumentOp::Update(doc) => {
                let stored = query_opt(
                    tx,
                    "SELECT attributes FROM document WHERE app_id = ?1 AND kind = ?2 AND id = ?3",
                    params![app_id, kind_name, doc.id],
                    |r| r.text(0),
                )?;
                let merged =
                    merged_attributes(app_id, kind, &doc.id, stored.as_deref(), doc.attributes)?;
                upsert
                    .execute(params![app_id, kind_name, doc.id, merged, now_ms])
                    .db()?;
            }
            DocumentOp::Delete(id) => {
                delete.execute(params![app_id, kind_name, id]).db()?;
            }
        }
        applied += 1;
    }
    Ok(applied)
}

fn status(conn: &Connection, app_id: i64, from_ms: i64, to_ms: i64) -> Result<DataStatus> {
    let (first, last) = (day_of(from_ms), day_of(to_ms - 1));
    let mut tally = StatusTally::default();
    let counts = query(
        conn,
        "SELECT day, bhv_type, events FROM event_count WHERE app_id = ?1 AND day BETWEEN ?2 AND ?3",
        params![app_id, first, last],
        |r| Ok((r.int(0)?, r.text(1)?, r.int(2)?)),
    )?;
    for (day, bhv_type, events) in counts {
        tally.count(day, bhv_type, events as u64);
    }
    let days = query(
        conn,
        "SELECT users, items, queries, day FROM event_sketch WHERE app_id = ?1 AND day BETWEEN ?2 AND ?3",
        params![app_id, first, last],
        |r| DaySketches::read(app_id, r.int(3)?, &r.bytes(0)?, &r.bytes(1)?, &r.bytes(2)?),
    )?;
    for day in &days {
        tally.sketches(day);
    }
    let document_count = |kind: &str| -> Result<u64> {
        let n = query_one(
            conn,
            "SELECT count(*) FROM document WHERE app_id = ?1 AND kind = ?2",
            params![app_id, kind],
            |r| r.int(0),
        )?;
        Ok(n as u64)
    };
    Ok(tally.finish(document_count("item")?, document_count("user")?))
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append_events(&self, app: &str, events: Vec<BehaviourEvent>) -> Result<AppendOutcome> {
        let app = app.to_string();
        self.write(move |tx| {
            let app_id = app_id(tx, &app)?;
            append(tx, app_id, events)
        })
        .await
    }

    async fn apply_documents(
        &self,
        app: &str,
        kind: DocumentKind,
        ops: Vec<DocumentOp>,
        now_ms: i64,
    ) -> Result<usize> {
        let app = app.to_string();
        self.write(move |tx| {
            let app_id = app_id(tx, &app)?;
            apply(tx, app_id, kind, ops, now_ms)
        })
        .await
    }

    async fn documents(
        &self,
        app: &str,
        kind: DocumentKind,
        ids: Vec<String>,
    ) -> Result<Vec<Document>> {
        let app = app.to_string();
        self.read(move |conn| {
            let app_id = app_id(conn, &app)?;
            let mut out = Vec::new();
            for id in ids {
                let attributes = query_opt(
                    conn,
                    "SELECT attributes FROM document WHERE app_id = ?1 AND kind = ?2 AND id = ?3",
                    params![app_id, kind.as_str(), id],
                    |r| r.text(0),
                )?;
                if let Some(attributes) = attributes {
                    out.push(records::document(app_id, kind, id, &attributes)?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn data_status(&self, app: &str, from_ms: i64, to_ms: i64) -> Result<DataStatus> {
        let app = app.to_string();
        self.read(move |conn| {
            let app_id = app_id(conn, &app)?;
            status(conn, app_id, from_ms, to_ms)
        })
        .await
    }

    async fn events_stored(&self) -> Result<u64> {
        self.read(|conn| {
            let n = query_one(
                conn,
                "SELECT coalesce(sum(events), 0) FROM event_block",
                [],
                |r| r.int(0),
            )?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_events_before(&self, cutoff_ms: i64) -> Result<u64> {
        let cutoff_day = day_of(cutoff_ms);
        self.write(move |tx| {
            let events = query_one(
                tx,
                "SELECT coalesce(sum(events), 0) FROM event_block WHERE max_ms < ?1",
                [cutoff_ms],
                |r| r.int(0),
            )?;
            tx.execute("DELETE FROM event_block WHERE max_ms < ?1", [cutoff_ms])
                .db()?;
            // Keys and counts go by whole days: a day is dropped once all of it is older than the cutoff.
            tx.execute("DELETE FROM event_key WHERE day < ?1", [cutoff_day])
                .db()?;
            tx.execute("DELETE FROM event_count WHERE day < ?1", [cutoff_day])
                .db()?;
            tx.execute("DELETE FROM event_sketch WHERE day < ?1", [cutoff_day])
                .db()?;
            Ok(events as u64)
        })
        .await
    }

    fn training_data(&self, app: &str) -> Result<Box<dyn TrainingData>> {
        let conn = Connection::open_with_flags(
            self.path(),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .db()?;
        configure_reader(&conn)?;
        let app_id = app_id(&conn, app)?;
        Ok(Box::new(SqliteTrainingData { conn, app_id }))
    }
}

/// A trainer's view of one app group, on its own read-only connection.
struct SqliteTrainingData {
    conn: Connection,
    app_id: i64,
}

impl TrainingData for SqliteTrainingData {
    fn for_each_event(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(&BehaviourEvent) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, data FROM event_block
                 WHERE app_id = ?1 AND max_ms >= ?2 AND min_ms < ?3 AND id > ?4 ORDER BY id LIMIT ?5",
            )
            .db()?;
        let mut after = 0i64;
        loop {
            let mut blocks = Vec::new();
            {
                let mut rows = stmt
                    .query(params![
                        self.app_id,
                        from_ms,
                        to_ms,
                        after,
                        BLOCKS_PER_QUERY
                    ])
                    .db()?;
                // Keep the blocks compressed until their turn: decoding them all up front held a quarter of a
                // million events in memory (measured: 170 MB more during training).
                while let Some(row) = rows.next().db()? {
                    after = row.get(0).db()?;
                    blocks.push((after, row.get::<_, Vec<u8>>(1).db()?));
                }
            }
            if blocks.is_empty() {
                return Ok(());
            }
            for (id, block) in &blocks {
                for event in event_block::decode(*id, block)? {
                    if event.bhv_time_ms >= from_ms && event.bhv_time_ms < to_ms {
                        f(&event)?;
                    }
                }
            }
        }
    }

    fn estimate_events(&self, from_ms: i64, to_ms: i64) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(events), 0) FROM event_block WHERE app_id = ?1 AND max_ms >= ?2 AND min_ms < ?3",
            )
            .db()?
            .query_row(params![self.app_id, from_ms, to_ms], |r| r.get(0))
            .db()?;
        Ok(n as u64)
    }

    fn recent_blocks(&self, newest_from_ms: i64) -> Result<Vec<BlockRef>> {
        query(
            &self.conn,
            "SELECT id, max_ms FROM event_block WHERE app_id = ?1 AND max_ms >= ?2",
            params![self.app_id, newest_from_ms],
            |r| {
                Ok(BlockRef {
                    id: r.int(0)?,
                    newest_ms: r.int(1)?,
                })
            },
        )
    }

    fn for_each_event_of_block(
        &self,
        id: i64,
        only: Option<&str>,
        f: &mut dyn FnMut(&EventView<'_>) -> Result<()>,
    ) -> Result<()> {
        let block: Option<Vec<u8>> = query_opt(
            &self.conn,
            "SELECT data FROM event_block WHERE id = ?1 AND app_id = ?2",
            params![id, self.app_id],
            |r| r.bytes(0),
        )?;
        match block {
            Some(block) => event_block::for_each_view(id, &block, only, f),
            None => Ok(()),
        }
    }

    fn for_each_document(
        &self,
        kind: DocumentKind,
        f: &mut dyn FnMut(&Document) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, attributes FROM document WHERE app_id = ?1 AND kind = ?2")
            .db()?;
        let mut rows = stmt.query(params![self.app_id, kind.as_str()]).db()?;
        while let Some(row) = rows.next().db()? {
            let attributes: String = row.get(1).db()?;
            let document = records::document(self.app_id, kind, row.get(0).db()?, &attributes)?;
            f(&document)?;
        }
        Ok(())
    }
}
