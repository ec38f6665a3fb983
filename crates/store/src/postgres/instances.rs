use algocenter_domain::instance::{Instance, InstanceFilter, InstanceUpdate, NewInstance};
use algocenter_domain::paging::Page;
use algocenter_domain::{Error, Function, Result};
use async_trait::async_trait;
use deadpool_postgres::Transaction;

use super::rows::{app_id, artifact_keys, count, instance_id, load_instance};
use super::tasks::active_generation;
use super::{
    Db, PostgresStore, execute, get, in_transaction, is_unique_violation, query, query_opt,
};
use crate::rules::{check_instance_idle, missing_resource};
use crate::stored::records::{self, INSTANCE_SELECT, parameters_json};
use crate::{ArtifactKey, InstanceStore};

/// Replaces the resource references of an instance; every named resource must exist in the same app group and
/// function.
async fn set_resource_refs(
    tx: &Transaction<'_>,
    app_id: i64,
    function: Function,
    instance_id: i64,
    refs: &[(String, String)],
) -> Result<()> {
    execute(
        tx,
        "DELETE FROM resource_reference WHERE instance_id = $1",
        &[&instance_id],
    )
    .await?;
    for (parameter, resource) in refs {
        let row = query_opt(
            tx,
            // FOR SHARE: a concurrent DeleteFunctionResource waits until this reference is committed (and then
            // sees it), instead of deleting a resource that is about to be referenced.
            "SELECT id FROM resource WHERE app_id = $1 AND function = $2 AND name = $3 FOR SHARE",
            &[&app_id, &function.as_str(), resource],
        )
        .await?;
        let Some(row) = row else {
            return Err(missing_resource(parameter, resource, function));
        };
        let resource_id: i64 = get(&row, 0)?;
        execute(
            tx,
            "INSERT INTO resource_reference (instance_id, parameter, resource_id) VALUES ($1, $2, $3)",
            &[&instance_id, parameter, &resource_id],
        )
        .await?;
    }
    Ok(())
}

