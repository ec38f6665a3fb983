//! A trained `suggest` generation: the global index, the users' histories, the blend chosen at training time,
//! and when the window it was trained on ended. Built once, never changed; the live tail's searches are handed
//! to each request instead.

use std::collections::HashMap;

use algocenter_domain::Error;
use serde::{Deserialize, Serialize};

use super::index::{Body, MAX_HIT, SuggestIndex};
use super::personal::{Blend, Histories, LiveSearch, blend};
use crate::TrainError;
use crate::query::{is_usable, normalise};

const MAGIC: &[u8; 5] = b"ACSUG";
/// The global index alone (no weights, no histories): still read, served without personal completions.
const FORMAT_V1: u8 = 1;
/// The index with its weights, the histories, the blend and the end of the window.
const FORMAT_V2: u8 = 2;

#[derive(Serialize, Deserialize)]
struct BodyV2 {
    index: Body,
    weights: Vec<f32>,
    histories: Histories,
    blend: Blend,
    trained_until_ms: i64,
}

/// A trained `suggest` generation.
pub struct SuggestModel {
    index: SuggestIndex,
    histories: Histories,
    blend: Blend,
    trained_until_ms: i64,
}

impl std::fmt::Debug for SuggestModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuggestModel")
            .field("index", &self.index)
            .field("users", &self.histories.user_count())
            .field("blend", &self.blend)
            .finish()
    }
}

/// A candidate of the blend: a query of the global index, or one the user alone searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Global(u32),
    History(u32),
    Live(u32),
}

impl SuggestModel {
    pub fn new(
        index: SuggestIndex,
        histories: Histories,
        blend: Blend,
        trained_until_ms: i64,
    ) -> Self {
        SuggestModel {
            index,
            histories,
            blend,
            trained_until_ms,
        }
    }

    pub fn index(&self) -> &SuggestIndex {
        &self.index
    }

    pub fn histories(&self) -> &Histories {
        &self.histories
    }

    pub fn blend(&self) -> Blend {
        self.blend
    }

    /// Where the training window ended: the live tail counts searches from here on.
    pub fn trained_until_ms(&self) -> i64 {
        self.trained_until_ms
    }

    /// Global completions of what someone typed, best first, at most `hit` (≤ [`MAX_HIT`]).
    pub fn suggest(&self, typed: &str, hit: usize) -> Vec<&str> {
        self.index.suggest(typed, hit)
    }

    /// Completions for `user` at `now_ms`: the global ones blended with the user's history and `live`, the
    /// user's searches since training (see [`super::personal`]). Without a user, the global completions.
    pub fn suggest_for(
        &self,
        typed: &str,
        hit: usize,
        user: Option<&str>,
        live: &[LiveSearch],
        now_ms: i64,
    ) -> Vec<String> {
        let hit = hit.min(MAX_HIT);
        let prefix = normalise(typed);
        if !is_usable(&prefix) || hit == 0 {
            return Vec::new();
        }
        let global: Vec<(Key, f64)> = self
            .index
            .complete_ids(&prefix, hit, true)
            .into_iter()
            .map(|id| (Key::Global(id), self.index.weight(id)))
            .collect();
        let personal = match user {
            Some(user) if self.blend.personal_weight > 0.0 => {
                self.personal(&prefix, user, live, now_ms)
            }
            _ => Vec::new(),
        };
        blend(&global, &personal, self.blend.personal_weight, hit)
            .into_iter()
            .map(|key| match key {
                Key::Global(id) => self.index.display(id).to_string(),
                Key::History(q) => self.histories.queries[q as usize].display.clone(),
                Key::Live(i) => live[i as usize].display.clone(),
            })
            .collect()
    }

    /// The user's queries completing `prefix`: (key, global weight, personal weight at `now_ms`).
    fn personal(
        &self,
        prefix: &str,
        user: &str,
        live: &[LiveSearch],
        now_ms: i64,
    ) -> Vec<(Key, f64, f64)> {
        let since_training = self.blend.decay(now_ms - self.trained_until_ms);
        let mut by_key: HashMap<Key, (f64, f64)> = HashMap::new();
        let mut by_normal: HashMap<&str, Key> = HashMap::new();
        for u in self.histories.of(user) {
            let q = &self.histories.queries[u.query as usize];
            if !q.completes(prefix) {
                continue;
            }
            let key = q.global.map_or(Key::History(u.query), Key::Global);
            let global = q.global.map_or(0.0, |id| self.index.weight(id));
            by_normal.insert(&q.normal, key);
            by_key.entry(key).or_insert((global, 0.0)).1 += f64::from(u.weight) * since_training;
        }
        for (i, search) in live.iter().enumerate() {
            if !search.normal.starts_with(prefix) {
                continue;
            }
            let key = match by_normal.get(search.normal.as_str()) {
                Some(&key) => key,
                None => {
                    let key = self
                        .index
                        .id_of(&search.normal)
                        .map_or(Key::Live(i as u32), Key::Global);
                    by_normal.insert(&search.normal, key);
                    key
                }
            };
            let global = match key {
                Key::Global(id) => self.index.weight(id),
                _ => 0.0,
            };
            by_key.entry(key).or_insert((global, 0.0)).1 += self.blend.decay(now_ms - search.at_ms);
        }
        by_key.into_iter().map(|(k, (g, p))| (k, g, p)).collect()
    }

