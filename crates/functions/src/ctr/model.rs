//! The served CTR model: the relevance scorer (logistic regression, FFM or the deep model), the position term,
//! the schema and vocabulary that map feature values to rows, and the features of the catalogue's items at
//! training time, the span of days it was fitted on and the items each user chose in those days (when the model
//! has that field). Artifact: `ACCTR`, a format byte, then the postcard encoding of [`Stored`]; formats 2
//! (without the span) and 3 (without the histories) are still read; a foreign, truncated, inconsistent, older-
//! or newer-format file is refused when loaded.

use std::cell::RefCell;
use std::collections::HashMap;

use algocenter_domain::document::Document;
use algocenter_domain::{Error, Result};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::artifact;

use super::deep::Work;
use super::examples::{Active, Histories, Vocabulary, activate};
use super::features::{
    ItemFields, MAX_FIELDS, MAX_POSITION, RawFeature, Schema, position_index, query_features,
    user_feature,
};
use super::ffm::{Scratch, sigmoid};
use super::train::Scorer;

const MAGIC: &[u8; 5] = b"ACCTR";
/// Format 1 (position as an FFM field) is no longer read: its generations must be retrained. Format 2 lacks
/// [`Stored::fitted`], format 3 [`Stored::history`].
const FORMAT: u8 = 4;

/// The items each user chose in the trained days, as the model's history field reads them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct UserHistories {
    /// Most items per user (the `user_history` parameter).
    pub limit: u32,
    /// [`user_hash`] of the user → rows of the history field, the most recent first; sorted by hash.
    pub users: Vec<(u64, Vec<u32>)>,
}

impl UserHistories {
    /// What serving reads of `histories`: each user's items chosen in the trained days, as the held-out
    /// examples see them. `users`: the log's user ids.
    pub fn served(histories: &Histories, users: &HashMap<String, u32>) -> UserHistories {
        let mut rows = Vec::new();
        let mut out: Vec<(u64, Vec<u32>)> = users
            .iter()
            .filter_map(|(id, &u)| {
                histories.rows(u, None, &mut rows);
                (!rows.is_empty()).then(|| (user_hash(id), rows.clone()))
            })
            .collect();
        out.sort_unstable_by_key(|(hash, _)| *hash);
        out.dedup_by_key(|(hash, _)| *hash);
        UserHistories {
            limit: histories.limit as u32,
            users: out,
        }
    }
}

/// What the artifact holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct Stored {
    pub item_fields: ItemFields,
    pub schema: Schema,
    pub scorer: Scorer,
    /// The position term by position index (0: not logged), added to the relevance logit.
    pub position: Vec<f32>,
    /// Feature rows past the fields' out-of-vocabulary rows, in row order: `(field, key)`.
    pub vocabulary: Vec<(u8, u64)>,
    /// Items of the catalogue at training time: hash of the id → their feature rows.
    pub items: Vec<(u64, Vec<u32>)>,
    /// The events the model was fitted on lie in `[from_ms, to_ms)` (`None`: format 2, not said). `rank` reads it
    /// to know whether this model saw the days it evaluates on.
    pub fitted: Option<(i64, i64)>,
    /// The users' histories when the model has a history field (its schema's last field), else `None`.
    pub history: Option<UserHistories>,
}

/// Format 3: [`Stored`] without `history`.
#[derive(Deserialize)]
struct Format3 {
    item_fields: ItemFields,
    schema: Schema,
    scorer: Scorer,
    position: Vec<f32>,
    vocabulary: Vec<(u8, u64)>,
    items: Vec<(u64, Vec<u32>)>,
    fitted: Option<(i64, i64)>,
}

impl From<Format3> for Stored {
    fn from(f: Format3) -> Stored {
        Stored {
            item_fields: f.item_fields,
            schema: f.schema,
            scorer: f.scorer,
            position: f.position,
            vocabulary: f.vocabulary,
            items: f.items,
            fitted: f.fitted,
            history: None,
        }
    }
}

/// Format 2: [`Stored`] without `fitted`.
#[derive(Deserialize)]
struct Format2 {
    item_fields: ItemFields,
    schema: Schema,
    scorer: Scorer,
    position: Vec<f32>,
    vocabulary: Vec<(u8, u64)>,
    items: Vec<(u64, Vec<u32>)>,
}

impl From<Format2> for Stored {
    fn from(f: Format2) -> Stored {
        Stored {
            item_fields: f.item_fields,
            schema: f.schema,
            scorer: f.scorer,
            position: f.position,
            vocabulary: f.vocabulary,
            items: f.items,
            fitted: None,
            history: None,
        }
    }
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
    /// The position every candidate is scored at: it moves every score alike and never changes the order.
    pub position: u32,
}

