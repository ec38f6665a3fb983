//! The rules query analysis reads, remembered as serving remembers instances: for [`INSTANCE_TTL`], and read
//! again at once after this process changed one ([`Serving::invalidate`]).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

use algocenter_domain::Result;
use algocenter_domain::instance::SERVING_CHANGE_IN_FLIGHT;
use algocenter_domain::query_rule::QueryAnalysisRule;

use crate::{INSTANCE_TTL, Serving};

/// (app group, rule name or `None` for the default).
type RuleKey = (String, Option<String>);

/// Rules by key, with when (time, epoch) they were read.
#[derive(Default)]
pub(crate) struct RuleCache {
    entries: RwLock<HashMap<RuleKey, (Instant, u64, QueryAnalysisRule)>>,
}

/// Rule lookups remembered at most (the cache starts over beyond).
const MAX_CACHED_RULES: usize = 10_000;

impl Serving {
    /// The rule `name` of an app group, or its default rule.
    pub async fn query_rule(&self, app: &str, name: Option<&str>) -> Result<QueryAnalysisRule> {
        let key = (app.to_string(), name.map(str::to_string));
        let epoch = self.epoch();
        let settled = epoch < SERVING_CHANGE_IN_FLIGHT;
        let cache = &self.rule_cache().entries;
        if settled
            && let Some((read_at, read_epoch, rule)) =
                cache.read().unwrap_or_else(|p| p.into_inner()).get(&key)
            && *read_epoch == epoch
            && read_at.elapsed() < INSTANCE_TTL
        {
            return Ok(rule.clone());
        }
        let rule = match name {
            Some(name) => self.store().rule(app, name).await?,
            None => self.store().default_rule(app).await?,
        };
        if settled && self.epoch() == epoch {
            let mut entries = cache.write().unwrap_or_else(|p| p.into_inner());
            if entries.len() >= MAX_CACHED_RULES {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), epoch, rule.clone()));
        }
        Ok(rule)
    }
}
