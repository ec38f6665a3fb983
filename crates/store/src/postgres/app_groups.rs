use algocenter_domain::app_group::{AppGroup, NewAppGroup};
use algocenter_domain::paging::Page;
use algocenter_domain::{Error, Result};
use async_trait::async_trait;

use super::rows::{app_id, artifact_keys, count};
use super::{
    Db, PostgresStore, execute, get, in_transaction, is_unique_violation, query, query_one,
    query_opt,
};
use crate::rules::{check_app_group_idle, object_json};
use crate::stored::StoredRow;
use crate::stored::records::{self, APP_GROUP_COLUMNS};
use crate::{AppGroupStore, ArtifactKey};

#[async_trait]
impl AppGroupStore for PostgresStore {
    async fn create_app_group(&self, new: NewAppGroup, now_ms: i64) -> Result<AppGroup> {
        let extra = object_json(new.extra.clone());
        let client = self.client().await?;
        let inserted = client
            .query_one(
                "INSERT INTO app_group (name, app_type, description, extra, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                &[&new.name, &new.app_type, &new.description, &extra, &now_ms],
            )
            .await;
        let row = match inserted {
            Err(e) if is_unique_violation(&e) => return Err(Error::AppDuplicated(new.name)),
            other => other.db()?,
        };
        Ok(records::new_app_group(get(&row, 0)?, new, now_ms))
    }

    async fn app_group(&self, identity: &str) -> Result<AppGroup> {
        let client = self.client().await?;
        let id = app_id(&client, identity).await?;
        let row = query_one(
            &client,
            &format!("SELECT {APP_GROUP_COLUMNS} FROM app_group WHERE id = $1"),
            &[&id],
        )
        .await?;
        records::app_group(&row)
    }

    async fn list_app_groups(
        &self,
        name: Option<String>,
        app_type: Option<String>,
        page: Page,
    ) -> Result<(Vec<AppGroup>, u64)> {
        let client = self.client().await?;
        // NULL filters match everything; `name` filters by substring like the console does.
        let filter =
            "($1::TEXT IS NULL OR strpos(name, $1) > 0) AND ($2::TEXT IS NULL OR app_type = $2)";
        let total = count(&client, "app_group", filter, &[&name, &app_type]).await?;
        let rows = query(
            &client,
            &format!(
                "SELECT {APP_GROUP_COLUMNS} FROM app_group WHERE {filter} ORDER BY id LIMIT $3 OFFSET $4"
            ),
            &[&name, &app_type, &i64::from(page.size), &(page.offset() as i64)],
        )
        .await?;
        let groups = rows
            .iter()
            .map(|row| records::app_group(row))
            .collect::<Result<Vec<_>>>()?;
        Ok((groups, total))
    }

    async fn delete_app_group(&self, identity: &str) -> Result<Vec<ArtifactKey>> {
        in_transaction!(self, |tx| {
            let id = app_id(&tx, identity).await?;
            // Lock the app group's row: a task queued concurrently (which reads the row) waits for this delete.
            execute(
                &tx,
                "SELECT 1 FROM app_group WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?;
            let busy = query_opt(
                &tx,
                "SELECT i.name FROM task t JOIN instance i ON i.id = t.instance_id
                 WHERE i.app_id = $1 AND t.state IN ('queued', 'running') LIMIT 1",
                &[&id],
            )
            .await?;
            check_app_group_idle(identity, busy.map(|row| row.text(0)).transpose()?)?;
            let keys = artifact_keys(
                &tx,
                "SELECT t.artifact FROM task t JOIN instance i ON i.id = t.instance_id
                 WHERE i.app_id = $1 AND t.artifact IS NOT NULL",
                &[&id],
            )
            .await?;
            // event_key has no foreign key (it leads with the day for retention): remove its rows here.
            execute(&tx, "DELETE FROM event_key WHERE app_id = $1", &[&id]).await?;
            execute(&tx, "DELETE FROM app_group WHERE id = $1", &[&id]).await?;
            keys
        })
    }
}
