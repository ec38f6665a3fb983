use algocenter_domain::instance::{Instance, InstanceFilter, InstanceUpdate, NewInstance};
use algocenter_domain::paging::Page;
use algocenter_domain::{Error, Function, Result};
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};

use super::rows::{app_id, artifact_keys, count, instance_id, query, query_one};
use super::tasks::active_generation;
use super::{Db, SqliteStore};
use crate::rules::{check_instance_idle, missing_resource};
use crate::stored::records::{self, INSTANCE_SELECT, parameters_json};
use crate::{ArtifactKey, InstanceStore};

pub(super) fn load_instance(conn: &Connection, id: i64) -> Result<Instance> {
    query_one(
        conn,
        &format!("{INSTANCE_SELECT} WHERE i.id = ?1"),
        [id],
        records::instance,
    )
}

/// Replaces the resource references of an instance; every named resource must exist in the same app group and
/// function.
fn set_resource_refs(
    tx: &Transaction<'_>,
    app_id: i64,
    function: Function,
    instance_id: i64,
    refs: &[(String, String)],
) -> Result<()> {
    tx.execute(
        "DELETE FROM resource_reference WHERE instance_id = ?1",
        [instance_id],
    )
    .db()?;
    for (parameter, resource) in refs {
        let resource_id: Option<i64> = tx
            .query_row(
                "SELECT id FROM resource WHERE app_id = ?1 AND function = ?2 AND name = ?3",
                params![app_id, function.as_str(), resource],
                |r| r.get(0),
            )
            .optional()
            .db()?;
        let Some(resource_id) = resource_id else {
            return Err(missing_resource(parameter, resource, function));
        };
        tx.execute(
            "INSERT INTO resource_reference (instance_id, parameter, resource_id) VALUES (?1, ?2, ?3)",
            params![instance_id, parameter, resource_id],
        )
        .db()?;
    }
    Ok(())
}

