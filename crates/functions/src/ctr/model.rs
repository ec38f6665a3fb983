//! The served CTR model: the weights, the vocabulary that maps feature values to rows, and the features of the
//! catalogue's items at training time. Artifact: `ACCTR`, a format byte, then the postcard encoding of
//! [`Stored`]; a foreign, truncated, inconsistent or newer-format file is refused when loaded.

use std::collections::HashMap;

use algocenter_domain::document::Document;
use algocenter_domain::{Error, Result};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::features::{
    FIELDS, Field, ItemFields, RawFeature, context_features, position_feature, query_features,
    user_feature,
};
use super::ffm::{Active, Scratch, Weights};

const MAGIC: &[u8; 5] = b"ACCTR";
const FORMAT_V1: u8 = 1;

/// What the artifact holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct Stored {
    pub item_fields: ItemFields,
    pub weights: Weights,
    /// Feature rows past the `FIELDS` out-of-vocabulary rows, in row order: `(field, key)`.
    pub vocabulary: Vec<(u8, u64)>,
    /// Items of the catalogue at training time: hash of the id → their feature rows.
    pub items: Vec<(u64, Vec<u32>)>,
}

/// A candidate to score: an id, and its attributes when the caller has them.
pub struct Candidate<'a> {
    pub id: &'a str,
    pub attributes: Option<&'a Document>,
}

/// Who is searching what, where.
#[derive(Default)]
pub struct Situation<'a> {
    pub user: Option<&'a str>,
    pub query: Option<&'a str>,
    pub context: &'a [(String, String)],
    /// The position every candidate is scored at.
    pub position: u32,
}

/// A loaded model.
pub struct CtrModel {
    stored: Stored,
    rows: HashMap<(u8, u64), u32>,
    items: HashMap<u64, usize>,
    /// The catalogue items' features, weighted, ready to score: item `i` is
    /// `item_active[item_start[i]..item_start[i + 1]]`.
    item_active: Vec<Active>,
    item_start: Vec<u32>,
}

/// Rows of raw features, each field's values weighted `1/√n` so that a field with many values (title words)
/// does not outweigh one with a single value.
pub(crate) fn activate(
    raw: &[RawFeature],
    row_of: &dyn Fn(Field, u64) -> u32,
    out: &mut Vec<Active>,
) {
    let mut counts = [0u32; FIELDS];
    for (f, _) in raw {
        counts[*f as usize] += 1;
    }
    for &(f, key) in raw {
        out.push(Active {
            index: row_of(f, key),
            field: f as u8,
            x: 1.0 / (counts[f as usize] as f32).sqrt(),
        });
    }
}

pub(crate) fn item_hash(id: &str) -> u64 {
    xxh3_64(id.as_bytes())
}

