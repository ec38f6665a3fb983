use algocenter_domain::query_rule::{MAX_RULES, QueryAnalysisRule, RuleSpec};
use algocenter_domain::{Error, Result};
use async_trait::async_trait;
use rusqlite::params;

use super::rows::{app_id, count, query, query_opt};
use super::{Db, SqliteStore};
use crate::RuleStore;
use crate::stored::records::{self, RULE_COLUMNS, rule_spec_json};

#[async_trait]
impl RuleStore for SqliteStore {
    async fn put_rule(
        &self,
        app: &str,
        name: &str,
        spec: RuleSpec,
        now_ms: i64,
    ) -> Result<QueryAnalysisRule> {
        let (app, name) = (app.to_string(), name.to_string());
        self.write(move |tx| {
            let app_id = app_id(tx, &app)?;
            let others = count(tx, "query_rule", "app_id = ?1 AND name <> ?2", params![app_id, name])?;
            if others >= MAX_RULES {
                return Err(Error::invalid(format_args!(
                    "an app group holds at most {MAX_RULES} query-analysis rules."
                )));
            }
            if spec.default {
                tx.execute(
                    "UPDATE query_rule SET is_default = 0 WHERE app_id = ?1 AND name <> ?2 AND is_default = 1",
                    params![app_id, name],
                )
                .db()?;
            }
            tx.execute(
                "INSERT INTO query_rule (app_id, name, spec, is_default, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (app_id, name) DO UPDATE
                 SET spec = excluded.spec, is_default = excluded.is_default, updated_ms = excluded.updated_ms",
                params![app_id, name, rule_spec_json(&spec)?, spec.default, now_ms],
            )
            .db()?;
            query_opt(
                tx,
                &format!("SELECT {RULE_COLUMNS} FROM query_rule WHERE app_id = ?1 AND name = ?2"),
                params![app_id, name],
                records::rule,
            )?
            .ok_or_else(|| Error::internal("the rule just written is missing"))
        })
        .await
    }

    async fn rule(&self, app: &str, name: &str) -> Result<QueryAnalysisRule> {
        let (app, name) = (app.to_string(), name.to_string());
        self.read(move |conn| {
            let app_id = app_id(conn, &app)?;
            query_opt(
                conn,
                &format!("SELECT {RULE_COLUMNS} FROM query_rule WHERE app_id = ?1 AND name = ?2"),
                params![app_id, name],
                records::rule,
            )?
            .ok_or(Error::RuleNotExist(name))
        })
        .await
    }

    async fn default_rule(&self, app: &str) -> Result<QueryAnalysisRule> {
        let app = app.to_string();
        self.read(move |conn| {
            let app_id = app_id(conn, &app)?;
            query_opt(
                conn,
                &format!(
                    "SELECT {RULE_COLUMNS} FROM query_rule WHERE app_id = ?1 AND is_default = 1"
                ),
                params![app_id],
                records::rule,
            )?
            .ok_or_else(|| Error::RuleNotExist("(default rule)".into()))
        })
        .await
    }

    async fn list_rules(&self, app: &str) -> Result<Vec<QueryAnalysisRule>> {
        let app = app.to_string();
        self.read(move |conn| {
            let app_id = app_id(conn, &app)?;
            query(
                conn,
                &format!("SELECT {RULE_COLUMNS} FROM query_rule WHERE app_id = ?1 ORDER BY name"),
                params![app_id],
                records::rule,
            )
        })
        .await
    }

    async fn delete_rule(&self, app: &str, name: &str) -> Result<()> {
        let (app, name) = (app.to_string(), name.to_string());
        self.write(move |tx| {
            let app_id = app_id(tx, &app)?;
            let deleted = tx
                .execute(
                    "DELETE FROM query_rule WHERE app_id = ?1 AND name = ?2",
                    params![app_id, name],
                )
                .db()?;
            if deleted == 0 {
                return Err(Error::RuleNotExist(name));
            }
            Ok(())
        })
        .await
    }
}
