//! Personal completions: each user's own searches of the window (a bounded history per user), the searches the
//! live tail adds after training, and the blend of both with the global list.
//!
//! **The blend.** For a prefix, every candidate (the prefix's global completions and the user's own queries that
//! start with it) scores `global / global_best + personal_weight × personal`, where `global` is the query's
//! global weight (0 when it is not in the global list), `global_best` that of the prefix's best global
//! completion, and `personal` the user's own searches of the query, each halved every `half_life_days` of age.
//! A very large `personal_weight` puts the user's own queries first ("own history first, then most popular");
//! 0 ignores them. Both are chosen at training time on held-out searches.
//!
//! **Privacy.** A user's history holds only that user's searches and is read only for requests naming that
//! user; the global list holds only queries that pass the global threshold (`min_users` distinct users and
//! `min_count` searches). So a query typed by one user only is suggested to that user and to no one else.

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

pub use crate::query::live::LiveSearch;

/// A query some user searched, as the personal part of the artifact holds it (once for all its users).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonalQuery {
    pub normal: String,
    /// As the user typed it (the usual spelling).
    pub display: String,
    /// Full pinyin and initials of a Chinese query, when the index completes by pinyin.
    pub pinyin: Option<(String, String)>,
    /// Its number in the global index, when it is there.
    pub global: Option<u32>,
}

impl PersonalQuery {
    pub fn completes(&self, prefix: &str) -> bool {
        self.normal.starts_with(prefix)
            || self.pinyin.as_ref().is_some_and(|(full, initials)| {
                full.starts_with(prefix) || initials.starts_with(prefix)
            })
    }
}

/// A user's use of one query over the training window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Use {
    /// Index into [`Histories::queries`].
    pub query: u32,
    /// The user's searches of it, each halved every `half_life_days` of age, at the end of the window.
    pub weight: f32,
    pub last_ms: i64,
}

/// The bounded histories of the users active in the training window.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Histories {
    pub queries: Vec<PersonalQuery>,
    pub users: HashMap<String, Vec<Use>>,
}

impl Histories {
    pub fn of(&self, user: &str) -> &[Use] {
        self.users.get(user).map_or(&[], Vec::as_slice)
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Queries remembered over all users.
    pub fn use_count(&self) -> usize {
        self.users.values().map(Vec::len).sum()
    }

    /// Every index stays inside: a corrupt file must not panic a request.
    pub(super) fn is_consistent(&self, global_len: usize) -> bool {
        let n = self.queries.len();
        self.queries
            .iter()
            .all(|q| q.global.is_none_or(|g| (g as usize) < global_len))
            && self
                .users
                .values()
                .all(|uses| uses.iter().all(|u| (u.query as usize) < n))
    }
}

/// How personal and global completions are blended (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Blend {
    pub personal_weight: f64,
    pub half_life_days: f64,
}

impl Blend {
    /// Ignores the user's history.
    pub const GLOBAL_ONLY: Blend = Blend {
        personal_weight: 0.0,
        half_life_days: 30.0,
    };

    /// The factor of a search `age_ms` old.
    pub fn decay(&self, age_ms: i64) -> f64 {
        0.5f64.powf(age_ms.max(0) as f64 / (self.half_life_days * 86_400_000.0))
    }
}

/// The best `hit` of `global` (the prefix's global completions, best first, with their weights) and `personal`
/// (the user's queries completing the prefix: key, global weight or 0, personal weight), blended.
pub fn blend<K: Copy + Eq + Hash + Ord>(
    global: &[(K, f64)],
    personal: &[(K, f64, f64)],
    personal_weight: f64,
    hit: usize,
) -> Vec<K> {
    if personal.is_empty() || personal_weight <= 0.0 {
        return global.iter().take(hit).map(|(k, _)| *k).collect();
    }
    let best = global
        .first()
        .map(|g| g.1)
        .into_iter()
        .chain(personal.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let best = if best > 0.0 { best } else { 1.0 };
    let mut scored: HashMap<K, (f64, f64)> = HashMap::with_capacity(global.len() + personal.len());
    for &(k, g) in global {
        scored.insert(k, (g, 0.0));
    }
    for &(k, g, p) in personal {
        let entry = scored.entry(k).or_insert((g, 0.0));
        entry.1 += p;
    }
    let mut ranked: Vec<(K, f64, f64)> = scored
        .into_iter()
        .map(|(k, (g, p))| (k, g / best + personal_weight * p, g))
        .collect();
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(b.2.total_cmp(&a.2))
            .then(a.0.cmp(&b.0))
    });
    ranked.into_iter().take(hit).map(|(k, _, _)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blend_mixes_own_and_global_by_the_personal_weight() {
        let global = [(1u32, 100.0), (2, 50.0), (3, 10.0)];
        // The user searched 3 (also global) and 9 (theirs alone) before.
        let personal = [(3u32, 10.0, 1.0), (9, 0.0, 2.0)];
        assert_eq!(blend(&global, &personal, 0.0, 10), [1, 2, 3]);
        assert_eq!(
            blend(&global, &personal, 1e9, 10),
            [9, 3, 1, 2],
            "own first"
        );
        // 3: 0.1 + 0.3 = 0.4; 9: 0.6; 2: 0.5; 1: 1.
        assert_eq!(blend(&global, &personal, 0.3, 10), [1, 9, 2, 3]);
        assert_eq!(blend(&global, &personal, 0.3, 2), [1, 9]);
        assert_eq!(blend::<u32>(&[], &[(9, 0.0, 1.0)], 1.0, 3), [9]);
    }

    #[test]
    fn pinyin_keys_complete_personal_queries() {
        let q = PersonalQuery {
            normal: "连衣裙".into(),
            display: "连衣裙".into(),
            pinyin: Some(("lianyiqun".into(), "lyq".into())),
            global: None,
        };
        assert!(q.completes("连衣") && q.completes("lian") && q.completes("lyq"));
        assert!(!q.completes("dress"));
    }
}
