//! A trained `termweight` generation as served: per-term statistics, the logistic model over term features, the
//! stop words and the intervention levels; and the weighing of a query's terms.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Error;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::analyzer::{AnalyzerModel, Token, WordSource};
use crate::query::is_cjk;

const MAGIC: &[u8; 5] = b"ACTWT";
const FORMAT_V1: u8 = 1;
/// Features of a term in a query (see [`TermweightModel::features`]).
pub const FEATURES: usize = 15;
/// Pseudo-queries of the model's answer mixed into a seen term's own recall.
pub(super) const PRIOR_QUERIES: f32 = 3.0;

/// What training saw of a term.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct TermStats {
    /// Items whose text holds the term.
    pub item_df: u32,
    /// Distinct searched queries holding it.
    pub query_df: u32,
    /// Entropy of the categories its searches' clicks landed in, over `ln(categories)`; `None` without clicks.
    pub click_entropy: Option<f32>,
    /// Sum of its term recall over the distinct clicked queries holding it, and how many.
    pub recall_sum: f32,
    pub recall_queries: u32,
}

/// How much a term matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    High,
    Mid,
    Low,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::High => "high",
            Level::Mid => "mid",
            Level::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "high" => Some(Level::High),
            "mid" => Some(Level::Mid),
            "low" => Some(Level::Low),
            _ => None,
        }
    }
}

/// The weight of one term of a query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TermWeight {
    pub weight: f32,
    pub level: Level,
    pub stop_word: bool,
    /// The intervention dictionary set its level.
    pub intervened: bool,
}

/// The level thresholds (usage parameters `high_weight`, `low_weight`).
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    pub high: f32,
    pub low: f32,
}

impl Thresholds {
    pub fn level(&self, weight: f32) -> Level {
        if weight >= self.high {
            Level::High
        } else if weight >= self.low {
            Level::Mid
        } else {
            Level::Low
        }
    }
}

/// A trained `termweight` generation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TermweightModel {
    /// The analyzer training segmented with (its own request path uses it).
    pub(super) analyzer: AnalyzerModel,
    pub(super) stats: HashMap<String, TermStats>,
    pub(super) items: u32,
    pub(super) queries: u32,
    pub(super) coefficients: Vec<f32>,
    /// Stop words: the resource's and the learned ones.
    pub(super) stop_words: HashSet<String>,
    pub(super) learned_stop_words: usize,
    pub(super) intervention: HashMap<String, Level>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `ln((n + 1) / (df + 1)) / ln(n + 1)`: 0 for a term in everything, 1 for one in nothing.
pub(super) fn idf(df: u32, n: u32) -> f32 {
    let n = n as f32 + 1.0;
    ((n / (df as f32 + 1.0)).ln() / n.ln().max(1e-6)).clamp(0.0, 1.0)
}

impl TermweightModel {
    /// The features of the term `token` at `position` of a query of `n` terms.
    pub fn features(&self, token: &Token, position: usize, n: usize) -> [f32; FEATURES] {
        let stats = self.stats.get(&token.text);
        let s = stats.copied().unwrap_or_default();
        let chars = token.text.chars().count() as f32;
        let item_share = (s.item_df as f32 + 0.5) / (self.items as f32 + 1.0);
        let query_share = (s.query_df as f32 + 0.5) / (self.queries as f32 + 1.0);
        [
            1.0,
            idf(s.item_df, self.items),
            idf(s.query_df, self.queries),
            s.click_entropy.unwrap_or(0.5),
            f32::from(stats.is_none()),
            if n > 1 {
                position as f32 / (n - 1) as f32
            } else {
                0.0
            },
            f32::from(position + 1 == n),
            1.0 / n.max(1) as f32,
            (1.0 + chars).ln() / 10f32.ln(),
            f32::from(token.text.chars().any(|c| c.is_ascii_digit())),
            f32::from(token.text.chars().all(|c| c.is_ascii_digit())),
            f32::from(token.text.chars().any(is_cjk)),
            f32::from(token.source == Some(WordSource::Learned)),
            f32::from(token.entity.is_some()),
            // Searched far more often than it appears in items: how filler words look.
            ((query_share / item_share).ln() / 5.0).clamp(-1.0, 1.0),
        ]
    }

