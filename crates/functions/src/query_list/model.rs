//! The served list of a `hot` or `hint` generation: listed queries, their orders, and the profiles of
//! personalised hints.

use std::collections::HashMap;

use algocenter_domain::Error;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::query::live::LiveSearch;
use crate::query::log::{QueryCount, QueryLog};
use crate::query::normalise;

const MAGIC: &[u8; 5] = b"ACQLS";
/// Without the users' own queries: still read.
const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;

/// Searches of a query by one user from which it is one of the user's own hints.
pub const OWN_MIN_SEARCHES: u32 = 2;

/// Longest list a request may ask for (`hit`), so the longest list kept.
pub const MAX_HIT: usize = 30;
/// No category.
pub(super) const NO_CATEGORY: u16 = u16::MAX;

/// Tags of a listed query (OpenSearch's real-time top-search tags).
pub const TAG_NEW: u8 = 0;
pub const TAG_POPULAR: u8 = 1;
pub const TAG_RISING: u8 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListedQuery {
    /// The query as users usually type it.
    pub query: String,
    /// Searches in the window (after the anti-spam cap).
    pub pv: u64,
    /// Distinct searchers in the window.
    pub uv: u64,
    pub tags: u8,
}

/// How a request wants the list ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListOrder {
    /// The instance's `sort_type`.
    Default,
    Pv,
    Uv,
}

/// A trained `hot` or `hint` generation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct QueryListModel {
    pub(super) entries: Vec<ListedQuery>,
    pub(super) pinned: Vec<u32>,
    /// `hot`: by searches; `hint`: by hint score (the overall order).
    pub(super) by_pv: Vec<u32>,
    /// `hot` only: by distinct searchers.
    pub(super) by_uv: Vec<u32>,
    pub(super) default_uv: bool,
    /// Personalised hints: every entry's score and category, the candidates, and each user's affinities
    /// (category, ratio > 1).
    pub(super) scores: Vec<f32>,
    pub(super) entry_category: Vec<u16>,
    pub(super) candidates: Vec<u32>,
    pub(super) profiles: HashMap<String, Affinity>,
    /// Personalised hints: each user's own queries, most used first (only ever shown to that user).
    pub(super) own: HashMap<String, Vec<OwnQuery>>,
    /// Where the training window ended (0 in format-1 artifacts): the live tail counts searches from here on.
    pub(super) trained_until_ms: i64,
}

/// The fields of a format-1 artifact.
#[derive(Deserialize)]
struct ModelV1 {
    entries: Vec<ListedQuery>,
    pinned: Vec<u32>,
    by_pv: Vec<u32>,
    by_uv: Vec<u32>,
    default_uv: bool,
    scores: Vec<f32>,
    entry_category: Vec<u16>,
    candidates: Vec<u32>,
    profiles: HashMap<String, Affinity>,
}

/// A query of one user's own searches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct OwnQuery {
    pub(super) normal: String,
    /// As the user typed it.
    pub(super) display: String,
    /// The user's searches of it in the window.
    pub(super) searches: u32,
    /// The same, each halved every `half_life_days` of age, at the end of the window.
    pub(super) weight: f32,
}

/// A user's affinity to categories: the ratio of their share of activity in a category to everyone's.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct Affinity {
    /// Categories the user was active in.
    pub(super) categories: Vec<(u16, f32)>,
    /// The ratio of every other category (below 1: the user's activity went elsewhere).
    pub(super) elsewhere: f32,
}