/// A loaded model.
pub struct CtrModel {
    /// Boxed: a loaded model is one small value among the served models of other functions.
    stored: Box<Stored>,
    vocabulary: Box<Vocabulary>,
    items: HashMap<u64, usize>,
    /// The catalogue items' features, weighted, ready to score: item `i` is
    /// `item_active[item_start[i]..item_start[i + 1]]`.
    item_active: Vec<Active>,
    item_start: Vec<u32>,
    /// [`user_hash`] → index in `stored.history`'s users.
    users: HashMap<u64, usize>,
}

pub(crate) fn item_hash(id: &str) -> u64 {
    xxh3_64(id.as_bytes())
}

pub(crate) fn user_hash(id: &str) -> u64 {
    xxh3_64(id.as_bytes())
}

fn inconsistent() -> Error {
    Error::internal("ctr artifact is inconsistent")
}

impl CtrModel {
    pub(crate) fn from_stored(mut stored: Stored) -> Result<CtrModel> {
        // The artifact says whether the model has a history field by holding the histories.
        stored.schema.history = stored.history.is_some();
        let fields = stored.schema.fields();
        if fields > MAX_FIELDS || stored.position.len() != MAX_POSITION as usize + 1 {
            return Err(inconsistent());
        }
        let rows = fields + stored.vocabulary.len();
        let consistent = match &stored.scorer {
            Scorer::Ffm(w) => {
                w.fields == fields
                    && w.k <= 64
                    && w.rows() == rows
                    && w.factors.len() == rows * fields * w.k
            }
            Scorer::Deep(w) => w.fields == fields && w.rows() == rows && w.consistent(),
        };
        if !consistent
            || stored
                .vocabulary
                .iter()
                .any(|&(f, _)| usize::from(f) >= fields)
        {
            return Err(inconsistent());
        }
        let vocabulary = Box::new(Vocabulary::from_keys(fields, stored.vocabulary.clone()));
        let mut items = HashMap::with_capacity(stored.items.len());
        for (i, (hash, features)) in stored.items.iter().enumerate() {
            if features.iter().any(|&r| r as usize >= rows) {
                return Err(inconsistent());
            }
            items.insert(*hash, i);
        }
        let mut users = HashMap::new();
        if let Some(h) = &stored.history {
            for (i, (hash, history)) in h.users.iter().enumerate() {
                if history.len() > h.limit as usize || history.iter().any(|&r| r as usize >= rows) {
                    return Err(inconsistent());
                }
                users.insert(*hash, i);
            }
        }
        let field_of = |r: u32| {
            let r = r as usize;
            if r < fields {
                r as u8
            } else {
                stored.vocabulary[r - fields].0
            }
        };
        let mut item_active = Vec::new();
        let mut item_start = vec![0u32];
        for (_, rows) in &stored.items {
            let mut counts = [0u32; MAX_FIELDS];
            for &r in rows {
                counts[usize::from(field_of(r))] += 1;
            }
            item_active.extend(rows.iter().map(|&r| Active {
                index: r,
                field: field_of(r),
                x: 1.0 / (counts[usize::from(field_of(r))] as f32).sqrt(),
            }));
            item_start.push(item_active.len() as u32);
        }
        Ok(CtrModel {
            stored: Box::new(stored),
            vocabulary,
            items,
            item_active,
            item_start,
            users,
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(&self.stored)
    }

    pub fn decode(bytes: &[u8]) -> Result<CtrModel> {
        let (format, body) = artifact::open(bytes, MAGIC, "ctr")?;
        if format > FORMAT {
            return Err(Error::internal(format_args!(
                "ctr artifact format {format} is newer than this build reads ({FORMAT})"
            )));
        }
        if format < 2 {
            // Not a fault of the server: the upgrade changed the model (README, "Upgrading").
            return Err(Error::ModelOutdated(format!(
                "the serving generation's ctr model has format {format}, which this build no longer reads (it \
                 reads {FORMAT}): train a new generation of the instance (CreateFunctionTask)"
            )));
        }
        let stored: Stored = match format {
            2 => artifact::read::<Format2>(body, "ctr")?.into(),
            3 => artifact::read::<Format3>(body, "ctr")?.into(),
            _ => artifact::read(body, "ctr")?,
        };
        CtrModel::from_stored(stored)
    }

    /// Feature rows of the model.
    pub fn rows(&self) -> usize {
        self.vocabulary.rows()
    }

    /// `lr`, `ffm` or `deep`.
    pub fn kind(&self) -> &'static str {
        match &self.stored.scorer {
            Scorer::Ffm(w) if w.k == 0 => "lr",
            Scorer::Ffm(_) => "ffm",
            Scorer::Deep(_) => "deep",
        }
    }

    /// The item attributes the model reads.
    pub fn item_fields(&self) -> &ItemFields {
        &self.stored.item_fields
    }

    /// The span of time, `(from_ms, to_ms)`, of the events the model was fitted on; `None` when its artifact
    /// does not say (format 2).
    pub fn fitted_on(&self) -> Option<(i64, i64)> {
        self.stored.fitted
    }

    /// Items whose training-time attributes the model knows.
    pub fn known_items(&self) -> usize {
        self.items.len()
    }

    pub fn knows_item(&self, id: &str) -> bool {
        self.items.contains_key(&item_hash(id))
    }

    /// Users whose chosen items the model holds (0: the model has no history field).
    pub fn users_with_history(&self) -> usize {
        self.users.len()
    }

    /// The history field's rows of `user`: the items they chose in the trained days, the most recent first.
    fn history_of(&self, user: &str) -> &[u32] {
        match (&self.stored.history, self.users.get(&user_hash(user))) {
            (Some(h), Some(&i)) => &h.users[i].1,
            _ => &[],
        }
    }

    /// Click probabilities of the candidates in `situation`, in the candidates' order: the relevance of each,
    /// plus the position term of `situation.position` (the same for all). An item the model does not know is
    /// scored by its attributes when given, else by its field's out-of-vocabulary row; a missing user or query
    /// simply leaves its fields out.
    pub fn score(&self, situation: &Situation<'_>, candidates: &[Candidate<'_>]) -> Vec<f32> {
        let mut shared_raw: Vec<RawFeature> = Vec::new();
        if let Some(user) = situation.user.filter(|u| !u.is_empty()) {
            shared_raw.push(user_feature(user));
        }
        if let Some(query) = situation.query {
            shared_raw.extend(query_features(query));
        }
        shared_raw.extend(self.stored.schema.context_features(situation.context));
        let row_of = |f: u8, k: u64| self.vocabulary.row(f, k);
        let mut shared = Vec::new();
        activate(&shared_raw, &row_of, &mut shared);
        // After the context, as the trainer writes an example's features.
        if let (Some(field), Some(user)) = (self.stored.schema.history_field(), situation.user) {
            let rows = self.history_of(user);
            let x = 1.0 / (rows.len().max(1) as f32).sqrt();
            shared.extend(rows.iter().map(|&index| Active { index, field, x }));
        }
        let position = self.stored.position[usize::from(position_index(Some(situation.position)))];

        let mut own_buf = Vec::with_capacity(24);
        let own = |c: &Candidate<'_>, out: &mut Vec<Active>| match (
            c.attributes,
            self.items.get(&item_hash(c.id)),
        ) {
            (None, Some(&i)) => out.extend_from_slice(self.item_rows(i)),
            (attributes, _) => {
                let raw = self.stored.item_fields.features(c.id, attributes);
                activate(&raw, &row_of, out);
            }
        };
        match &self.stored.scorer {
            Scorer::Ffm(w) => {
                let partial = w.partial(&shared);
                let mut scratch = Scratch::new(w.fields, w.k);
                candidates
                    .iter()
                    .map(|c| {
                        own_buf.clear();
                        own(c, &mut own_buf);
                        sigmoid(w.logit_with(&partial, &own_buf, &mut scratch) + position)
                    })
                    .collect()
            }
            Scorer::Deep(w) => SERVING_WORK.with(|kept| {
                let mut own = |i: usize, out: &mut Vec<Active>| own(&candidates[i], out);
                let n = candidates.len();
                // Never taken twice on one thread (scoring does not score); a fresh one if it were.
                let z = match kept.try_borrow_mut() {
                    Ok(mut work) => w.request_logits(&shared, n, &mut own, &mut work),
                    Err(_) => w.request_logits(&shared, n, &mut own, &mut Work::default()),
                };
                z.into_iter().map(|z| sigmoid(z + position)).collect()
            }),
        }
    }

    /// The active features of the `i`-th catalogue item.
    fn item_rows(&self, i: usize) -> &[Active] {
        &self.item_active[self.item_start[i] as usize..self.item_start[i + 1] as usize]
    }
}

thread_local! {
    /// The deep scorer's buffers, kept by each serving thread: built anew per rerank they were grown by copies
    /// and faulted in fresh from the system each time (a tenth of a rerank's CPU in a profile). They keep the
    /// size of the largest rerank the thread served (at most 1,000 candidates per request).
    static SERVING_WORK: RefCell<Work> = RefCell::new(Work::default());
}

pub(crate) fn encode(stored: &Stored) -> Result<Vec<u8>> {
    artifact::seal(MAGIC, FORMAT, stored)
        .map_err(|e| Error::internal(format_args!("cannot encode the ctr model: {e}")))
}

impl std::fmt::Debug for CtrModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtrModel")
            .field("kind", &self.kind())
            .field("rows", &self.rows())
            .field("context_fields", &self.stored.schema.context_keys.len())
            .field("history", &self.stored.schema.history)
            .field("known_items", &self.known_items())
            .finish()
    }
}