    /// The learned weight in [0, 1] of each term of a query (stop words and interventions not applied).
    pub fn learned_weights(&self, tokens: &[Token]) -> Vec<f32> {
        let n = tokens.len();
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let x = self.features(t, i, n);
                let model = sigmoid(x.iter().zip(&self.coefficients).map(|(a, b)| a * b).sum());
                match self.stats.get(&t.text) {
                    Some(s) if s.recall_queries > 0 => {
                        (s.recall_sum + PRIOR_QUERIES * model)
                            / (s.recall_queries as f32 + PRIOR_QUERIES)
                    }
                    _ => model,
                }
            })
            .collect()
    }

    /// The weights and levels of a query's terms, stop words and the intervention dictionary applied.
    pub fn weigh(&self, tokens: &[Token], thresholds: Thresholds) -> Vec<TermWeight> {
        self.learned_weights(tokens)
            .into_iter()
            .zip(tokens)
            .map(|(weight, t)| {
                if self.stop_words.contains(&t.text) {
                    return TermWeight {
                        weight: 0.0,
                        level: Level::Low,
                        stop_word: true,
                        intervened: false,
                    };
                }
                match self.intervention.get(&t.text) {
                    Some(&level) => TermWeight {
                        weight: match level {
                            Level::High => weight.max(thresholds.high),
                            Level::Mid => weight.clamp(thresholds.low, thresholds.high - 1e-3),
                            Level::Low => weight.min(thresholds.low * 0.5),
                        },
                        level,
                        stop_word: false,
                        intervened: true,
                    },
                    None => TermWeight {
                        weight,
                        level: thresholds.level(weight),
                        stop_word: false,
                        intervened: false,
                    },
                }
            })
            .collect()
    }

    /// The analyzer the model was trained with: what its own predictions segment queries with.
    pub fn analyzer(&self) -> &AnalyzerModel {
        &self.analyzer
    }

    pub fn terms(&self) -> usize {
        self.stats.len()
    }

    pub fn is_stop_word(&self, term: &str) -> bool {
        self.stop_words.contains(term)
    }

    pub(super) fn encode(&self) -> Result<Vec<u8>, TrainError> {
        crate::artifact::seal(MAGIC, FORMAT_V1, self)
    }

    /// Reads an artifact; a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let model: TermweightModel = match crate::artifact::open(bytes, MAGIC, "termweight model")?
        {
            (FORMAT_V1, body) => crate::artifact::read(body, "termweight model")?,
            (format, _) => return Err(crate::artifact::unknown_format("termweight model", format)),
        };
        if model.coefficients.len() != FEATURES {
            return Err(Error::internal(
                "corrupt termweight model artifact: wrong number of coefficients",
            ));
        }
        Ok(model)
    }
}

/// Parses the intervention dictionary: `term<TAB>high|mid|low` lines (terms keyed as the analyzer keys them);
/// `#` comments and blank lines skipped; a malformed line fails the run with its number.
pub fn parse_levels(
    content: &str,
    analyzer: &AnalyzerModel,
) -> Result<HashMap<String, Level>, String> {
    let mut out = HashMap::new();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let parsed = line.split_once('\t').and_then(|(term, level)| {
            let key = crate::analyzer::join(&analyzer.base_analyzer().atoms(term));
            Some((key, Level::parse(level.trim())?)).filter(|(k, _)| !k.is_empty())
        });
        match parsed {
            Some((term, level)) => {
                out.insert(term, level);
            }
            None => {
                return Err(format!(
                    "intervention_dict line {}: expected 'term<TAB>high|mid|low'",
                    n + 1
                ));
            }
        }
    }
    Ok(out)
}

/// Stop words of a `raw_file`, one per line, keyed as the analyzer keys them.
pub fn parse_stop_words(content: &str, analyzer: &AnalyzerModel) -> HashSet<String> {
    content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| crate::analyzer::join(&analyzer.base_analyzer().atoms(l)))
        .filter(|k| !k.is_empty())
        .collect()
}
