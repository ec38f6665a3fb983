use algocenter_domain::paging::Page;
use algocenter_domain::resource::{NewResource, Resource, ResourceData, ResourceType};
use algocenter_domain::{Error, Function, Result};
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, params};

use super::rows::{app_id, count, query, query_one, query_opt, referenced_instances};
use super::{Db, SqliteStore};
use crate::ResourceStore;
use crate::stored::records::{self, RESOURCE_COLUMNS, resource_data_json};

fn resource_id(conn: &Connection, app_id: i64, function: Function, name: &str) -> Result<i64> {
    query_opt(
        conn,
        "SELECT id FROM resource WHERE app_id = ?1 AND function = ?2 AND name = ?3",
        params![app_id, function.as_str(), name],
        |r| r.int(0),
    )?
    .ok_or_else(|| Error::ResourceNotExist(name.to_string()))
}

#[async_trait]
impl ResourceStore for SqliteStore {
    async fn create_resource(
        &self,
        app: &str,
        function: Function,
        new: NewResource,
        now_ms: i64,
    ) -> Result<()> {
        let app = app.to_string();
        self.write(move |tx| {
            let app_id = app_id(tx, &app)?;
            let inserted = tx.execute(
                "INSERT INTO resource (app_id, function, name, resource_type, description, data, created_ms, modified_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![
                    app_id,
                    function.as_str(),
                    new.name,
                    new.resource_type.as_str(),
                    new.description,
                    resource_data_json(&new.data)?,
                    now_ms
                ],
            );
            match inserted {
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
                    Err(Error::ResourceDuplicated(new.name))
                }
                other => other.db().map(|_| ()),
            }
        })
        .await
    }

    async fn resource(&self, app: &str, function: Function, name: &str) -> Result<Resource> {
        let (app, name) = (app.to_string(), name.to_string());
        self.read(move |conn| {
            let app_id = app_id(conn, &app)?;
            let id = resource_id(conn, app_id, function, &name)?;
            let (id, mut resource) = query_one(
                conn,
                &format!("SELECT {RESOURCE_COLUMNS} FROM resource r WHERE r.id = ?1"),
                [id],
                records::resource,
            )?;
            resource.referenced_instances = referenced_instances(conn, id)?;
            Ok(resource)
        })
        .await
    }

    async fn list_resources(
        &self,
        app: &str,
        function: Function,
        resource_type: Option<ResourceType>,
        page: Page,
    ) -> Result<(Vec<Resource>, u64)> {
        let app = app.to_string();
        self.read(move |conn| {
            let app_id = app_id(conn, &app)?;
            let kind = resource_type.map(ResourceType::as_str);
            let condition = "r.app_id = ?1 AND r.function = ?2 AND (?3 IS NULL OR r.resource_type = ?3)";
            let total = count(conn, "resource r", condition, params![app_id, function.as_str(), kind])?;
            let rows = query(
                conn,
                &format!(
                    "SELECT {RESOURCE_COLUMNS} FROM resource r WHERE {condition} ORDER BY r.id LIMIT ?4 OFFSET ?5"
                ),
                params![app_id, function.as_str(), kind, page.size, page.offset() as i64],
                records::resource,
            )?;
            let mut resources = Vec::with_capacity(rows.len());
            for (id, mut resource) in rows {
                resource.referenced_instances = referenced_instances(conn, id)?;
                resources.push(resource);
            }
            Ok((resources, total))
        })
        .await
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
        let (app, name) = (app.to_string(), name.to_string());
        self.write(move |tx| {
            let app_id = app_id(tx, &app)?;
            let id = resource_id(tx, app_id, function, &name)?;
            if let Some(description) = description {
                tx.execute(
                    "UPDATE resource SET description = ?1 WHERE id = ?2",
                    params![description, id],
                )
                .db()?;
            }
            if let Some(data) = data {
                tx.execute(
                    "UPDATE resource SET data = ?1 WHERE id = ?2",
                    params![resource_data_json(&data)?, id],
                )
                .db()?;
            }
            tx.execute(
                "UPDATE resource SET modified_ms = ?1 WHERE id = ?2",
                params![now_ms, id],
            )
            .db()?;
            Ok(())
        })
        .await
    }

    async fn delete_resource(&self, app: &str, function: Function, name: &str) -> Result<()> {
        let (app, name) = (app.to_string(), name.to_string());
        self.write(move |tx| {
            let app_id = app_id(tx, &app)?;
            let id = resource_id(tx, app_id, function, &name)?;
            let instances = referenced_instances(tx, id)?;
            if !instances.is_empty() {
                return Err(Error::ResourceInUse {
                    resource: name,
                    instances,
                });
            }
            tx.execute("DELETE FROM resource WHERE id = ?1", [id])
                .db()?;
            Ok(())
        })
        .await
    }
}
