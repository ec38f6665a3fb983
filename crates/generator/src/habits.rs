//! Search habits of people on the web, switched on by [`Habits`] in the generator's configuration (all off by
//! default, so that the shop's data stay as they were):
//!
//! - **Repeat searches.** People search again for what they searched before (re-finding): on public web logs
//!   roughly a third of queries repeat an earlier query of the same user. With `repeat_share`, a user's search
//!   after their first repeats one of their own recent searches (drawn in proportion to how often they made it,
//!   among their last [`HISTORY`]), instead of a fresh draw from the world's queries.
//! - **Navigational queries.** A search for a site or a shop by name (`nike official store`, `mail login`). Each
//!   user has one to three favourite sites; with `navigational_share` a search goes to one of them (or, one time
//!   in four, to a site drawn by its popularity), so navigational queries are both personal and popular.
//! - **Typos, corrected.** With `typo_share` a session starts with a misspelled search (a letter dropped,
//!   doubled or replaced by a keyboard neighbour, or two neighbours swapped) that finds little and gets no
//!   click; the user retypes the intended query 20 s to 3 minutes later and that search gets the clicks. The
//!   truth of each, [`TypoTruth`] (which search was a typo of which query), is handed to the caller of
//!   [`crate::World::events_with_truth`], so that a spelling corrector can be scored against it.
//!
//! Every habit draws from its own random stream: turning one on changes which query some sessions are for, never
//! the rest of the world (items, users, the other sessions' draws).

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::QueryTruth;
use crate::words;

/// Which habits the generated users have, as shares of their searches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Habits {
    /// Share of a user's searches (after their first) that repeat one of their own earlier searches.
    pub repeat_share: f64,
    /// Share of searches that are navigational (a site by name).
    pub navigational_share: f64,
    /// Share of sessions that start with a misspelled search, corrected minutes later.
    pub typo_share: f64,
}

impl Habits {
    /// No habit: the shop's users pick every query afresh.
    pub const OFF: Habits = Habits {
        repeat_share: 0.0,
        navigational_share: 0.0,
        typo_share: 0.0,
    };

    /// The shape of a public web search log: a third of searches repeat the user's own, a tenth are
    /// navigational, one session in twenty starts with a typo.
    pub const WEB: Habits = Habits {
        repeat_share: 0.33,
        navigational_share: 0.1,
        typo_share: 0.05,
    };

    pub fn is_off(&self) -> bool {
        *self == Habits::OFF
    }
}

impl Default for Habits {
    fn default() -> Self {
        Habits::OFF
    }
}

/// A misspelled search and the query its user meant, which they searched next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypoTruth {
    pub user: String,
    /// `rn` of the misspelled search.
    pub typo_rn: String,
    /// What the user typed.
    pub typo: String,
    /// `rn` of the corrected search that follows it.
    pub corrected_rn: String,
    /// The query the user meant (the corrected search's `raw_query`).
    pub intended: String,
}

/// Searches of a user remembered for repeats.
pub const HISTORY: usize = 50;
/// Sites users search for by name.
const SITES: usize = 60;
const SITE_SUFFIXES: [&str; 5] = [
    "official store",
    ".com",
    "login",
    "outlet",
    "customer service",
];

/// What one session is for.
pub(crate) enum Pick {
    /// The world's draw stands.
    Fresh,
    /// A query of the habits (a repeat or a site).
    Habit(QueryTruth),
}

/// The habits' state while events are generated: each user's recent searches and favourite sites.
pub(crate) struct HabitState {
    habits: Habits,
    rng: SmallRng,
    history: Vec<Vec<QueryTruth>>,
    favourite_sites: Vec<[u16; 3]>,
    sites: Vec<QueryTruth>,
    /// Cumulative popularity of the sites (Zipf).
    site_cdf: Vec<f64>,
}

/// The site names: brands and a few portals, each with a suffix, tied to the brand's leaf.
fn sites(leaves: usize) -> Vec<QueryTruth> {
    (0..SITES)
        .map(|n| {
            let brand = words::BRANDS[n % words::BRANDS.len()];
            let suffix = SITE_SUFFIXES[(n / words::BRANDS.len()) % SITE_SUFFIXES.len()];
            let text = if suffix.starts_with('.') {
                format!("{}{suffix}", brand.to_lowercase().replace(' ', ""))
            } else {
                format!("{} {suffix}", brand.to_lowercase())
            };
            QueryTruth {
                text,
                leaf: (n * 7) % leaves,
            }
        })
        .collect()
}

