//! Query analysis: one request analysed by the instances a query-analysis rule names, and rewritten for a
//! search engine.
//!
//! **Design.** The analysis is a pipeline of stages over one typed value, [`AnalysedQuery`], run in this order:
//!
//! | stage | function | what it changes |
//! |---|---|---|
//! | correction | `correction` (issue 17) | `corrected`: the query the later stages read |
//! | segmentation | `analyzer` | `tokens` (offsets, learned words, entities) |
//! | weights and stop words | `termweight` | each token's `weight`, `level`, `stop_word` |
//! | synonyms | `synonym` (issue 17) | each token's `synonyms` |
//! | categories | `category` | `categories` |
//! | rewrite | none | `rewritten`: OpenSearch query string and query DSL ([`rewrite`]) |
//!
//! A stage whose function the rule does not name is skipped (segmentation then falls back to the termweight
//! model's own analyzer, else to lower-cased words). Each stage that ran records which instance and generation
//! produced it in `stages`. **A new stage plugs in** as one `async fn` in [`stages`] taking
//! `(&Serving, &Rule, &mut AnalysedQuery)`, a line in [`Serving::analyse_query`] at its place in the order above,
//! the rule's key for its instance ([`algocenter_domain::query_rule::RuleSpec`]) and, when it changes what is
//! searched, a reading of its field in [`rewrite`].

mod rewrite;
mod rules;
mod stages;

use algocenter_domain::Result;
use algocenter_domain::query_rule::QueryAnalysisRule;
pub use algocenter_functions::analyzer::WordSource;
pub use algocenter_functions::termweight::Level;
use serde_json::Value;

pub(crate) use rules::RuleCache;

use crate::Serving;

/// Longest query analysed (bytes).
pub const MAX_QUERY_BYTES: usize = 256;

pub struct AnalysisRequest<'a> {
    pub app: &'a str,
    pub query: &'a str,
    /// The rule's name; the app group's default rule when `None`.
    pub rule: Option<&'a str>,
    /// Who searches (for stages that personalise; none does yet).
    pub user: Option<&'a str>,
}

/// One token of an analysed query.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysedToken {
    pub text: String,
    /// Character offsets in the query as sent.
    pub start: usize,
    pub end: usize,
    /// A lexicon word of the analyzer (learned, attribute or dictionary); `None` for the base analyzer's.
    pub source: Option<WordSource>,
    pub entity: Option<String>,
    /// From `termweight`; `None` when the rule names none.
    pub weight: Option<f32>,
    pub level: Option<Level>,
    pub stop_word: bool,
    /// From `synonym` (issue 17); empty until then.
    pub synonyms: Vec<String>,
}

/// Which instance and generation produced a stage's part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagePart {
    pub stage: &'static str,
    pub function: &'static str,
    pub instance: String,
    pub generation: i64,
}

/// The query rewritten for a search engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Rewritten {
    /// OpenSearch's query clause: `title:'a' AND title:'b' RANK title:'c'`.
    pub opensearch: String,
    /// Elasticsearch / OpenSearch query DSL: a `bool` query.
    pub dsl: Value,
}

/// The value every stage reads and extends.
#[derive(Clone, Debug)]
pub struct AnalysedQuery {
    pub raw: String,
    /// The query functions' normal form of the query.
    pub normalised: String,
    /// The query after spelling correction, when a correction stage changed it.
    pub corrected: Option<String>,
    pub tokens: Vec<AnalysedToken>,
    pub categories: Vec<(String, f32)>,
    pub rewritten: Option<Rewritten>,
    pub stages: Vec<StagePart>,
    pub rule: String,
}

impl AnalysedQuery {
    /// What segmentation reads: the corrected query, else the query as sent.
    pub fn text(&self) -> &str {
        self.corrected.as_deref().unwrap_or(&self.raw)
    }
}

impl Serving {
    /// Analyses a query with the rule it names (or the default rule) and rewrites it.
    pub async fn analyse_query(&self, request: AnalysisRequest<'_>) -> Result<AnalysedQuery> {
        let rule: QueryAnalysisRule = self.query_rule(request.app, request.rule).await?;
        let mut query = AnalysedQuery {
            raw: request.query.to_string(),
            normalised: algocenter_functions::query::normalise(request.query),
            corrected: None,
            tokens: Vec::new(),
            categories: Vec::new(),
            rewritten: None,
            stages: Vec::new(),
            rule: rule.name.clone(),
        };
        let app = request.app;
        stages::segment(self, app, &rule, &mut query).await?;
        stages::weigh(self, app, &rule, &mut query).await?;
        stages::categorise(self, app, &rule, &mut query).await?;
        query.rewritten = rewrite::rewrite(&rule.spec, &query);
        Ok(query)
    }
}