impl CtrModel {
    pub(crate) fn from_stored(stored: Stored) -> Result<CtrModel> {
        let w = &stored.weights;
        let rows = w.linear.len();
        if rows != FIELDS + stored.vocabulary.len()
            || w.factors.len() != rows * FIELDS * w.k
            || w.k > 64
        {
            return Err(Error::internal("ctr artifact is inconsistent"));
        }
        let mut by_key = HashMap::with_capacity(stored.vocabulary.len());
        for (i, &(f, key)) in stored.vocabulary.iter().enumerate() {
            if usize::from(f) >= FIELDS {
                return Err(Error::internal("ctr artifact is inconsistent"));
            }
            by_key.insert((f, key), (FIELDS + i) as u32);
        }
        let mut items = HashMap::with_capacity(stored.items.len());
        for (i, (hash, features)) in stored.items.iter().enumerate() {
            if features.iter().any(|&r| r as usize >= rows) {
                return Err(Error::internal("ctr artifact is inconsistent"));
            }
            items.insert(*hash, i);
        }
        let field_of = |r: u32| {
            let r = r as usize;
            if r < FIELDS {
                r
            } else {
                usize::from(stored.vocabulary[r - FIELDS].0)
            }
        };
        let mut item_active = Vec::new();
        let mut item_start = vec![0u32];
        for (_, rows) in &stored.items {
            let mut counts = [0u32; FIELDS];
            for &r in rows {
                counts[field_of(r)] += 1;
            }
            item_active.extend(rows.iter().map(|&r| Active {
                index: r,
                field: field_of(r) as u8,
                x: 1.0 / (counts[field_of(r)] as f32).sqrt(),
            }));
            item_start.push(item_active.len() as u32);
        }
        Ok(CtrModel {
            stored,
            rows: by_key,
            items,
            item_active,
            item_start,
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(&self.stored)
    }

    pub fn decode(bytes: &[u8]) -> Result<CtrModel> {
        let body = match bytes {
            [m0, m1, m2, m3, m4, format, body @ ..] if [*m0, *m1, *m2, *m3, *m4] == *MAGIC => {
                if *format != FORMAT_V1 {
                    return Err(Error::internal(format_args!(
                        "ctr artifact format {format} is newer than this build reads ({FORMAT_V1})"
                    )));
                }
                body
            }
            _ => return Err(Error::internal("not a ctr artifact")),
        };
        let stored: Stored = postcard::from_bytes(body)
            .map_err(|e| Error::internal(format_args!("corrupt ctr artifact: {e}")))?;
        CtrModel::from_stored(stored)
    }

    /// Feature rows of the model.
    pub fn rows(&self) -> usize {
        self.stored.weights.rows()
    }

    /// Items whose training-time attributes the model knows.
    pub fn known_items(&self) -> usize {
        self.items.len()
    }

    pub fn knows_item(&self, id: &str) -> bool {
        self.items.contains_key(&item_hash(id))
    }

    fn row(&self, field: Field, key: u64) -> u32 {
        self.rows
            .get(&(field as u8, key))
            .copied()
            .unwrap_or(field as u32)
    }

    /// Click probabilities of the candidates in `situation`, in the candidates' order. An item the model does
    /// not know is scored by its attributes when given, else by its field's out-of-vocabulary row; a missing
    /// user or query simply leaves its fields out.
    pub fn score(&self, situation: &Situation<'_>, candidates: &[Candidate<'_>]) -> Vec<f32> {
        let mut shared_raw: Vec<RawFeature> = Vec::new();
        if let Some(user) = situation.user.filter(|u| !u.is_empty()) {
            shared_raw.push(user_feature(user));
        }
        if let Some(query) = situation.query {
            shared_raw.extend(query_features(query));
        }
        shared_raw.push(position_feature(situation.position));
        shared_raw.extend(context_features(situation.context));
        let row_of = |f: Field, k: u64| self.row(f, k);
        let mut shared = Vec::new();
        activate(&shared_raw, &row_of, &mut shared);

        let weights = &self.stored.weights;
        let partial = weights.partial(&shared);
        let mut scratch = Scratch::new(weights.k);
        let mut own = Vec::with_capacity(24);
        candidates
            .iter()
            .map(|c| match (c.attributes, self.items.get(&item_hash(c.id))) {
                (None, Some(&i)) => weights.predict_with(&partial, self.item_rows(i), &mut scratch),
                (attributes, _) => {
                    own.clear();
                    let raw = self.stored.item_fields.features(c.id, attributes);
                    activate(&raw, &row_of, &mut own);
                    weights.predict_with(&partial, &own, &mut scratch)
                }
            })
            .collect()
    }

    /// The active features of the `i`-th catalogue item.
    fn item_rows(&self, i: usize) -> &[Active] {
        &self.item_active[self.item_start[i] as usize..self.item_start[i + 1] as usize]
    }
}

pub(crate) fn encode(stored: &Stored) -> Result<Vec<u8>> {
    let mut out = MAGIC.to_vec();
    out.push(FORMAT_V1);
    postcard::to_extend(stored, out)
        .map_err(|e| Error::internal(format_args!("cannot encode the ctr model: {e}")))
}

impl std::fmt::Debug for CtrModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtrModel")
            .field("rows", &self.rows())
            .field("k", &self.stored.weights.k)
            .field("known_items", &self.known_items())
            .finish()
    }
}