impl HabitState {
    pub(crate) fn new(habits: Habits, seed: u64, users: usize, leaves: usize) -> HabitState {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x6861_6269_7473);
        let sites = sites(leaves);
        let site_cdf = crate::cumulative((1..=sites.len()).map(|rank| (rank as f64).powf(-1.0)));
        let favourite_sites = (0..users)
            .map(|_| {
                let mut pick = || crate::sample(&site_cdf, &mut rng) as u16;
                [pick(), pick(), pick()]
            })
            .collect();
        HabitState {
            habits,
            rng,
            history: vec![Vec::new(); if habits.repeat_share > 0.0 { users } else { 0 }],
            favourite_sites,
            sites,
            site_cdf,
        }
    }

    /// What user `user`'s next search is for, given the world's fresh draw `fresh`; remembers it.
    pub(crate) fn pick(&mut self, user: usize, fresh: &QueryTruth) -> Pick {
        let h = self.habits;
        let repeat = self.rng.random::<f64>() < h.repeat_share;
        let navigational = self.rng.random::<f64>() < h.navigational_share;
        let picked = match self.history.get(user) {
            Some(own) if repeat && !own.is_empty() => {
                Some(own[self.rng.random_range(0..own.len())].clone())
            }
            _ if navigational => {
                let site = if self.rng.random::<f64>() < 0.75 {
                    let favourites = self.favourite_sites[user];
                    // Most users have one site they go to most.
                    let which = [0, 0, 0, 1, 1, 2][self.rng.random_range(0..6)];
                    favourites[which] as usize
                } else {
                    crate::sample(&self.site_cdf, &mut self.rng)
                };
                Some(self.sites[site].clone())
            }
            _ => None,
        };
        if let Some(own) = self.history.get_mut(user) {
            if own.len() >= HISTORY {
                own.remove(0);
            }
            own.push(picked.clone().unwrap_or_else(|| fresh.clone()));
        }
        picked.map_or(Pick::Fresh, Pick::Habit)
    }

    /// A misspelling of `text` when this session starts with one, and how long the user takes to retype it.
    pub(crate) fn typo(&mut self, text: &str) -> Option<(String, i64)> {
        if self.habits.typo_share <= 0.0 || self.rng.random::<f64>() >= self.habits.typo_share {
            return None;
        }
        let typo = misspell(text, &mut self.rng)?;
        let delay_ms = self.rng.random_range(20_000..180_000);
        Some((typo, delay_ms))
    }
}

/// Keys next to each other on a QWERTY keyboard, by row.
const ROWS: [&str; 3] = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];

fn neighbour(c: char, rng: &mut SmallRng) -> Option<char> {
    ROWS.iter().find_map(|row| {
        let at = row.find(c)?;
        let chars: Vec<char> = row.chars().collect();
        let left = at.checked_sub(1).map(|i| chars[i]);
        let right = chars.get(at + 1).copied();
        match (left, right) {
            (Some(l), Some(r)) => Some(if rng.random::<bool>() { l } else { r }),
            (l, r) => l.or(r),
        }
    })
}

