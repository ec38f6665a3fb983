//! A trained `category` generation as served: the categories of known queries, the text model's weights,
//! the intervention rules, and the artifact's encoding.

use std::collections::HashMap;

use algocenter_domain::Error;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::query::{normalise, terms};

const MAGIC: &[u8; 5] = b"ACCAT";
const FORMAT_V1: u8 = 1;

/// Most categories a request can ask for.
pub const MAX_TOP_K: usize = 20;
/// Categories kept per known query: as many as a request can ask for.
pub(super) const KEPT_PER_QUERY: usize = MAX_TOP_K;

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// The query's own clicks (smoothed with the text model).
    Clicks,
    /// The text model.
    Text,
    /// No known term: the categories' prior.
    Prior,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Clicks => "clicks",
            Source::Text => "text",
            Source::Prior => "prior",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Categories with scores in [0, 1], best first.
    pub categories: Vec<(String, f32)>,
    pub source: Source,
    /// Whether the intervention dictionary has rules for the query (they were applied).
    pub intervened: bool,
}

/// A trained `category` generation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CategoryModel {
    pub(super) categories: Vec<String>,
    /// Queries with enough clicks: their best categories.
    pub(super) known: HashMap<String, Vec<(u16, f32)>>,
    pub(super) vocabulary: HashMap<String, u32>,
    /// Per term: the categories it was seen with and `ln((n + α) / α)`.
    pub(super) postings: Vec<Vec<(u16, f32)>>,
    /// Per category: `ln P(c)`.
    pub(super) prior: Vec<f32>,
    /// Per category: `ln(α / (N_c + α V))`, the log-probability of any term not seen with it.
    pub(super) unseen: Vec<f32>,
    /// Normalised query → (category, level).
    pub(super) intervention: HashMap<String, Vec<(String, u8)>>,
}

fn softmax(scores: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        total += *s;
    }
    if total > 0.0 {
        for s in scores.iter_mut() {
            *s /= total;
        }
    }
}

impl CategoryModel {
    /// The text model's distribution over categories for a normalised query, or `None` when no term is known.
    pub(super) fn text_distribution(&self, normal: &str) -> Option<Vec<f64>> {
        let mut scores: Vec<f64> = self.prior.iter().map(|&p| f64::from(p)).collect();
        let mut known_terms = 0usize;
        for term in terms(normal) {
            let Some(&t) = self.vocabulary.get(&term) else {
                continue;
            };
            known_terms += 1;
            for &(c, boost) in &self.postings[t as usize] {
                scores[usize::from(c)] += f64::from(boost);
            }
        }
        if known_terms == 0 {
            return None;
        }
        for (s, &u) in scores.iter_mut().zip(&self.unseen) {
            *s += known_terms as f64 * f64::from(u);
        }
        softmax(&mut scores);
        Some(scores)
    }

    pub(super) fn prior_distribution(&self) -> Vec<f64> {
        let mut scores: Vec<f64> = self.prior.iter().map(|&p| f64::from(p)).collect();
        softmax(&mut scores);
        scores
    }

    pub(super) fn top(&self, distribution: &[f64], k: usize) -> Vec<(u16, f32)> {
        let mut ranked: Vec<(u16, f32)> = distribution
            .iter()
            .enumerate()
            .map(|(c, &p)| (c as u16, p as f32))
            .collect();
        let order = |a: &(u16, f32), b: &(u16, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        // Only the best k need sorting, however many categories the shop has.
        if k < ranked.len() {
            ranked.select_nth_unstable_by(k, order);
            ranked.truncate(k);
        }
        ranked.sort_by(order);
        ranked
    }

    /// The best `top_k` categories of a query (normalised here).
    pub fn predict(&self, query: &str, top_k: usize) -> Prediction {
        let normal = normalise(query);
        let top_k = top_k.clamp(1, MAX_TOP_K);
        let (ranked, source) = match self.known.get(&normal) {
            Some(known) => (known.clone(), Source::Clicks),
            None => match self.text_distribution(&normal) {
                Some(d) => (self.top(&d, KEPT_PER_QUERY.max(top_k)), Source::Text),
                None => (
                    self.top(&self.prior_distribution(), KEPT_PER_QUERY.max(top_k)),
                    Source::Prior,
                ),
            },
        };
        let mut categories: Vec<(String, f32)> = ranked
            .into_iter()
            .filter_map(|(c, p)| {
                self.categories
                    .get(usize::from(c))
                    .map(|name| (name.clone(), p))
            })
            .collect();
        let mut intervened = false;
        if let Some(rules) = self.intervention.get(&normal) {
            intervened = true;
            for (category, level) in rules {
                let at = categories.iter().position(|(c, _)| c == category);
                match (level, at) {
                    (0, Some(i)) => {
                        categories.remove(i);
                    }
                    (0, None) => {}
                    (1, Some(i)) => categories[i].1 = categories[i].1.max(0.5),
                    (1, None) => categories.push((category.clone(), 0.5)),
                    (_, Some(i)) => categories[i].1 = 1.0,
                    (_, None) => categories.push((category.clone(), 1.0)),
                }
            }
            // Strong rules first, then by score.
            let strong = |c: &str| rules.iter().any(|(rule, level)| rule == c && *level == 2);
            categories.sort_by(|a, b| strong(&b.0).cmp(&strong(&a.0)).then(b.1.total_cmp(&a.1)));
        }
        categories.truncate(top_k);
        Prediction {
            categories,
            source,
            intervened,
        }
    }

    pub fn category_count(&self) -> usize {
        self.categories.len()
    }

    pub fn known_queries(&self) -> usize {
        self.known.len()
    }

    pub fn vocabulary_size(&self) -> usize {
        self.vocabulary.len()
    }

    pub(super) fn encode(&self) -> Result<Vec<u8>, TrainError> {
        crate::artifact::seal(MAGIC, FORMAT_V1, self)
    }

    /// Reads an artifact; a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let model: CategoryModel = match crate::artifact::open(bytes, MAGIC, "category model")? {
            (FORMAT_V1, body) => crate::artifact::read(body, "category model")?,
            (format, _) => return Err(crate::artifact::unknown_format("category model", format)),
        };
        // Indices must stay inside the model: a corrupt file must not panic a request.
        let n = model.categories.len();
        let consistent = model.prior.len() == n
            && model.unseen.len() == n
            && model
                .vocabulary
                .values()
                .all(|&t| (t as usize) < model.postings.len())
            && model
                .postings
                .iter()
                .flatten()
                .chain(model.known.values().flatten())
                .all(|&(c, _)| usize::from(c) < n);
        if !consistent {
            return Err(Error::internal(
                "corrupt category model artifact: an index points outside the model",
            ));
        }
        Ok(model)
    }
}

