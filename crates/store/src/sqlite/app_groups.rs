use algocenter_domain::app_group::{AppGroup, NewAppGroup};
use algocenter_domain::paging::Page;
use algocenter_domain::{Error, Result};
use async_trait::async_trait;
use rusqlite::{ErrorCode, params};

use super::rows::{APP_GROUP_COLUMNS, app_group_from_row, app_id, artifact_keys, count};
use super::{Db, SqliteStore};
use crate::{AppGroupStore, ArtifactKey};

#[async_trait]
impl AppGroupStore for SqliteStore {
    async fn create_app_group(&self, new: NewAppGroup, now_ms: i64) -> Result<AppGroup> {
        self.write(move |tx| {
            let extra = serde_json::Value::Object(new.extra.clone()).to_string();
            let inserted = tx.execute(
                "INSERT INTO app_group (name, app_type, description, extra, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![new.name, new.app_type, new.description, extra, now_ms],
            );
            match inserted {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    return Err(Error::AppDuplicated(new.name));
                }
                other => other.db()?,
            };
            Ok(AppGroup {
                id: tx.last_insert_rowid(),
                name: new.name,
                app_type: new.app_type,
                description: new.description,
                extra: new.extra,
                created_ms: now_ms,
                updated_ms: now_ms,
            })
        })
        .await
    }

    async fn app_group(&self, identity: &str) -> Result<AppGroup> {
        let identity = identity.to_string();
        self.read(move |conn| {
            let id = app_id(conn, &identity)?;
            conn.query_row(
                &format!("SELECT {APP_GROUP_COLUMNS} FROM app_group WHERE id = ?1"),
                [id],
                app_group_from_row,
            )
            .db()
        })
        .await
    }

    async fn list_app_groups(
        &self,
        name: Option<String>,
        app_type: Option<String>,
        page: Page,
    ) -> Result<(Vec<AppGroup>, u64)> {
        self.read(move |conn| {
            // NULL filters match everything; `name` filters by substring like the console does.
            let filter = "(?1 IS NULL OR instr(name, ?1) > 0) AND (?2 IS NULL OR app_type = ?2)";
            let total = count(conn, "app_group", filter, params![name, app_type])?;
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {APP_GROUP_COLUMNS} FROM app_group WHERE {filter} ORDER BY id LIMIT ?3 OFFSET ?4"
                ))
                .db()?;
            let groups = stmt
                .query_map(params![name, app_type, page.size, page.offset() as i64], app_group_from_row)
                .db()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .db()?;
            Ok((groups, total))
        })
        .await
    }

    async fn delete_app_group(&self, identity: &str) -> Result<Vec<ArtifactKey>> {
        let identity = identity.to_string();
        self.write(move |tx| {
            let id = app_id(tx, &identity)?;
            let active: Option<String> = tx
                .query_row(
                    "SELECT i.name FROM task t JOIN instance i ON i.id = t.instance_id
                     WHERE i.app_id = ?1 AND t.state IN ('queued', 'running') LIMIT 1",
                    [id],
                    |r| r.get(0),
                )
                .map(Some)
                .or_else(|e| {
                    if e == rusqlite::Error::QueryReturnedNoRows {
                        Ok(None)
                    } else {
                        Err(e)
                    }
                })
                .db()?;
            if let Some(instance) = active {
                return Err(Error::TaskIsRunning(format!(
                    "app group '{identity}' has a task queued or running on instance '{instance}'; \
                     cancel it or wait for it to finish."
                )));
            }
            let keys = artifact_keys(
                tx,
                "SELECT t.artifact FROM task t JOIN instance i ON i.id = t.instance_id
                 WHERE i.app_id = ?1 AND t.artifact IS NOT NULL",
                [id],
            )?;
            // event_key has no foreign key (it leads with the day for retention): remove its rows here.
            tx.execute("DELETE FROM event_key WHERE app_id = ?1", [id])
                .db()?;
            tx.execute("DELETE FROM app_group WHERE id = ?1", [id])
                .db()?;
            Ok(keys)
        })
        .await
    }
}
