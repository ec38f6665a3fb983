//! A trained `rank` generation: the generators, the encodings of its categorical columns, the trees, the facts
//! as of the end of its window and, when the instance names one, the `ctr` model whose score is a column. Scores
//! candidates and explains each score as the feature values the generators computed and the contributions of
//! the features along the trees' paths.

use algocenter_domain::feature_generator::specs;
use algocenter_domain::resource::{Feature, Generator};
use algocenter_domain::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::encoding::Encoding;
use super::facts::{LoadedFacts, ServedFacts};
use super::features::{Generators, Situation};
use super::known::KnownItems;
use super::lambdarank::{Ensemble, Start};
use crate::TrainError;
use crate::ctr::{self, CtrModel};

/// The name of the `ctr` instance's score among the columns.
pub const CTR_COLUMN: &str = "ctr_instance_score";

/// A generator as the artifact keeps it (no optional fields: the artifact format is not self-describing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredGenerator {
    pub generator: String,
    pub inputs: Vec<(String, String)>,
    pub output: String,
    pub options: Vec<(String, String)>,
}

impl From<&Generator> for StoredGenerator {
    fn from(g: &Generator) -> Self {
        StoredGenerator {
            generator: g.generator.clone(),
            inputs: g
                .features
                .iter()
                .map(|f| (f.name.clone(), f.feature_type.clone()))
                .collect(),
            output: g.output.clone(),
            options: g
                .options
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

impl From<&StoredGenerator> for Generator {
    fn from(g: &StoredGenerator) -> Self {
        Generator {
            generator: g.generator.clone(),
            features: g
                .inputs
                .iter()
                .map(|(n, t)| Feature {
                    name: n.clone(),
                    feature_type: t.clone(),
                })
                .collect(),
            output: g.output.clone(),
            options: g.options.iter().cloned().collect(),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Stored {
    pub generators: Vec<StoredGenerator>,
    /// Per generator column: the encoding of a categorical column.
    pub encodings: Vec<Option<Encoding>>,
    pub ensemble: Ensemble,
    pub facts: ServedFacts,
    /// The ctr artifact whose score is the last column.
    pub ctr: Option<Vec<u8>>,
}

/// A candidate: its id and, when the request gives them, its attributes.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub attributes: Option<&'a Map<String, Value>>,
}

/// Why a candidate scored what it did.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// Every column's value as the model saw it (categorical columns encoded), by name; NaN is missing.
    pub values: Vec<(String, f32)>,
    /// The largest contributions by absolute value, largest first.
    pub contributions: Vec<(String, f32)>,
    /// The part of the score no feature explains.
    pub bias: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub score: f32,
    pub explanation: Option<Explanation>,
}

pub struct RankModel {
    generators: Generators,
    /// Every item the model knows, resolved once at load: a rerank then only computes what depends on the
    /// request.
    known: KnownItems,
    encodings: Vec<Option<Encoding>>,
    ensemble: Ensemble,
    /// Users' facts and items' attributes; the items' system features are in `known`.
    facts: LoadedFacts,
    ctr: Option<CtrModel>,
    columns: Vec<String>,
    /// Per generator: whether a split of the trees reads one of its columns.
    read_by_trees: Vec<bool>,
}

impl std::fmt::Debug for RankModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RankModel")
            .field("columns", &self.columns)
            .field("trees", &self.ensemble.trees.len())
            .finish()
    }
}

/// The ctr model's click probabilities of `candidates` in `situation` (at position 1: relevance, not the old
/// order).
pub(crate) fn ctr_scores(
    model: &CtrModel,
    situation: &Situation<'_>,
    candidates: &[(&str, Option<&Map<String, Value>>)],
) -> Vec<f32> {
    let documents: Vec<Option<algocenter_domain::document::Document>> = candidates
        .iter()
        .map(|(id, a)| {
            a.map(|a| algocenter_domain::document::Document {
                id: id.to_string(),
                attributes: a.clone(),
            })
        })
        .collect();
    let wanted: Vec<ctr::Candidate<'_>> = candidates
        .iter()
        .zip(&documents)
        .map(|((id, _), d)| ctr::Candidate {
            id,
            attributes: d.as_ref(),
        })
        .collect();
    model.score(
        &ctr::Situation {
            user: (!situation.user.is_empty()).then_some(situation.user),
            query: (!situation.query.is_empty()).then_some(situation.query),
            context: situation.context,
            position: 1,
        },
        &wanted,
    )
}

impl RankModel {
    pub(crate) fn from_stored(stored: Stored) -> Result<RankModel> {
        let generators: Vec<Generator> = stored.generators.iter().map(Generator::from).collect();
        let specs =
            specs(&generators).map_err(|e| Error::internal(format_args!("rank model: {e}")))?;
        let generators = Generators::new(specs);
        let ctr = stored.ctr.as_deref().map(CtrModel::decode).transpose()?;
        let mut columns = generators.column_names();
        if ctr.is_some() {
            columns.push(CTR_COLUMN.to_string());
        }
        // The parts must fit together before anything indexes one by another: a damaged artifact is an error.
        let inconsistent = |what: String| Error::internal(format_args!("rank model: {what}"));
        if stored.encodings.len() != generators.columns() {
            return Err(inconsistent(format!(
                "{} encodings for {} generated columns",
                stored.encodings.len(),
                generators.columns()
            )));
        }
        if let Some(t) = stored
            .ensemble
            .trees
            .iter()
            .position(|t| !t.is_walkable(columns.len()))
        {
            return Err(inconsistent(format!(
                "tree {t} does not fit the {} columns",
                columns.len()
            )));
        }
        if let Start::LogitOf(c) = stored.ensemble.start
            && (ctr.is_none() || c as usize != generators.columns())
        {
            return Err(inconsistent(format!(
                "the trees start from column {c}, which is not the ctr instance's score"
            )));
        }
        let mut facts = LoadedFacts::new(stored.facts);
        let known = KnownItems::new(&generators, &stored.encodings, &mut facts);
        // Generators with a column some split reads; only those are computed when a rerank is not explained.
        let mut read_by_trees = vec![false; stored.generators.len()];
        for node in stored.ensemble.trees.iter().flat_map(|t| &t.nodes) {
            let c = node.feature as usize;
            if !node.is_leaf()
                && c < generators.columns()
                && let Some(read) = read_by_trees.get_mut(generators.column_generator(c))
            {
                *read = true;
            }
        }
        Ok(RankModel {
            read_by_trees,
            known,
            generators,
            encodings: stored.encodings,
            ensemble: stored.ensemble,
            facts,
            ctr,
            columns,
        })
    }

    pub fn decode(bytes: &[u8]) -> Result<RankModel> {
        RankModel::from_stored(stored_of(bytes)?)
    }

    /// Feature columns, in the model's order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn trees(&self) -> usize {
        self.ensemble.trees.len()
    }

    /// Whether the model knows `item` (its facts or its attributes): every such item has its side resolved.
    pub fn knows_item(&self, item: &str) -> bool {
        self.known.contains(item)
    }

    /// Scores `candidates`; with `explain_top`, explains each score with that many contributions.
    pub fn score(
        &self,
        situation: &Situation<'_>,
        candidates: &[Candidate<'_>],
        explain_top: Option<usize>,
    ) -> Vec<Scored> {
        // Explaining shows every value; scoring alone computes what the trees read.
        let only = explain_top
            .is_none()
            .then_some(self.read_by_trees.as_slice());
        let mut rows = self.known.rows(
            &self.generators,
            &self.encodings,
            &self.facts,
            situation,
            only,
        );
        let ctr = self.ctr.as_ref().map(|m| {
            let list: Vec<(&str, Option<&Map<String, Value>>)> =
                candidates.iter().map(|c| (c.id, c.attributes)).collect();
            ctr_scores(m, situation, &list)
        });
        let mut row = Vec::with_capacity(self.columns.len());
        candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                rows.fill(c, &mut row);
                if let Some(s) = &ctr {
                    row.push(s[i]);
                }
                let score = self.ensemble.predict(&row);
                let explanation = explain_top.map(|top| {
                    let (bias, contributions) = self.ensemble.attribute(&row, row.len());
                    let mut largest: Vec<(String, f32)> = self
                        .columns
                        .iter()
                        .cloned()
                        .zip(contributions)
                        .filter(|(_, c)| *c != 0.0)
                        .collect();
                    largest.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
                    largest.truncate(top);
                    Explanation {
                        values: self
                            .columns
                            .iter()
                            .cloned()
                            .zip(row.iter().copied())
                            .collect(),
                        contributions: largest,
                        bias,
                    }
                });
                Scored { score, explanation }
            })
            .collect()
    }
}