#[async_trait]
impl InstanceStore for PostgresStore {
    async fn create_instance(&self, app: &str, new: NewInstance, now_ms: i64) -> Result<Instance> {
        in_transaction!(self, |tx| {
            let app_id = app_id(&tx, app).await?;
            let inserted = tx
                .query_one(
                    "INSERT INTO instance (app_id, function, name, model_type, function_type, description, cron,
                         next_fire_ms, version_id, create_parameters, usage_parameters, created_ms, updated_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
                    &[
                        &app_id,
                        &new.function.as_str(),
                        &new.name,
                        &new.model_type,
                        &new.function_type,
                        &new.description,
                        &new.cron,
                        &new.next_fire_ms,
                        &new.version_id,
                        &parameters_json(&new.create_parameters),
                        &parameters_json(&new.usage_parameters),
                        &now_ms,
                    ],
                )
                .await;
            let row = match inserted {
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::InstanceDuplicated(new.name));
                }
                other => other.db()?,
            };
            let id: i64 = get(&row, 0)?;
            set_resource_refs(&tx, app_id, new.function, id, &new.resource_refs).await?;
            load_instance(&tx, id).await?
        })
    }

    async fn instance(&self, app: &str, function: Function, name: &str) -> Result<Instance> {
        let client = self.client().await?;
        let id = instance_id(&client, app, function, name).await?;
        load_instance(&client, id).await
    }

    async fn list_instances(
        &self,
        app: &str,
        function: Function,
        filter: InstanceFilter,
        page: Page,
    ) -> Result<(Vec<Instance>, u64)> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        if !filter.include_user {
            return Ok((Vec::new(), 0));
        }
        let condition =
            "i.app_id = $1 AND i.function = $2 AND ($3::TEXT IS NULL OR i.model_type = $3)
                         AND ($4::TEXT IS NULL OR i.function_type = $4)";
        let function = function.as_str();
        let total = count(
            &client,
            "instance i",
            condition,
            &[
                &app_id,
                &function,
                &filter.model_type,
                &filter.function_type,
            ],
        )
        .await?;
        let rows = query(
            &client,
            &format!("{INSTANCE_SELECT} WHERE {condition} ORDER BY i.id LIMIT $5 OFFSET $6"),
            &[
                &app_id,
                &function,
                &filter.model_type,
                &filter.function_type,
                &i64::from(page.size),
                &(page.offset() as i64),
            ],
        )
        .await?;
        let instances = rows
            .iter()
            .map(|row| records::instance(row))
            .collect::<Result<Vec<_>>>()?;
        Ok((instances, total))
    }

    async fn update_instance(
        &self,
        app: &str,
        function: Function,
        name: &str,
        update: InstanceUpdate,
        now_ms: i64,
    ) -> Result<Instance> {
        in_transaction!(self, |tx| {
            let id = instance_id(&tx, app, function, name).await?;
            // One writer of an instance at a time, in the lock order of the task functions (see tasks.rs).
            execute(
                &tx,
                "SELECT 1 FROM instance WHERE id = $1 FOR NO KEY UPDATE",
                &[&id],
            )
            .await?;
            if let Some(description) = &update.description {
                execute(
                    &tx,
                    "UPDATE instance SET description = $1 WHERE id = $2",
                    &[description, &id],
                )
                .await?;
            }
            if let Some(cron) = &update.cron {
                let next = update.next_fire_ms.flatten();
                execute(
                    &tx,
                    "UPDATE instance SET cron = $1, next_fire_ms = $2 WHERE id = $3",
                    &[cron, &next, &id],
                )
                .await?;
            }
            if let Some(create) = &update.create_parameters {
                execute(
                    &tx,
                    "UPDATE instance SET create_parameters = $1 WHERE id = $2",
                    &[&parameters_json(create), &id],
                )
                .await?;
            }
            if let Some(usage) = &update.usage_parameters {
                execute(
                    &tx,
                    "UPDATE instance SET usage_parameters = $1 WHERE id = $2",
                    &[&parameters_json(usage), &id],
                )
                .await?;
            }
            if let Some(refs) = &update.resource_refs {
                let app_id = app_id(&tx, app).await?;
                set_resource_refs(&tx, app_id, function, id, refs).await?;
            }
            execute(
                &tx,
                "UPDATE instance SET updated_ms = $1 WHERE id = $2",
                &[&now_ms, &id],
            )
            .await?;
            load_instance(&tx, id).await?
        })
    }

    async fn delete_instance(
        &self,
        app: &str,
        function: Function,
        name: &str,
    ) -> Result<Vec<ArtifactKey>> {
        in_transaction!(self, |tx| {
            let id = instance_id(&tx, app, function, name).await?;
            // Lock the instance: a task being queued for it concurrently waits, then finds it gone.
            execute(
                &tx,
                "SELECT 1 FROM instance WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?;
            check_instance_idle(name, active_generation(&tx, id).await?)?;
            let keys = artifact_keys(
                &tx,
                "SELECT artifact FROM task WHERE instance_id = $1 AND artifact IS NOT NULL",
                &[&id],
            )
            .await?;
            execute(&tx, "DELETE FROM instance WHERE id = $1", &[&id]).await?;
            keys
        })
    }

    async fn default_instance(&self, app: &str, function: Function) -> Result<String> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        let row = query_opt(
            &client,
            "SELECT i.name FROM default_instance d JOIN instance i ON i.id = d.instance_id
             WHERE d.app_id = $1 AND d.function = $2",
            &[&app_id, &function.as_str()],
        )
        .await?;
        match row {
            Some(row) => get(&row, 0),
            None => Err(Error::DefaultInstanceNotExist(function.to_string())),
        }
    }

    async fn set_default_instance(
        &self,
        app: &str,
        function: Function,
        name: Option<String>,
    ) -> Result<()> {
        in_transaction!(self, |tx| {
            let app_id = app_id(&tx, app).await?;
            match name {
                None => {
                    execute(
                        &tx,
                        "DELETE FROM default_instance WHERE app_id = $1 AND function = $2",
                        &[&app_id, &function.as_str()],
                    )
                    .await?;
                }
                Some(name) => {
                    let id = instance_id(&tx, app, function, &name).await?;
                    execute(
                        &tx,
                        "INSERT INTO default_instance (app_id, function, instance_id) VALUES ($1, $2, $3)
                         ON CONFLICT (app_id, function) DO UPDATE SET instance_id = excluded.instance_id",
                        &[&app_id, &function.as_str(), &id],
                    )
                    .await?;
                }
            }
        })
    }
}