impl QueryListModel {
    /// Reads an artifact; a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not a query list artifact"))?;
        let corrupt =
            |e: postcard::Error| Error::internal(format_args!("corrupt query list artifact: {e}"));
        match body.split_first() {
            Some((&FORMAT_V1, rest)) => {
                let v1: ModelV1 = postcard::from_bytes(rest).map_err(corrupt)?;
                let model = QueryListModel {
                    entries: v1.entries,
                    pinned: v1.pinned,
                    by_pv: v1.by_pv,
                    by_uv: v1.by_uv,
                    default_uv: v1.default_uv,
                    scores: v1.scores,
                    entry_category: v1.entry_category,
                    candidates: v1.candidates,
                    profiles: v1.profiles,
                    own: HashMap::new(),
                    trained_until_ms: 0,
                };
                model.check()?;
                Ok(model)
            }
            Some((&FORMAT_V2, rest)) => {
                let model: QueryListModel = postcard::from_bytes(rest).map_err(corrupt)?;
                model.check()?;
                Ok(model)
            }
            Some((format, _)) => Err(Error::internal(format_args!(
                "query list artifact of unknown format {format}"
            ))),
            None => Err(Error::internal("truncated query list artifact")),
        }
    }

    /// Every index stays inside the model: a corrupt file must not panic a request.
    fn check(&self) -> Result<(), Error> {
        let n = self.entries.len();
        let inside = |list: &[u32]| list.iter().all(|&id| (id as usize) < n);
        let personal = self.scores.len() == self.entry_category.len()
            && (self.candidates.is_empty() || self.scores.len() == n);
        if inside(&self.pinned)
            && inside(&self.by_pv)
            && inside(&self.by_uv)
            && inside(&self.candidates)
            && personal
        {
            Ok(())
        } else {
            Err(Error::internal(
                "corrupt query list artifact: an index points outside the model",
            ))
        }
    }

    pub(super) fn encode(&self) -> Result<Vec<u8>, TrainError> {
        crate::artifact::seal(MAGIC, FORMAT_V2, self)
    }

    /// The first `hit` queries (see [`QueryListModel::top_with_live`]), without searches since training.
    pub fn top(&self, hit: usize, order: ListOrder, user: Option<&str>) -> Vec<ListedQuery> {
        self.top_with_live(hit, order, user, &[])
    }

    /// The first `hit` queries: whitelisted ones first, then, for a known user (personalised `hint`), the
    /// user's own queries searched at least [`OWN_MIN_SEARCHES`] times (in the window and in `live`, the
    /// user's searches since training), most used first, then the candidates by score times the user's
    /// affinity to their category; else the list in `order`. A user's own query is shown with the user's own
    /// searches of it as `pv`.
    pub fn top_with_live(
        &self,
        hit: usize,
        order: ListOrder,
        user: Option<&str>,
        live: &[LiveSearch],
    ) -> Vec<ListedQuery> {
        let mut chosen: Vec<u32> = Vec::with_capacity(hit);
        let take = |id: u32, chosen: &mut Vec<u32>| {
            if chosen.len() < hit && !chosen.contains(&id) {
                chosen.push(id);
            }
        };
        for &id in &self.pinned {
            take(id, &mut chosen);
        }
        let own = user.map_or_else(Vec::new, |u| self.own_hints(u, live));
        let mut listed: Vec<ListedQuery> = chosen
            .iter()
            .map(|&id| self.entries[id as usize].clone())
            .collect();
        // The user's own queries come next; a query also listed otherwise is shown once.
        let mut own_shown: Vec<String> = Vec::new();
        if !own.is_empty() {
            let pinned: Vec<String> = listed.iter().map(|l| normalise(&l.query)).collect();
            for q in own {
                if listed.len() >= hit {
                    break;
                }
                if !pinned.contains(&q.normal) {
                    own_shown.push(q.normal.clone());
                    listed.push(ListedQuery {
                        query: q.display,
                        pv: u64::from(q.searches),
                        uv: 1,
                        tags: TAG_POPULAR,
                    });
                }
            }
        }
        let room = hit - listed.len();
        let mut rest: Vec<u32> = Vec::with_capacity(room);
        let take = |id: u32, rest: &mut Vec<u32>| {
            if rest.len() < room
                && !rest.contains(&id)
                && !chosen.contains(&id)
                && (own_shown.is_empty()
                    || !own_shown.contains(&normalise(&self.entries[id as usize].query)))
            {
                rest.push(id);
            }
        };
        if let Some(affinity_of) = user.and_then(|u| self.profiles.get(u)) {
            let affinity = |id: u32| {
                let c = self.entry_category[id as usize];
                if c == NO_CATEGORY {
                    return 1.0;
                }
                affinity_of
                    .categories
                    .iter()
                    .find(|(a, _)| *a == c)
                    .map_or(affinity_of.elsewhere, |(_, ratio)| *ratio)
            };
            let mut ranked: Vec<(u32, f32)> = self
                .candidates
                .iter()
                .map(|&id| (id, self.scores[id as usize] * affinity(id)))
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for (id, _) in ranked {
                take(id, &mut rest);
            }
        }
        let uv = match order {
            ListOrder::Default => self.default_uv,
            ListOrder::Pv => false,
            ListOrder::Uv => true,
        };
        let list = if uv && !self.by_uv.is_empty() {
            &self.by_uv
        } else {
            &self.by_pv
        };
        for &id in list {
            take(id, &mut rest);
        }
        listed.extend(rest.into_iter().map(|id| self.entries[id as usize].clone()));
        listed
    }

    /// The user's own queries searched at least [`OWN_MIN_SEARCHES`] times, counting `live`, most used first.
    fn own_hints(&self, user: &str, live: &[LiveSearch]) -> Vec<OwnQuery> {
        let mut own: Vec<OwnQuery> = self.own.get(user).cloned().unwrap_or_default();
        for search in live {
            match own.iter_mut().find(|q| q.normal == search.normal) {
                Some(q) => {
                    q.searches += 1;
                    q.weight += 1.0;
                }
                None => own.push(OwnQuery {
                    normal: search.normal.clone(),
                    display: search.display.clone(),
                    searches: 1,
                    weight: 1.0,
                }),
            }
        }
        own.retain(|q| q.searches >= OWN_MIN_SEARCHES);
        own.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then(b.searches.cmp(&a.searches))
                .then_with(|| a.normal.cmp(&b.normal))
        });
        own
    }

    /// Where the training window ended; 0 when the artifact does not say (format 1).
    pub fn trained_until_ms(&self) -> i64 {
        self.trained_until_ms
    }

    /// Whether `user` gets personalised hints.
    pub fn knows_user(&self, user: &str) -> bool {
        self.profiles.contains_key(user) || self.own.contains_key(user)
    }

    /// Users with own queries, and their queries in all.
    pub fn own_sizes(&self) -> (usize, usize) {
        (self.own.len(), self.own.values().map(Vec::len).sum())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds `id` (a query of `log`) as an entry once, returning its index.
    pub(super) fn entry(
        &mut self,
        index: &mut HashMap<u32, u32>,
        id: u32,
        make: impl FnOnce() -> ListedQuery,
    ) -> u32 {
        *index.entry(id).or_insert_with(|| {
            self.entries.push(make());
            (self.entries.len() - 1) as u32
        })
    }

    /// Adds the whitelist, entries of its own (a whitelisted query may never have been searched), shown as the
    /// dictionary writes them.
    pub(super) fn pin(
        &mut self,
        whitelist: &[(String, String)],
        log: &QueryLog,
        counts: &[QueryCount],
    ) {
        for (query, display) in whitelist {
            let count = log
                .query_id_of(query)
                .and_then(|id| counts.get(id as usize))
                .copied()
                .unwrap_or_default();
            self.entries.push(ListedQuery {
                query: display.clone(),
                pv: u64::from(count.searches),
                uv: u64::from(count.users),
                tags: if count.searches == 0 {
                    TAG_NEW
                } else {
                    TAG_POPULAR
                },
            });
            self.pinned.push((self.entries.len() - 1) as u32);
        }
    }
}