/// The rank artifact's envelope ([`crate::artifact`]).
const MAGIC: &[u8] = b"ACRNK";
/// Format 1 was the bare postcard of [`Stored`], without the envelope: it still loads. Its first two bytes can
/// never be the magic's: `A` would be 65 generators, and `C` then a first generator kind 67 bytes long.
const FORMAT_V2: u8 = 2;
/// Format 3 adds, after the model of format 2, what boosting started from ([`Start`]); formats 1 and 2 started
/// from zero.
const FORMAT_V3: u8 = 3;

pub(crate) fn encode(stored: &Stored) -> std::result::Result<Vec<u8>, TrainError> {
    crate::artifact::seal(MAGIC, FORMAT_V3, &(stored, stored.ensemble.start))
}

/// The stored model of an artifact of any format this build reads.
fn stored_of(bytes: &[u8]) -> Result<Stored> {
    if !bytes.starts_with(MAGIC) {
        return postcard::from_bytes(bytes)
            .map_err(|e| Error::internal(format_args!("rank model: {e}")));
    }
    match crate::artifact::open(bytes, MAGIC, "rank model")? {
        (FORMAT_V2, body) => crate::artifact::read(body, "rank model"),
        (FORMAT_V3, body) => {
            let (mut stored, start): (Stored, Start) = crate::artifact::read(body, "rank model")?;
            stored.ensemble.start = start;
            Ok(stored)
        }
        (format, _) => Err(crate::artifact::unknown_format("rank model", format)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Stored {
        Stored {
            generators: Vec::new(),
            encodings: Vec::new(),
            ensemble: Ensemble::default(),
            facts: ServedFacts::default(),
            ctr: None,
        }
    }

    #[test]
    fn artifacts_carry_a_format_and_the_bare_format_1_still_loads() {
        let sealed = encode(&empty()).unwrap();
        assert!(sealed.starts_with(MAGIC));
        assert_eq!(sealed[MAGIC.len()], FORMAT_V3);
        assert_eq!(RankModel::decode(&sealed).unwrap().trees(), 0);
        let bare = postcard::to_allocvec(&empty()).unwrap();
        assert_eq!(RankModel::decode(&bare).unwrap().trees(), 0);
        let mut future = sealed.clone();
        future[MAGIC.len()] = 9;
        let refused = RankModel::decode(&future).unwrap_err();
        assert!(
            refused.to_string().contains("unknown format 9"),
            "{refused}"
        );
        assert!(RankModel::decode(&sealed[..sealed.len() - 1]).is_err());
        assert!(RankModel::decode(b"ACRNK").is_err());
    }

    #[test]
    fn the_start_survives_the_artifact_and_format_2_starts_from_zero() {
        let mut stored = empty();
        stored.ensemble.start = Start::LogitOf(4);
        let decoded = stored_of(&encode(&stored).unwrap()).unwrap();
        assert_eq!(decoded.ensemble.start, Start::LogitOf(4));
        let v2 = crate::artifact::seal(MAGIC, FORMAT_V2, &stored).unwrap();
        assert_eq!(stored_of(&v2).unwrap().ensemble.start, Start::Zero);
    }

    #[test]
    fn an_artifact_whose_parts_do_not_fit_together_is_refused_not_served() {
        use super::super::gbdt::{Node, Tree};
        let node = |feature: u32, left: u32, right: u32| Node {
            feature,
            threshold: 0.5,
            left,
            right,
            value: 0.1,
            gain: 0.0,
        };
        let refused = |stored: &Stored| {
            RankModel::decode(&encode(stored).unwrap())
                .unwrap_err()
                .to_string()
        };
        let mut encodings = empty();
        encodings.encodings.push(None);
        assert!(refused(&encodings).contains("1 encodings for 0 generated columns"));
        // No column at all: a split on column 0 reads past the row.
        let mut feature = empty();
        let split = Tree {
            nodes: vec![node(0, 1, 2), node(0, 0, 0), node(0, 0, 0)],
        };
        feature.ensemble.trees.push(split.clone());
        assert!(refused(&feature).contains("tree 0 does not fit"));
        assert!(split.is_walkable(1), "the same tree over one column");
        let looping = Tree {
            nodes: vec![node(0, 0, 1), node(0, 0, 0)],
        };
        assert!(!looping.is_walkable(1), "a child before its parent");
        assert!(!Tree { nodes: Vec::new() }.is_walkable(1));
        let mut start = empty();
        start.ensemble.start = Start::LogitOf(0);
        assert!(refused(&start).contains("not the ctr instance's score"));
    }
}
