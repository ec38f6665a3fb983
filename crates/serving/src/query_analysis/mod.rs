//! Query analysis: one request analysed by the instances a query-analysis rule names, and rewritten for a
//! search engine.
//!
//! **Design.** The analysis is a pipeline of stages over one typed value, [`AnalysedQuery`], run in this order:
//!
//! | stage | function | what it changes |
//! |---|---|---|
//! | correction | `correction` | `corrected` (level 1): the query the later stages read; `correction` |
//! | segmentation | `analyzer` | `tokens` (offsets, learned words, entities) |
//! | weights and stop words | `termweight` | each token's `weight`, `level`, `stop_word` |
//! | synonyms | `synonym` | a known phrase's tokens joined into one; each token's `synonyms`, `synonym_boost` |
//! | categories | `category` | `categories` |
//! | rewrite | none | `rewritten`: OpenSearch query string and query DSL ([`rewrite`]) |
//!
//! A stage whose function the rule does not name is skipped (segmentation then falls back to the termweight
//! model's own analyzer, else to lower-cased words). Each stage that ran records which instance and generation
//! produced it in `stages`. **A new stage plugs in** as one `async fn` in [`stages`] taking
//! `(&Serving, &Rule, &mut AnalysedQuery)`, a line in [`Serving::analyse_query`] at its place in the order above,
//! the rule's key for its instance ([`algocenter_domain::query_rule::RuleSpec`]) and, when it changes what is
//! searched, a reading of its field in [`rewrite`].
//!
//! Each stage that ran is timed ([`AnalysedQuery::timings`], instance look-up included) so that the server can
//! publish per-stage latency; the stage's name there is one of [`STAGES`].

mod phrases;
mod rewrite;
mod rules;
mod stages;

use std::time::{Duration, Instant};

use algocenter_domain::Result;
use algocenter_domain::query_rule::QueryAnalysisRule;
pub use algocenter_functions::analyzer::WordSource;
pub use algocenter_functions::termweight::Level;
use serde_json::Value;

pub(crate) use rules::RuleCache;

use crate::Serving;

/// Longest query analysed (bytes).
pub const MAX_QUERY_BYTES: usize = 256;

/// The stages in pipeline order, by the names the answer's `stages` and [`AnalysedQuery::timings`] use.
pub const STAGES: [&str; 6] = [
    "correction",
    "segmentation",
    "weights",
    "synonyms",
    "categories",
    "rewrite",
];

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
    /// Character offsets in the text analysed, [`AnalysedQuery::text`]: the corrected query after a level-1
    /// correction (the token's text is a word of it), else the query as sent.
    pub start: usize,
    pub end: usize,
    /// A lexicon word of the analyzer (learned, attribute or dictionary); `None` for the base analyzer's.
    pub source: Option<WordSource>,
    pub entity: Option<String>,
    /// From `termweight`; `None` when the rule names none.
    pub weight: Option<f32>,
    pub level: Option<Level>,
    pub stop_word: bool,
    /// Other words for this one, from the rule's `synonym` instance, best first.
    pub synonyms: Vec<String>,
}

/// What the correction stage found: OpenSearch's `query_correction_info`.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrectionInfo {
    pub corrected: String,
    /// 1: the later stages read the corrected query; 2: a suggestion, the query stands.
    pub level: u8,
    pub source: &'static str,
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
    /// The correction stage's finding (level 1 or 2), when it found one.
    pub correction: Option<CorrectionInfo>,
    /// Weight of a synonym against the word typed in the rewrite (the synonym instance's `boost`).
    pub synonym_boost: Option<f32>,
    pub tokens: Vec<AnalysedToken>,
    pub categories: Vec<(String, f32)>,
    pub rewritten: Option<Rewritten>,
    pub stages: Vec<StagePart>,
    /// How long each stage that ran took, in pipeline order.
    pub timings: Vec<StageTime>,
    pub rule: String,
}

/// The time one stage of one analysis took (its instance look-up included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageTime {
    /// One of [`STAGES`].
    pub stage: &'static str,
    pub took: Duration,
}

impl AnalysedQuery {
    /// What segmentation reads, and what token offsets count characters of: the corrected query, else the
    /// query as sent.
    pub fn text(&self) -> &str {
        self.corrected.as_deref().unwrap_or(&self.raw)
    }

    /// Records the time since `since` as `stage`'s when it ran, and returns now (the next stage's start).
    fn lap(&mut self, stage: &'static str, ran: bool, since: Instant) -> Instant {
        let now = Instant::now();
        if ran {
            self.timings.push(StageTime {
                stage,
                took: now.duration_since(since),
            });
        }
        now
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
            correction: None,
            synonym_boost: None,
            tokens: Vec::new(),
            categories: Vec::new(),
            rewritten: None,
            stages: Vec::new(),
            timings: Vec::with_capacity(STAGES.len()),
            rule: rule.name.clone(),
        };
        let app = request.app;
        let [
            correction,
            segmentation,
            weights,
            synonyms,
            categories,
            rewriting,
        ] = STAGES;
        let mut at = Instant::now();
        let ran = stages::correct(self, app, &rule, &mut query).await?;
        at = query.lap(correction, ran, at);
        stages::segment(self, app, &rule, &mut query).await?;
        at = query.lap(segmentation, true, at);
        let ran = stages::weigh(self, app, &rule, &mut query).await?;
        at = query.lap(weights, ran, at);
        let ran = stages::expand(self, app, &rule, &mut query).await?;
        at = query.lap(synonyms, ran, at);
        let ran = stages::categorise(self, app, &rule, &mut query).await?;
        at = query.lap(categories, ran, at);
        query.rewritten = rewrite::rewrite(&rule.spec, &query);
        query.lap(rewriting, true, at);
        Ok(query)
    }
}
