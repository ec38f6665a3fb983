use algocenter_domain::app_group::{AppGroup, NewAppGroup};
use algocenter_domain::paging::Page;
use algocenter_domain::{Error, Result};
use async_trait::async_trait;
use rusqlite::{ErrorCode, params};

use super::rows::{app_id, artifact_keys, count, query, query_one, query_opt};
use super::{Db, SqliteStore};
use crate::rules::{check_app_group_idle, object_json};
use crate::stored::records::{self, APP_GROUP_COLUMNS};
use crate::{AppGroupStore, ArtifactKey};

#[async_trait]
impl AppGroupStore for SqliteStore {
    async fn create_app_group(&self, new: NewAppGroup, now_ms: i64) -> Result<AppGroup> {
        self.write(move |tx| {
            let inserted = tx.execute(
                "INSERT INTO app_group (name, app_type, description, extra, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![
                    new.name,
                    new.app_type,
                    new.description,
                    object_json(new.extra.clone()),
                    now_ms
                ],
            );
            match inserted {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    return Err(Error::AppDuplicated(new.name));
                }
                other => other.db()?,
            };
            Ok(records::new_app_group(tx.last_insert_rowid(), new, now_ms))
        })
        .await
    }

    async fn app_group(&self, identity: &str) -> Result<AppGroup> {
        let identity = identity.to_string();
        self.read(move |conn| {
            let id = app_id(conn, &identity)?;
            query_one(
                conn,
                &format!("SELECT {APP_GROUP_COLUMNS} FROM app_group WHERE id = ?1"),
                [id],
                records::app_group,
            )
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
            let groups = query(
                conn,
                &format!(
                    "SELECT {APP_GROUP_COLUMNS} FROM app_group WHERE {filter} ORDER BY id LIMIT ?3 OFFSET ?4"
                ),
                params![name, app_type, page.size, page.offset() as i64],
                records::app_group,
            )?;
            Ok((groups, total))
        })
        .await
    }

    async fn delete_app_group(&self, identity: &str) -> Result<Vec<ArtifactKey>> {
        let identity = identity.to_string();
        self.write(move |tx| {
            let id = app_id(tx, &identity)?;
            let busy = query_opt(
                tx,
                "SELECT i.name FROM task t JOIN instance i ON i.id = t.instance_id
                 WHERE i.app_id = ?1 AND t.state IN ('queued', 'running') LIMIT 1",
                [id],
                |r| r.text(0),
            )?;
            check_app_group_idle(&identity, busy)?;
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
