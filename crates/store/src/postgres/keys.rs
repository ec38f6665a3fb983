//! Access keys in PostgreSQL.

use algocenter_domain::access_key::AccessKey;
use algocenter_domain::{Error, Result};
use async_trait::async_trait;

use super::rows::column;
use super::{Db, PostgresStore, execute, get, in_transaction, query, query_one, query_opt};
use crate::KeyStore;
use crate::rules::{check_not_last_admin, is_admin_for_all};
use crate::stored::records::{self, KEY_COLUMNS as COLUMNS};

#[async_trait]
impl KeyStore for PostgresStore {
    async fn create_key(&self, key: AccessKey, sealed_secret: Vec<u8>) -> Result<()> {
        let apps = serde_json::to_string(&key.apps).map_err(Error::internal)?;
        let client = self.client().await?;
        // A taken id inserts nothing rather than failing the statement.
        let inserted = execute(
            &client,
            "INSERT INTO access_key (id, sealed_secret, scope, apps, description, created_ms, revoked_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            &[
                &key.id,
                &sealed_secret,
                &key.scope.as_str(),
                &apps,
                &key.description,
                &key.created_ms,
                &key.revoked_ms,
            ],
        )
        .await?;
        if inserted == 0 {
            return Err(Error::AccessKeyDuplicated(key.id));
        }
        Ok(())
    }

    async fn key(&self, id: &str) -> Result<Option<(AccessKey, Vec<u8>)>> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            &format!("SELECT {COLUMNS}, sealed_secret FROM access_key WHERE id = $1"),
            &[&id],
        )
        .await?;
        match row {
            Some(row) => Ok(Some((records::access_key(&row)?, get(&row, 6)?))),
            None => Ok(None),
        }
    }

    async fn list_keys(&self) -> Result<Vec<AccessKey>> {
        let client = self.client().await?;
        // Byte order of ids, as in the embedded store, whatever the database's collation.
        let rows = query(
            &client,
            &format!("SELECT {COLUMNS} FROM access_key ORDER BY created_ms, id COLLATE \"C\""),
            &[],
        )
        .await?;
        rows.iter().map(|row| records::access_key(row)).collect()
    }

    async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<AccessKey> {
        in_transaction!(self, |tx| {
            let key = match query_opt(
                &tx,
                &format!("SELECT {COLUMNS} FROM access_key WHERE id = $1"),
                &[&id],
            )
            .await?
            {
                Some(row) => records::access_key(&row)?,
                None => return Err(Error::AccessKeyNotExist(id.to_string())),
            };
            if key.revoked_ms.is_some() {
                return Ok(key);
            }
            if is_admin_for_all(&key) {
                // Every active admin key for all app groups, locked in id order: of two concurrent revocations
                // of the last two, the second waits for the first to commit and then sees one key fewer.
                let active: Vec<String> = column(
                    &tx,
                    "SELECT id FROM access_key
                     WHERE scope = 'admin' AND apps = '[]' AND revoked_ms IS NULL ORDER BY id FOR UPDATE",
                    &[],
                )
                .await?;
                check_not_last_admin(id, active.iter().filter(|other| *other != id).count())?;
            }
            let revoked = query_opt(
                &tx,
                &format!(
                    "UPDATE access_key SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL
                     RETURNING {COLUMNS}"
                ),
                &[&now_ms, &id],
            )
            .await?;
            match revoked {
                Some(row) => records::access_key(&row)?,
                // Revoked meanwhile by another request: answered as stored, like any revoked key.
                None => records::access_key(
                    &query_one(
                        &tx,
                        &format!("SELECT {COLUMNS} FROM access_key WHERE id = $1"),
                        &[&id],
                    )
                    .await?,
                )?,
            }
        })
    }

    async fn has_keys(&self) -> Result<bool> {
        let client = self.client().await?;
        let row = query_one(&client, "SELECT EXISTS (SELECT 1 FROM access_key)", &[]).await?;
        get(&row, 0)
    }
}
