//! A trained `synonym` generation: its pairs, the synonyms of each term, and the expansion of a query (the
//! longest known term at each place, left to right).

use std::collections::BTreeMap;

use algocenter_domain::Error;
use fst::{Map, MapBuilder};
use serde::{Deserialize, Serialize};

use super::mining::Pair;
use crate::TrainError;
use crate::query::{MAX_QUERY_CHARS, is_cjk, is_usable, normalise};

const MAGIC: &[u8; 5] = b"ACSYN";
const FORMAT_V1: u8 = 1;

/// One synonym of a term.
#[derive(Clone, Debug, PartialEq)]
pub struct Synonym {
    pub text: String,
    pub score: f32,
    /// The pair holds both ways (else the term expands to this synonym, not back).
    pub two_way: bool,
    /// From the intervention dictionary.
    pub intervened: bool,
}

/// The synonyms of one term of a query; `start` and `end` are character offsets in the normalised query.
#[derive(Clone, Debug, PartialEq)]
pub struct Expansion {
    pub term: String,
    pub start: usize,
    pub end: usize,
    pub synonyms: Vec<Synonym>,
}

#[derive(Serialize, Deserialize)]
struct StoredPair {
    a: String,
    b: String,
    score: f32,
    two_way: bool,
    intervened: bool,
}

/// A trained `synonym` generation.
pub struct SynonymModel {
    pairs: Vec<Pair>,
    terms: Map<Vec<u8>>,
    /// The synonyms of each term of `terms`, best first.
    synonyms: Vec<Vec<Synonym>>,
}

impl std::fmt::Debug for SynonymModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynonymModel")
            .field("pairs", &self.pairs.len())
            .field("terms", &self.terms.len())
            .finish()
    }
}

fn build_error(e: fst::Error) -> TrainError {
    TrainError::Failed(format!("building the synonym index: {e}"))
}

/// Whether a term may start before `chars[i]` / end before `chars[j]`: at a space, the text's ends, or next to
/// a Chinese character (Chinese is written without spaces).
fn starts_at(chars: &[char], i: usize) -> bool {
    chars[i] != ' ' && (i == 0 || chars[i - 1] == ' ' || is_cjk(chars[i]) || is_cjk(chars[i - 1]))
}

fn ends_at(chars: &[char], j: usize) -> bool {
    j == chars.len() || chars[j] == ' ' || is_cjk(chars[j]) || is_cjk(chars[j - 1])
}

impl SynonymModel {
    pub fn build(pairs: Vec<Pair>) -> Result<Self, TrainError> {
        let mut by_term: BTreeMap<String, Vec<Synonym>> = BTreeMap::new();
        for p in &pairs {
            let synonym = |text: &str| Synonym {
                text: text.to_string(),
                score: p.score,
                two_way: p.two_way,
                intervened: p.intervened,
            };
            by_term.entry(p.a.clone()).or_default().push(synonym(&p.b));
            if p.two_way {
                by_term.entry(p.b.clone()).or_default().push(synonym(&p.a));
            }
        }
        let mut builder = MapBuilder::memory();
        let mut synonyms = Vec::with_capacity(by_term.len());
        for (term, mut list) in by_term {
            list.sort_by(|x, y| {
                y.intervened
                    .cmp(&x.intervened)
                    .then(y.score.total_cmp(&x.score))
                    .then_with(|| x.text.cmp(&y.text))
            });
            list.dedup_by(|x, y| x.text == y.text);
            builder
                .insert(&term, synonyms.len() as u64)
                .map_err(build_error)?;
            synonyms.push(list);
        }
        let terms = Map::new(builder.into_inner().map_err(build_error)?).map_err(build_error)?;
        Ok(SynonymModel {
            pairs,
            terms,
            synonyms,
        })
    }

    /// The learned pairs, best first.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Terms with synonyms.
    pub fn terms(&self) -> usize {
        self.synonyms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The synonyms of one term (normalised here), best first.
    pub fn synonyms_of(&self, term: &str) -> &[Synonym] {
        self.terms
            .get(normalise(term))
            .and_then(|i| self.synonyms.get(i as usize))
            .map_or(&[], Vec::as_slice)
    }

    /// The normalised query and the synonyms of each of its terms and phrases, left to right: at each place
    /// the longest term that has synonyms, with at most `max` of them scored at least `min_score` (intervened
    /// pairs always).
    pub fn expand(&self, raw: &str, max: usize, min_score: f32) -> (String, Vec<Expansion>) {
        let query = normalise(raw);
        if !is_usable(&query) {
            return (query, Vec::new());
        }
        let chars: Vec<char> = query.chars().collect();
        let bytes: Vec<usize> = query
            .char_indices()
            .map(|(b, _)| b)
            .chain(std::iter::once(query.len()))
            .collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if !starts_at(&chars, i) {
                i += 1;
                continue;
            }
            let longest = (i + 1..=chars.len().min(i + MAX_QUERY_CHARS))
                .rev()
                .filter(|&j| ends_at(&chars, j))
                .find_map(|j| {
                    self.terms
                        .get(&query[bytes[i]..bytes[j]])
                        .map(|entry| (j, entry as usize))
                });
            match longest {
                Some((j, entry)) => {
                    let synonyms: Vec<Synonym> = self.synonyms[entry]
                        .iter()
                        .filter(|s| s.intervened || s.score >= min_score)
                        .take(max)
                        .cloned()
                        .collect();
                    if !synonyms.is_empty() {
                        out.push(Expansion {
                            term: query[bytes[i]..bytes[j]].to_string(),
                            start: i,
                            end: j,
                            synonyms,
                        });
                    }
                    i = j;
                }
                None => i += 1,
            }
        }
        (query, out)
    }