    pub(super) fn encode(&self) -> Result<Vec<u8>, TrainError> {
        let (index, weights) = self.index.to_body();
        let body = BodyV2 {
            index,
            weights,
            histories: self.histories.clone(),
            blend: self.blend,
            trained_until_ms: self.trained_until_ms,
        };
        crate::artifact::seal(MAGIC, FORMAT_V2, &body)
    }

    /// Reads an artifact (either format); a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not a suggestion index artifact"))?;
        let corrupt = |e: &dyn std::fmt::Display| {
            Error::internal(format_args!("corrupt suggestion index artifact: {e}"))
        };
        match body.split_first() {
            Some((&FORMAT_V1, rest)) => {
                let body: Body = postcard::from_bytes(rest).map_err(|e| corrupt(&e))?;
                Ok(SuggestModel::new(
                    SuggestIndex::from_body(body, Vec::new())?,
                    Histories::default(),
                    Blend::GLOBAL_ONLY,
                    0,
                ))
            }
            Some((&FORMAT_V2, rest)) => {
                let body: BodyV2 = postcard::from_bytes(rest).map_err(|e| corrupt(&e))?;
                let index = SuggestIndex::from_body(body.index, body.weights)?;
                if !body.histories.is_consistent(index.len()) {
                    return Err(corrupt(&"a history points outside the index"));
                }
                Ok(SuggestModel::new(
                    index,
                    body.histories,
                    body.blend,
                    body.trained_until_ms,
                ))
            }
            Some((format, _)) => Err(Error::internal(format_args!(
                "suggestion index artifact of unknown format {format}"
            ))),
            None => Err(Error::internal("truncated suggestion index artifact")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suggest::index::Candidate;
    use crate::suggest::personal::{PersonalQuery, Use};

    const DAY: i64 = 86_400_000;

    /// Global: "dress" (10), "drum" (5). User "a" searched "drone parts" (theirs alone) and "drum".
    fn model() -> SuggestModel {
        let index = SuggestIndex::build(
            vec![
                Candidate {
                    normal: "dress".into(),
                    display: "dress".into(),
                    weight: 10.0,
                },
                Candidate {
                    normal: "drum".into(),
                    display: "Drum".into(),
                    weight: 5.0,
                },
            ],
            false,
        )
        .unwrap();
        let query = |normal: &str, global| PersonalQuery {
            normal: normal.into(),
            display: normal.into(),
            pinyin: None,
            global,
        };
        let histories = Histories {
            queries: vec![query("drone parts", None), query("drum", Some(1))],
            users: HashMap::from([(
                "a".to_string(),
                vec![
                    Use {
                        query: 0,
                        weight: 2.0,
                        last_ms: 10 * DAY,
                    },
                    Use {
                        query: 1,
                        weight: 1.0,
                        last_ms: 10 * DAY,
                    },
                ],
            )]),
        };
        let blend = Blend {
            personal_weight: 1e6,
            half_life_days: 30.0,
        };
        SuggestModel::new(index, histories, blend, 10 * DAY)
    }

    #[test]
    fn a_user_gets_their_own_queries_first_and_others_never_see_them() {
        let m = model();
        let now = 10 * DAY;
        assert_eq!(
            m.suggest_for("dr", 10, Some("a"), &[], now),
            ["drone parts", "Drum", "dress"]
        );
        assert_eq!(
            m.suggest_for("dr", 10, Some("b"), &[], now),
            ["dress", "Drum"]
        );
        assert_eq!(m.suggest_for("dr", 10, None, &[], now), ["dress", "Drum"]);
        assert_eq!(m.suggest_for("dru", 10, Some("a"), &[], now), ["Drum"]);
    }

    #[test]
    fn live_searches_count_for_their_user() {
        let m = model();
        let now = 11 * DAY;
        let live = [
            LiveSearch::new("Dreamcatcher", now - 1000).unwrap(),
            LiveSearch::new("dress", now - 500).unwrap(),
            LiveSearch::new("dress", now - 400).unwrap(),
            LiveSearch::new("dress", now - 300).unwrap(),
        ];
        assert_eq!(
            m.suggest_for("dr", 10, Some("b"), &live, now),
            ["dress", "Dreamcatcher", "Drum"]
        );
        assert_eq!(
            m.suggest_for("dr", 2, Some("a"), &live, now),
            ["dress", "drone parts"],
            "three fresh searches outweigh two older ones"
        );
    }

    #[test]
    fn the_artifact_round_trips_and_corruption_is_an_error() {
        let m = model();
        let bytes = m.encode().unwrap();
        let back = SuggestModel::decode(&bytes).unwrap();
        assert_eq!(
            back.suggest_for("dr", 10, Some("a"), &[], 10 * DAY),
            ["drone parts", "Drum", "dress"]
        );
        assert_eq!(back.trained_until_ms(), 10 * DAY);
        assert!(SuggestModel::decode(&bytes[..bytes.len() / 2]).is_err());
        assert!(SuggestModel::decode(b"ACPOP\x01").is_err());
        assert!(SuggestModel::decode(b"ACSUG\x09").is_err());
        // A format-1 artifact (the index alone) still serves its global completions.
        let (body, _) = m.index().to_body();
        let mut v1 = b"ACSUG\x01".to_vec();
        v1.extend(postcard::to_allocvec(&body).unwrap());
        let old = SuggestModel::decode(&v1).unwrap();
        assert_eq!(
            old.suggest_for("dr", 10, Some("a"), &[], 0),
            ["dress", "Drum"]
        );
    }
}