#[async_trait]
impl InstanceStore for SqliteStore {
    async fn create_instance(&self, app: &str, new: NewInstance, now_ms: i64) -> Result<Instance> {
        let app = app.to_string();
        self.write(move |tx| {
            let app_id = app_id(tx, &app)?;
            let inserted = tx.execute(
                "INSERT INTO instance (app_id, function, name, model_type, function_type, description, cron,
                     next_fire_ms, version_id, create_parameters, usage_parameters, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                params![
                    app_id,
                    new.function.as_str(),
                    new.name,
                    new.model_type,
                    new.function_type,
                    new.description,
                    new.cron,
                    new.next_fire_ms,
                    new.version_id,
                    parameters_json(&new.create_parameters),
                    parameters_json(&new.usage_parameters),
                    now_ms
                ],
            );
            match inserted {
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
                    return Err(Error::InstanceDuplicated(new.name));
                }
                other => other.db()?,
            };
            let id = tx.last_insert_rowid();
            set_resource_refs(tx, app_id, new.function, id, &new.resource_refs)?;
            load_instance(tx, id)
        })
        .await
    }

    async fn instance(&self, app: &str, function: Function, name: &str) -> Result<Instance> {
        let (app, name) = (app.to_string(), name.to_string());
        self.read(move |conn| {
            let id = instance_id(conn, &app, function, &name)?;
            load_instance(conn, id)
        })
        .await
    }

    async fn list_instances(
        &self,
        app: &str,
        function: Function,
        filter: InstanceFilter,
        page: Page,
    ) -> Result<(Vec<Instance>, u64)> {
        let app = app.to_string();
        self.read(move |conn| {
            let app_id = app_id(conn, &app)?;
            if !filter.include_user {
                return Ok((Vec::new(), 0));
            }
            let condition =
                "i.app_id = ?1 AND i.function = ?2 AND (?3 IS NULL OR i.model_type = ?3)
                             AND (?4 IS NULL OR i.function_type = ?4)";
            let args = params![
                app_id,
                function.as_str(),
                filter.model_type,
                filter.function_type
            ];
            let total = count(conn, "instance i", condition, args)?;
            let instances = query(
                conn,
                &format!("{INSTANCE_SELECT} WHERE {condition} ORDER BY i.id LIMIT ?5 OFFSET ?6"),
                params![
                    app_id,
                    function.as_str(),
                    filter.model_type,
                    filter.function_type,
                    page.size,
                    page.offset() as i64
                ],
                records::instance,
            )?;
            Ok((instances, total))
        })
        .await
    }

    async fn update_instance(
        &self,
        app: &str,
        function: Function,
        name: &str,
        update: InstanceUpdate,
        now_ms: i64,
    ) -> Result<Instance> {
        let (app, name) = (app.to_string(), name.to_string());
        self.write(move |tx| {
            let id = instance_id(tx, &app, function, &name)?;
            if let Some(description) = &update.description {
                tx.execute(
                    "UPDATE instance SET description = ?1 WHERE id = ?2",
                    params![description, id],
                )
                .db()?;
            }
            if let Some(cron) = &update.cron {
                let next = update.next_fire_ms.flatten();
                tx.execute(
                    "UPDATE instance SET cron = ?1, next_fire_ms = ?2 WHERE id = ?3",
                    params![cron, next, id],
                )
                .db()?;
            }
            if let Some(create) = &update.create_parameters {
                tx.execute(
                    "UPDATE instance SET create_parameters = ?1 WHERE id = ?2",
                    params![parameters_json(create), id],
                )
                .db()?;
            }
            if let Some(usage) = &update.usage_parameters {
                tx.execute(
                    "UPDATE instance SET usage_parameters = ?1 WHERE id = ?2",
                    params![parameters_json(usage), id],
                )
                .db()?;
            }
            if let Some(refs) = &update.resource_refs {
                let app_id = app_id(tx, &app)?;
                set_resource_refs(tx, app_id, function, id, refs)?;
            }
            tx.execute(
                "UPDATE instance SET updated_ms = ?1 WHERE id = ?2",
                params![now_ms, id],
            )
            .db()?;
            load_instance(tx, id)
        })
        .await
    }

    async fn delete_instance(
        &self,
        app: &str,
        function: Function,
        name: &str,
    ) -> Result<Vec<ArtifactKey>> {
        let (app, name) = (app.to_string(), name.to_string());
        self.write(move |tx| {
            let id = instance_id(tx, &app, function, &name)?;
            check_instance_idle(&name, active_generation(tx, id)?)?;
            let keys = artifact_keys(
                tx,
                "SELECT artifact FROM task WHERE instance_id = ?1 AND artifact IS NOT NULL",
                [id],
            )?;
            tx.execute("DELETE FROM instance WHERE id = ?1", [id])
                .db()?;
            Ok(keys)
        })
        .await
    }

    async fn default_instance(&self, app: &str, function: Function) -> Result<String> {
        let app = app.to_string();
        self.read(move |conn| {
            let app_id = app_id(conn, &app)?;
            conn.query_row(
                "SELECT i.name FROM default_instance d JOIN instance i ON i.id = d.instance_id
                 WHERE d.app_id = ?1 AND d.function = ?2",
                params![app_id, function.as_str()],
                |r| r.get(0),
            )
            .optional()
            .db()?
            .ok_or_else(|| Error::DefaultInstanceNotExist(function.to_string()))
        })
        .await
    }

    async fn set_default_instance(
        &self,
        app: &str,
        function: Function,
        name: Option<String>,
    ) -> Result<()> {
        let app = app.to_string();
        self.write(move |tx| {
            let app_id = app_id(tx, &app)?;
            match name {
                None => {
                    tx.execute(
                        "DELETE FROM default_instance WHERE app_id = ?1 AND function = ?2",
                        params![app_id, function.as_str()],
                    )
                    .db()?;
                }
                Some(name) => {
                    let id = instance_id(tx, &app, function, &name)?;
                    tx.execute(
                        "INSERT INTO default_instance (app_id, function, instance_id) VALUES (?1, ?2, ?3)
                         ON CONFLICT (app_id, function) DO UPDATE SET instance_id = excluded.instance_id",
                        params![app_id, function.as_str(), id],
                    )
                    .db()?;
                }
            }
            Ok(())
        })
        .await
    }
}
