use algocenter_domain::access_key::{AccessKey, Scope};
use algocenter_domain::{Error, Result};
use async_trait::async_trait;
use rusqlite::{ErrorCode, OptionalExtension, Row, params};

use super::{Db, SqliteStore};
use crate::KeyStore;

const COLUMNS: &str = "id, scope, apps, description, created_ms, revoked_ms";

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<AccessKey> {
    let scope: String = row.get(1)?;
    let apps: String = row.get(2)?;
    Ok(AccessKey {
        id: row.get(0)?,
        // The CHECK constraint keeps the scope valid; read is the safe reading of anything else.
        scope: scope.parse().unwrap_or(Scope::Read),
        apps: serde_json::from_str(&apps).unwrap_or_default(),
        description: row.get(3)?,
        created_ms: row.get(4)?,
        revoked_ms: row.get(5)?,
    })
}

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
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS}, sealed_secret FROM access_key WHERE id = ?1"
            ))
            .db()?
            .query_row([id], |r| Ok((key_from_row(r)?, r.get(6)?)))
            .optional()
            .db()
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<AccessKey>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM access_key ORDER BY created_ms, id"
                ))
                .db()?;
            let keys = stmt
                .query_map([], key_from_row)
                .db()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .db()?;
            Ok(keys)
        })
        .await
    }

    async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<AccessKey> {
        let id = id.to_string();
        self.write(move |tx| {
            let key = tx
                .query_row(&format!("SELECT {COLUMNS} FROM access_key WHERE id = ?1"), [&id], key_from_row)
                .optional()
                .db()?
                .ok_or_else(|| Error::AccessKeyNotExist(id.clone()))?;
            if key.revoked_ms.is_some() {
                return Ok(key);
            }
            if key.scope == Scope::Admin && key.apps.is_empty() {
                let others: i64 = tx
                    .query_row(
                        "SELECT count(*) FROM access_key
                         WHERE scope = 'admin' AND apps = '[]' AND revoked_ms IS NULL AND id <> ?1",
                        [&id],
                        |r| r.get(0),
                    )
                    .db()?;
                if others == 0 {
                    return Err(Error::LastAdminKey(format!(
                        "access key '{id}' is the last admin key for all app groups; create another one before revoking it."
                    )));
                }
            }
            tx.execute("UPDATE access_key SET revoked_ms = ?1 WHERE id = ?2", params![now_ms, id]).db()?;
            Ok(AccessKey { revoked_ms: Some(now_ms), ..key })
        })
        .await
    }

    async fn has_keys(&self) -> Result<bool> {
        self.read(|conn| {
            let n: i64 = conn
                .query_row("SELECT count(*) FROM access_key", [], |r| r.get(0))
                .db()?;
            Ok(n > 0)
        })
        .await
    }
}