    /// The pairs scored at least `min_score` (intervened ones always) in the synonym file format of Solr and
    /// Elasticsearch: `a, b` for a two-way pair, `a => a, b, c` for a term expanded one way.
    pub fn solr(&self, min_score: f32) -> String {
        fn escaped(term: &str) -> String {
            let mut out = String::with_capacity(term.len());
            for c in term.chars() {
                if matches!(c, '\\' | ',' | '=' | '>') {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        }
        let kept = |p: &&Pair| p.intervened || p.score >= min_score;
        let mut lines: Vec<String> = self
            .pairs
            .iter()
            .filter(kept)
            .filter(|p| p.two_way)
            .map(|p| format!("{}, {}", escaped(&p.a), escaped(&p.b)))
            .collect();
        let mut one_way: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in self.pairs.iter().filter(kept).filter(|p| !p.two_way) {
            one_way.entry(&p.a).or_default().push(&p.b);
        }
        for (term, targets) in one_way {
            let mut all = vec![escaped(term)];
            all.extend(targets.iter().map(|t| escaped(t)));
            lines.push(format!("{} => {}", escaped(term), all.join(", ")));
        }
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    pub(super) fn encode(&self) -> Result<Vec<u8>, TrainError> {
        let stored: Vec<StoredPair> = self
            .pairs
            .iter()
            .map(|p| StoredPair {
                a: p.a.clone(),
                b: p.b.clone(),
                score: p.score,
                two_way: p.two_way,
                intervened: p.intervened,
            })
            .collect();
        crate::artifact::seal(MAGIC, FORMAT_V1, &stored)
    }

    /// Reads an artifact; a foreign, truncated, newer or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not a synonym artifact"))?;
        let stored: Vec<StoredPair> = match body.split_first() {
            Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest)
                .map_err(|e| Error::internal(format_args!("corrupt synonym artifact: {e}")))?,
            Some((format, _)) => {
                return Err(Error::internal(format_args!(
                    "synonym artifact of unknown format {format}"
                )));
            }
            None => return Err(Error::internal("truncated synonym artifact")),
        };
        let pairs = stored
            .into_iter()
            .map(|p| Pair {
                a: p.a,
                b: p.b,
                score: p.score,
                two_way: p.two_way,
                intervened: p.intervened,
            })
            .collect();
        SynonymModel::build(pairs)
            .map_err(|e| Error::internal(format_args!("corrupt synonym artifact: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: &str, b: &str, score: f32, two_way: bool) -> Pair {
        Pair {
            a: a.into(),
            b: b.into(),
            score,
            two_way,
            intervened: false,
        }
    }

    fn model() -> SynonymModel {
        SynonymModel::build(vec![
            pair("sneakers", "trainers", 0.9, true),
            pair("运动鞋", "球鞋", 0.8, true),
            pair("yoga mat", "exercise mat", 0.7, true),
            pair("kicks", "sneakers", 0.4, false),
            pair("a,b", "c=d", 0.3, true),
        ])
        .unwrap()
    }

    fn terms(e: &[Expansion]) -> Vec<(&str, usize, usize, Vec<&str>)> {
        e.iter()
            .map(|x| {
                (
                    x.term.as_str(),
                    x.start,
                    x.end,
                    x.synonyms.iter().map(|s| s.text.as_str()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn terms_and_phrases_are_found_at_word_boundaries() {
        let m = model();
        let (query, found) = m.expand("Black Sneakers", 5, 0.0);
        assert_eq!(query, "black sneakers");
        assert_eq!(terms(&found), [("sneakers", 6, 14, vec!["trainers"])]);
        let (_, found) = m.expand("red 运动鞋", 5, 0.0);
        assert_eq!(terms(&found), [("运动鞋", 3, 6, vec!["球鞋"])]);
        let (_, found) = m.expand("blue yoga mat trainers", 5, 0.0);
        assert_eq!(
            terms(&found),
            [
                ("yoga mat", 5, 13, vec!["exercise mat"]),
                ("trainers", 14, 22, vec!["sneakers"])
            ]
        );
        // Inside a word is not a term.
        assert!(m.expand("sneakersx", 5, 0.0).1.is_empty());
        // One way: kicks expands to sneakers, sneakers not to kicks.
        assert_eq!(m.synonyms_of("kicks").len(), 1);
        assert!(m.synonyms_of("sneakers").iter().all(|s| s.text != "kicks"));
        // Scores below the threshold are not served.
        assert!(m.expand("red 运动鞋", 5, 0.85).1.is_empty());
    }

    #[test]
    fn solr_format() {
        let m = model();
        let solr = m.solr(0.0);
        assert!(solr.contains("sneakers, trainers\n"), "{solr}");
        assert!(solr.contains("kicks => kicks, sneakers\n"), "{solr}");
        assert!(solr.contains("a\\,b, c\\=d\n"), "{solr}");
        assert!(!m.solr(0.5).contains("kicks"));
    }

    #[test]
    fn the_artifact_round_trips_and_foreign_bytes_are_refused() {
        let m = model();
        let back = SynonymModel::decode(&m.encode().unwrap()).unwrap();
        assert_eq!(back.pairs(), m.pairs());
        assert_eq!(
            back.expand("trainers", 5, 0.0),
            m.expand("trainers", 5, 0.0)
        );
        assert!(SynonymModel::decode(b"ACCOR\x01").is_err());
        assert!(SynonymModel::decode(b"ACSYN\x07").is_err());
        let mut bytes = m.encode().unwrap();
        bytes.truncate(bytes.len() - 3);
        assert!(SynonymModel::decode(&bytes).is_err());
    }
}