/// One typo in a Latin-script query of 5+ characters: a letter dropped, doubled or replaced by a keyboard
/// neighbour, or two neighbouring letters swapped. Never the first letter (people rarely miss it).
pub fn misspell(text: &str, rng: &mut SmallRng) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 5 || !chars.iter().all(|c| c.is_ascii()) {
        return None;
    }
    let letters: Vec<usize> = (1..chars.len())
        .filter(|&i| chars[i].is_ascii_lowercase())
        .collect();
    if letters.is_empty() {
        return None;
    }
    let at = letters[rng.random_range(0..letters.len())];
    let mut out = chars.clone();
    match rng.random_range(0..4) {
        0 => {
            out.remove(at);
        }
        1 => out.insert(at, chars[at]),
        2 => out[at] = neighbour(chars[at], rng)?,
        _ => {
            let next = at + 1;
            if next >= chars.len() || chars[next] == chars[at] || !chars[next].is_ascii_lowercase()
            {
                out.remove(at);
            } else {
                out.swap(at, next);
            }
        }
    }
    let out: String = out.into_iter().collect();
    (out != text).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GeneratorConfig, World};
    use std::collections::{HashMap, HashSet};

    fn config(habits: Habits) -> GeneratorConfig {
        GeneratorConfig {
            searches: 6_000,
            users: 300,
            items: 500,
            queries: 5_000,
            habits,
            ..GeneratorConfig::default()
        }
    }

    /// (user, query) of every search that is not a typo, in time order, and the typo truths.
    fn searches(habits: Habits) -> (Vec<(String, String, String)>, Vec<TypoTruth>) {
        let mut out = Vec::new();
        let mut truths = Vec::new();
        World::new(config(habits)).events_with_truth(
            &mut |e, _| {
                if e.bhv_type == "search" {
                    out.push((e.user_id.clone(), e.raw_query.clone(), e.rn.clone()));
                }
            },
            &mut |t| truths.push(t),
        );
        (out, truths)
    }

    fn repeat_share(searches: &[(String, String, String)], typos: &HashSet<String>) -> f64 {
        let mut seen: HashMap<&str, HashSet<&str>> = HashMap::new();
        let (mut repeats, mut later) = (0, 0);
        for (user, query, rn) in searches {
            if typos.contains(rn) {
                continue;
            }
            let own = seen.entry(user).or_default();
            if !own.is_empty() {
                later += 1;
                repeats += usize::from(own.contains(query.as_str()));
            }
            own.insert(query);
        }
        repeats as f64 / later as f64
    }

    #[test]
    fn web_users_repeat_a_third_of_their_searches_and_shop_users_hardly_do() {
        let (web, web_typos) = searches(Habits::WEB);
        let typo_rns: HashSet<String> = web_typos.iter().map(|t| t.typo_rn.clone()).collect();
        let web_share = repeat_share(&web, &typo_rns);
        assert!((0.3..0.55).contains(&web_share), "web repeats {web_share}");
        let (shop, _) = searches(Habits::OFF);
        let shop_share = repeat_share(&shop, &HashSet::new());
        assert!(shop_share < 0.15, "shop repeats {shop_share}");
    }

    #[test]
    fn typos_come_with_their_truth_and_the_corrected_search_follows_within_minutes() {
        let mut events = Vec::new();
        let mut truths = Vec::new();
        World::new(config(Habits::WEB))
            .events_with_truth(&mut |e, _| events.push(e.clone()), &mut |t| truths.push(t));
        assert!(truths.len() > 50, "{} typos", truths.len());
        let by_rn: HashMap<&str, &algocenter_domain::behaviour::BehaviourEvent> = events
            .iter()
            .filter(|e| e.bhv_type == "search")
            .map(|e| (e.rn.as_str(), e))
            .collect();
        for t in &truths {
            let typo = by_rn[t.typo_rn.as_str()];
            let corrected = by_rn[t.corrected_rn.as_str()];
            assert_eq!(typo.raw_query, t.typo);
            assert_eq!(corrected.raw_query, t.intended);
            assert_ne!(t.typo, t.intended);
            assert_eq!(
                (typo.user_id.as_str(), corrected.user_id.as_str()),
                (t.user.as_str(), t.user.as_str())
            );
            let gap = corrected.bhv_time_ms - typo.bhv_time_ms;
            assert!((20_000..=180_000).contains(&gap), "{gap} ms");
            assert!(
                !events
                    .iter()
                    .any(|e| e.bhv_type == "click" && e.rn == t.typo_rn),
                "a typo gets no click"
            );
        }
        let clicked: HashSet<&str> = events
            .iter()
            .filter(|e| e.bhv_type == "click")
            .map(|e| e.rn.as_str())
            .collect();
        let corrected_clicked = truths
            .iter()
            .filter(|t| clicked.contains(t.corrected_rn.as_str()))
            .count();
        assert!(
            corrected_clicked * 3 > truths.len(),
            "corrections get clicks"
        );
    }

    #[test]
    fn navigational_queries_are_sites_people_come_back_to() {
        let (web, _) = searches(Habits::WEB);
        let sites: HashSet<String> = sites(32).into_iter().map(|q| q.text).collect();
        let navigational = web.iter().filter(|(_, q, _)| sites.contains(q)).count();
        let share = navigational as f64 / web.len() as f64;
        assert!((0.06..0.3).contains(&share), "navigational share {share}");
    }

    #[test]
    fn misspellings_are_one_typo_away() {
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..200 {
            let typo = misspell("sneakers", &mut rng).unwrap();
            assert_ne!(typo, "sneakers");
            assert!(typo.starts_with('s'));
            assert!((7..=9).contains(&typo.len()), "{typo}");
        }
        assert_eq!(misspell("连衣裙连衣裙", &mut rng), None);
        assert_eq!(misspell("abc", &mut rng), None);
    }
}
