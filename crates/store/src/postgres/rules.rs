use algocenter_domain::query_rule::{MAX_RULES, QueryAnalysisRule, RuleSpec};
use algocenter_domain::{Error, Result};
use async_trait::async_trait;

use super::rows::app_id;
use super::{Db, PostgresStore, execute, get, in_transaction, query, query_opt};
use crate::RuleStore;
use crate::stored::records::{self, RULE_COLUMNS, rule_spec_json};

#[async_trait]
impl RuleStore for PostgresStore {
    async fn put_rule(
        &self,
        app: &str,
        name: &str,
        spec: RuleSpec,
        now_ms: i64,
    ) -> Result<QueryAnalysisRule> {
        in_transaction!(self, |tx| {
            let app_id = app_id(&tx, app).await?;
            // One writer of an app group's rules at a time: two new defaults must not race the index.
            execute(
                &tx,
                "SELECT id FROM app_group WHERE id = $1 FOR UPDATE",
                &[&app_id],
            )
            .await?;
            let others = query_opt(
                &tx,
                "SELECT count(*)::BIGINT FROM query_rule WHERE app_id = $1 AND name <> $2",
                &[&app_id, &name],
            )
            .await?;
            let others: i64 = match &others {
                Some(row) => get(row, 0)?,
                None => 0,
            };
            if others as u64 >= MAX_RULES {
                return Err(Error::invalid(format_args!(
                    "an app group holds at most {MAX_RULES} query-analysis rules."
                )));
            }
            if spec.default {
                execute(
                    &tx,
                    "UPDATE query_rule SET is_default = FALSE WHERE app_id = $1 AND name <> $2 AND is_default",
                    &[&app_id, &name],
                )
                .await?;
            }
            execute(
                &tx,
                "INSERT INTO query_rule (app_id, name, spec, is_default, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $5)
                 ON CONFLICT (app_id, name) DO UPDATE
                 SET spec = excluded.spec, is_default = excluded.is_default, updated_ms = excluded.updated_ms",
                &[&app_id, &name, &rule_spec_json(&spec)?, &spec.default, &now_ms],
            )
            .await?;
            let row = query_opt(
                &tx,
                &format!("SELECT {RULE_COLUMNS} FROM query_rule WHERE app_id = $1 AND name = $2"),
                &[&app_id, &name],
            )
            .await?
            .ok_or_else(|| Error::internal("the rule just written is missing"))?;
            records::rule(&row)?
        })
    }

    async fn rule(&self, app: &str, name: &str) -> Result<QueryAnalysisRule> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        match query_opt(
            &client,
            &format!("SELECT {RULE_COLUMNS} FROM query_rule WHERE app_id = $1 AND name = $2"),
            &[&app_id, &name],
        )
        .await?
        {
            Some(row) => records::rule(&row),
            None => Err(Error::RuleNotExist(name.to_string())),
        }
    }

    async fn default_rule(&self, app: &str) -> Result<QueryAnalysisRule> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        match query_opt(
            &client,
            &format!("SELECT {RULE_COLUMNS} FROM query_rule WHERE app_id = $1 AND is_default"),
            &[&app_id],
        )
        .await?
        {
            Some(row) => records::rule(&row),
            None => Err(Error::RuleNotExist("(default rule)".into())),
        }
    }

    async fn list_rules(&self, app: &str) -> Result<Vec<QueryAnalysisRule>> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        query(
            &client,
            &format!("SELECT {RULE_COLUMNS} FROM query_rule WHERE app_id = $1 ORDER BY name"),
            &[&app_id],
        )
        .await?
        .iter()
        .map(|row| records::rule(row))
        .collect()
    }

    async fn delete_rule(&self, app: &str, name: &str) -> Result<()> {
        let client = self.client().await?;
        let app_id = app_id(&client, app).await?;
        let deleted = execute(
            &client,
            "DELETE FROM query_rule WHERE app_id = $1 AND name = $2",
            &[&app_id, &name],
        )
        .await?;
        if deleted == 0 {
            return Err(Error::RuleNotExist(name.to_string()));
        }
        Ok(())
    }
}
