use algocenter_domain::access_key::AccessKey;
use algocenter_domain::{Error, Result};
use async_trait::async_trait;
use rusqlite::{ErrorCode, params};

use super::rows::{query, query_one, query_opt};
use super::{Db, SqliteStore};
use crate::KeyStore;
use crate::rules::{check_not_last_admin, is_admin_for_all};
use crate::stored::records::{self, KEY_COLUMNS};

#[async_trait]
impl KeyStore for SqliteStore {
    async fn create_key(&self, key: AccessKey, sealed_secret: Vec<u8>) -> Result<()> {
        self.write(move |tx| {
            let apps = serde_json::to_string(&key.apps).map_err(Error::internal)?;
            let inserted = tx.execute(
                "INSERT INTO access_key (id, sealed_secret, scope, apps, description, created_ms, revoked_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![key.id, sealed_secret, key.scope.as_str(), apps, key.description, key.created_ms, key.revoked_ms],
            );
            match inserted {
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
                    Err(Error::AccessKeyDuplicated(key.id))
                }
                other => other.db().map(|_| ()),
            }
        })
        .await
    }

    async fn key(&self, id: &str) -> Result<Option<(AccessKey, Vec<u8>)>> {
        let id = id.to_string();
        self.read(move |conn| {
            query_opt(
                conn,
                &format!("SELECT {KEY_COLUMNS}, sealed_secret FROM access_key WHERE id = ?1"),
                [id],
                |r| Ok((records::access_key(r)?, r.bytes(6)?)),
            )
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<AccessKey>> {
        self.read(|conn| {
            query(
                conn,
                &format!("SELECT {KEY_COLUMNS} FROM access_key ORDER BY created_ms, id"),
                [],
                records::access_key,
            )
        })
        .await
    }

    async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<AccessKey> {
        let id = id.to_string();
        self.write(move |tx| {
            let key = query_opt(
                tx,
                &format!("SELECT {KEY_COLUMNS} FROM access_key WHERE id = ?1"),
                [&id],
                records::access_key,
            )?
            .ok_or_else(|| Error::AccessKeyNotExist(id.clone()))?;
            if key.revoked_ms.is_some() {
                return Ok(key);
            }
            if is_admin_for_all(&key) {
                let others = query_one(
                    tx,
                    "SELECT count(*) FROM access_key
                     WHERE scope = 'admin' AND apps = '[]' AND revoked_ms IS NULL AND id <> ?1",
                    [&id],
                    |r| r.int(0),
                )?;
                check_not_last_admin(&id, others as usize)?;
            }
            tx.execute(
                "UPDATE access_key SET revoked_ms = ?1 WHERE id = ?2",
                params![now_ms, id],
            )
            .db()?;
            Ok(AccessKey {
                revoked_ms: Some(now_ms),
                ..key
            })
        })
        .await
    }

    async fn has_keys(&self) -> Result<bool> {
        self.read(|conn| {
            let n = query_one(conn, "SELECT count(*) FROM access_key", [], |r| r.int(0))?;
            Ok(n > 0)
        })
        .await
    }
}