/// Parses the intervention dictionary: `query<TAB>category<TAB>0|1|2` lines; `#` comments and blank lines are
/// skipped. A malformed line fails the training run with its line number.
pub fn parse_intervention(content: &str) -> Result<HashMap<String, Vec<(String, u8)>>, String> {
    let mut rules: HashMap<String, Vec<(String, u8)>> = HashMap::new();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split('\t').collect();
        let [query, category, level] = parts.as_slice() else {
            return Err(format!(
                "intervention_dict line {}: expected 'query<TAB>category<TAB>0|1|2'",
                n + 1
            ));
        };
        let level = match level.trim() {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            other => {
                return Err(format!(
                    "intervention_dict line {}: level must be 0, 1 or 2, got '{other}'",
                    n + 1
                ));
            }
        };
        let query = normalise(query);
        let category = category.trim();
        if query.is_empty() || category.is_empty() {
            return Err(format!(
                "intervention_dict line {}: query and category must not be empty",
                n + 1
            ));
        }
        let list = rules.entry(query).or_default();
        list.retain(|(c, _)| c != category);
        list.push((category.to_string(), level));
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervention_lines_parse_and_bad_ones_name_their_line() {
        let rules =
            parse_intervention("# rules\nApple\t数码>手机\t2\napple\t食品>水果\t0\n\n").unwrap();
        assert_eq!(
            rules["apple"],
            [("数码>手机".to_string(), 2), ("食品>水果".to_string(), 0)]
        );
        assert!(parse_intervention("a\tb").unwrap_err().contains("line 1"));
        assert!(
            parse_intervention("ok\tc\t1\nq\tc\t7")
                .unwrap_err()
                .contains("line 2")
        );
    }

    fn model() -> CategoryModel {
        CategoryModel {
            categories: vec!["a".into(), "b".into(), "c".into()],
            known: HashMap::from([("q".to_string(), vec![(0, 0.6), (1, 0.3), (2, 0.1)])]),
            vocabulary: HashMap::new(),
            postings: Vec::new(),
            prior: vec![(0.5f32).ln(), (0.3f32).ln(), (0.2f32).ln()],
            unseen: vec![0.0; 3],
            intervention: HashMap::new(),
        }
    }

    #[test]
    fn interventions_override_the_answer() {
        let mut m = model();
        m.intervention = parse_intervention("q\tc\t2\nq\ta\t0\nq\td\t1\n").unwrap();
        let p = m.predict("Q", 5);
        assert!(p.intervened);
        assert_eq!(
            p.categories,
            [
                ("c".to_string(), 1.0),
                ("d".to_string(), 0.5),
                ("b".to_string(), 0.3)
            ]
        );
    }

    #[test]
    fn unknown_terms_get_the_prior() {
        let p = model().predict("zzz", 2);
        assert_eq!(p.source, Source::Prior);
        assert_eq!(p.categories.len(), 2);
        assert_eq!(p.categories[0].0, "a");
        assert!((p.categories[0].1 - 0.5).abs() < 1e-3);
    }

    #[test]
    fn corrupt_artifacts_are_errors() {
        let mut m = model();
        let bytes = m.encode().unwrap();
        assert!(CategoryModel::decode(&bytes).is_ok());
        m.known.insert("x".into(), vec![(9, 1.0)]);
        assert!(CategoryModel::decode(&m.encode().unwrap()).is_err());
        assert!(CategoryModel::decode(&bytes[..bytes.len() - 3]).is_err());
    }
}
