use algocenter_domain::paging::Page;
use algocenter_domain::resource::{NewResource, Resource, ResourceData, ResourceType};
use algocenter_domain::{Error, Function, Result};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::rows::{app_id, count, referenced_instances};
use super::{
    Db, PostgresStore, execute, get, in_transaction, is_unique_violation, query, query_one,
    query_opt,
};
use crate::ResourceStore;
use crate::stored::records::{self, RESOURCE_COLUMNS, resource_data_json};

/// The id of a resource; `lock` takes its row lock (for a delete that must not race a new reference).
async fn resource_id(
    c: &impl GenericClient,
    app_id: i64,
    function: Function,
    name: &str,
    lock: bool,
) -> Result<i64> {
    let sql = if lock {
        "SELECT id FROM resource WHERE app_id = $1 AND function = $2 AND name = $3 FOR UPDATE"
    } else {
        "SELECT id FROM resource WHERE app_id = $1 AND function = $2 AND name = $3"
    };
    match query_opt(c, sql, &[&app_id, &function.as_str(), &name]).await? {
        Some(row) => get(&row, 0),
        None => Err(Error::ResourceNotExist(name.to_string())),
    }
}

#[async_trait]
impl ResourceStore for PostgresStore {
    async fn create_resource(
        &self,
        app: &str,
        function: Function,
        new: NewResource,
        now_ms: i64,
    ) -> Result<()> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        let inserted = client
            .execute(
                "INSERT INTO resource (app_id, function, name, resource_type, description, data, created_ms, modified_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                &[
                    &app_id,
                    &function.as_str(),
                    &new.name,
                    &new.resource_type.as_str(),
                    &new.description,
                    &resource_data_json(&new.data)?,
                    &now_ms,
                ],
            )
            .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => Err(Error::ResourceDuplicated(new.name)),
            other => other.db().map(|_| ()),
        }
    }

    async fn resource(&self, app: &str, function: Function, name: &str) -> Result<Resource> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        let id = resource_id(&client, app_id, function, name, false).await?;
        let row = query_one(
            &client,
            &format!("SELECT {RESOURCE_COLUMNS} FROM resource r WHERE r.id = $1"),
            &[&id],
        )
        .await?;
        let (id, mut resource) = records::resource(&row)?;
        resource.referenced_instances = referenced_instances(&client, id).await?;
        Ok(resource)
    }

    async fn list_resources(
        &self,
        app: &str,
        function: Function,
        resource_type: Option<ResourceType>,
        page: Page,
    ) -> Result<(Vec<Resource>, u64)> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        let kind = resource_type.map(ResourceType::as_str);
        let function = function.as_str();
        let condition =
            "r.app_id = $1 AND r.function = $2 AND ($3::TEXT IS NULL OR r.resource_type = $3)";
        let total = count(
            &client,
            "resource r",
            condition,
            &[&app_id, &function, &kind],
        )
        .await?;
        let rows = query(
            &client,
            &format!(
                "SELECT {RESOURCE_COLUMNS} FROM resource r WHERE {condition} ORDER BY r.id LIMIT $4 OFFSET $5"
            ),
            &[&app_id, &function, &kind, &i64::from(page.size), &(page.offset() as i64)],
        )
        .await?;
        let mut resources = Vec::with_capacity(rows.len());
        for row in &rows {
            let (id, mut resource) = records::resource(row)?;
            resource.referenced_instances = referenced_instances(&client, id).await?;
            resources.push(resource);
        }
        Ok((resources, total))
    }

    async fn update_resource(
        &self,
        app: &str,
        function: Function,
        name: &str,
        description: Option<String>,
        data: Option<ResourceData>,
        now_ms: i64,
    ) -> Result<()> {
        in_transaction!(self, |tx| {
            let app_id = app_id(&tx, app).await?;
            let id = resource_id(&tx, app_id, function, name, false).await?;
            if let Some(description) = description {
                execute(
                    &tx,
                    "UPDATE resource SET description = $1 WHERE id = $2",
                    &[&description, &id],
                )
                .await?;
            }
            if let Some(data) = data {
                execute(
                    &tx,
                    "UPDATE resource SET data = $1 WHERE id = $2",
                    &[&resource_data_json(&data)?, &id],
                )
                .await?;
            }
            execute(
                &tx,
                "UPDATE resource SET modified_ms = $1 WHERE id = $2",
                &[&now_ms, &id],
            )
            .await?;
        })
    }

    async fn delete_resource(&self, app: &str, function: Function, name: &str) -> Result<()> {
        in_transaction!(self, |tx| {
            let app_id = app_id(&tx, app).await?;
            let id = resource_id(&tx, app_id, function, name, true).await?;
            let instances = referenced_instances(&tx, id).await?;
            if !instances.is_empty() {
                return Err(Error::ResourceInUse {
                    resource: name.to_string(),
                    instances,
                });
            }
            execute(&tx, "DELETE FROM resource WHERE id = $1", &[&id]).await?;
        })
    }
}
