//! The behaviour of the training window as exposures: each joined to its search (by `rn`) and labelled by the
//! positive behaviour that followed it.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use algocenter_domain::behaviour::BehaviourEvent;

use super::features::{MAX_CONTEXT, RawFeature, position_index, query_features, user_feature};

/// No search for this exposure's `rn`.
pub(crate) const NO_QUERY: u32 = u32::MAX;

/// Strings to dense ids.
#[derive(Default)]
pub(crate) struct Interner {
    pub ids: HashMap<String, u32>,
}

impl Interner {
    /// The id of `s`, and whether it is new.
    pub fn id(&mut self, s: &str) -> (u32, bool) {
        if let Some(&id) = self.ids.get(s) {
            return (id, false);
        }
        let id = self.ids.len() as u32;
        self.ids.insert(s.to_string(), id);
        (id, true)
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Exposure {
    pub rn: u32,
    pub item: u32,
    pub user: u32,
    pub context: u32,
    pub time_ms: i64,
    /// See [`position_index`]: 0 when not logged.
    pub position: u8,
    pub label: bool,
    /// How long after the exposure the click that labelled it came (0 when not clicked): a user's history must
    /// hold a click from when it was made, not from when its item was shown (up to the attribution window later).
    /// `u32` milliseconds cover the longest window (7 days) and keep the exposure at 32 bytes.
    pub click_delay_ms: u32,
}

impl Exposure {
    /// When the click that labelled this exposure was made (the exposure's time when not clicked).
    pub fn clicked_ms(&self) -> i64 {
        self.time_ms + i64::from(self.click_delay_ms)
    }
}

/// Everything read from the window, before features become rows.
#[derive(Default)]
pub(crate) struct Log {
    pub exposures: Vec<Exposure>,
    /// `(rn, item, time)` of positive behaviour.
    positives: Vec<(u32, u32, i64)>,
    /// Per `rn`: the query of its search.
    pub query_of_rn: Vec<u32>,
    pub rns: Interner,
    items: Interner,
    pub item_ids: Vec<String>,
    pub users: Interner,
    pub user_raw: Vec<RawFeature>,
    queries: Interner,
    pub query_raw: Vec<Vec<RawFeature>>,
    contexts: Interner,
    /// The last exposure's context and its id: the exposures of a page share theirs.
    last_context: Option<(Vec<(String, String)>, u32)>,
    /// Each distinct context's entries (at most `MAX_CONTEXT`).
    pub context_pairs: Vec<Vec<(String, String)>>,
}

impl Log {
    fn rn(&mut self, rn: &str) -> u32 {
        let (id, new) = self.rns.id(rn);
        if new {
            self.query_of_rn.push(NO_QUERY);
        }
        id
    }

    fn item(&mut self, item: &str) -> u32 {
        let (id, new) = self.items.id(item);
        if new {
            self.item_ids.push(item.to_string());
        }
        id
    }

    /// Takes in one event of the window.
    pub fn add(&mut self, e: &BehaviourEvent, positives: &HashSet<String>) {
        match e.bhv_type.as_str() {
            "search" => {
                let rn = self.rn(&e.rn);
                let (q, new) = self.queries.id(&e.raw_query);
                if new {
                    self.query_raw.push(query_features(&e.raw_query));
                }
                self.query_of_rn[rn as usize] = q;
            }
            // Behaviour on no item (or of a type this function does not read) labels nothing.
            _ if e.item_id.is_empty() => {}
            "expose" => {
                let rn = self.rn(&e.rn);
                let item = self.item(&e.item_id);
                let (user, new) = self.users.id(e.user());
                if new {
                    self.user_raw.push(user_feature(e.user()));
                }
                let context = match &self.last_context {
                    Some((last, id)) if *last == e.context => *id,
                    _ => {
                        let key: String = e
                            .context
                            .iter()
                            .map(|(k, v)| format!("{k}={v}\u{1}"))
                            .collect();
                        let (id, new) = self.contexts.id(&key);
                        if new {
                            self.context_pairs
                                .push(e.context.iter().take(MAX_CONTEXT).cloned().collect());
                        }
                        self.last_context = Some((e.context.clone(), id));
                        id
                    }
                };
                self.exposures.push(Exposure {
                    rn,
                    item,
                    user,
                    context,
                    time_ms: e.bhv_time_ms,
                    position: position_index(e.position),
                    label: false,
                    click_delay_ms: 0,
                });
            }
            t if positives.contains(t) => {
                let rn = self.rn(&e.rn);
                let item = self.item(&e.item_id);
                self.positives.push((rn, item, e.bhv_time_ms));
            }
            _ => {}
        }
    }

    /// Share of the clicks of `validation` (of known users) whose user clicked the same item among the exposures
    /// of `fit`: how much users choose their items again (apps, reorders, favourites), a property of the log.
    pub fn repeat_click_share(&self, fit: Range<usize>, validation: Range<usize>) -> f64 {
        let anonymous = user_feature("");
        let known = |e: &&Exposure| e.label && self.user_raw[e.user as usize] != anonymous;
        let clicked: HashSet<(u32, u32)> = self.exposures[fit]
            .iter()
            .filter(known)
            .map(|e| (e.user, e.item))
            .collect();
        let (mut again, mut clicks) = (0u64, 0u64);
        for e in self.exposures[validation].iter().filter(known) {
            clicks += 1;
            again += u64::from(clicked.contains(&(e.user, e.item)));
        }
        again as f64 / clicks.max(1) as f64
    }

    /// Labels every exposure and keeps one of each `(rn, item)`; then orders them by time.
    pub fn label(&mut self, attribution_ms: i64) {
        self.exposures
            .sort_unstable_by_key(|e| (e.rn, e.item, e.time_ms));
        self.exposures
            .dedup_by(|later, first| later.rn == first.rn && later.item == first.item);
        self.positives.sort_unstable();
        let mut p = 0;
        for e in &mut self.exposures {
            while p < self.positives.len()
                && (self.positives[p].0, self.positives[p].1) < (e.rn, e.item)
            {
                p += 1;
            }
            let mut q = p;
            while q < self.positives.len()
                && (self.positives[q].0, self.positives[q].1) == (e.rn, e.item)
            {
                let t = self.positives[q].2;
                if t >= e.time_ms && t <= e.time_ms + attribution_ms {
                    e.label = true;
                    e.click_delay_ms = u32::try_from(t - e.time_ms).unwrap_or(u32::MAX);
                    break;
                }
                q += 1;
            }
        }
        // `(rn, item)` is unique now, so the unstable sort gives the stable one's order without its buffer of
        // half the exposures (170 MB at 10 M).
        self.exposures
            .sort_unstable_by_key(|e| (e.time_ms, e.rn, e.item));
        self.positives = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_790_000_000_000;

    fn event(kind: &str, rn: &str, item: &str, at: i64) -> BehaviourEvent {
        BehaviourEvent {
            user_id: "u1".into(),
            imei: String::new(),
            biz_id: String::new(),
            trace_id: String::new(),
            rn: rn.into(),
            item_id: item.into(),
            item_type: "item".into(),
            bhv_type: kind.into(),
            bhv_time_ms: at,
            reach_time_ms: at,
            raw_query: if kind == "search" {
                "Red Dress".into()
            } else {
                String::new()
            },
            hits: None,
            position: (kind == "expose").then_some(1),
            context: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// `(rn, item)` → (clicked, has a query).
    type Labels = HashMap<(String, String), (bool, bool)>;

    /// Labels by `(rn, item)` after the hand-made events.
    fn labelled(events: &[BehaviourEvent]) -> (Log, Labels) {
        let positives: HashSet<String> = ["click", "buy"].iter().map(|s| s.to_string()).collect();
        let mut log = Log::default();
        for e in events {
            log.add(e, &positives);
        }
        log.label(30 * 60_000);
        let rns: HashMap<u32, String> = log.rns.ids.iter().map(|(k, &v)| (v, k.clone())).collect();
        let out = log
            .exposures
            .iter()
            .map(|e| {
                (
                    (rns[&e.rn].clone(), log.item_ids[e.item as usize].clone()),
                    (e.label, log.query_of_rn[e.rn as usize] != NO_QUERY),
                )
            })
            .collect();
        (log, out)
    }

    #[test]
    fn exposures_are_joined_to_their_search_and_later_clicks() {
        let minute = 60_000;
        let events = [
            event("search", "r1", "", T),
            event("expose", "r1", "a", T + 1),
            event("expose", "r1", "b", T + 1),
            event("expose", "r1", "c", T + 1),
            event("expose", "r1", "d", T + 1),
            // A click on a, a late click on b (outside the 30-minute window), a buy on c (a positive type), a
            // cart on d (not one).
            event("click", "r1", "a", T + 5_000),
            event("click", "r1", "b", T + 31 * minute),
            event("buy", "r1", "c", T + 10 * minute),
            event("cart", "r1", "d", T + 2 * minute),
            // A click without an exposure labels nothing and makes no example.
            event("click", "r1", "zz", T + 5_000),
            // An exposure whose search is not in the window, clicked: an example without a query.
            event("expose", "r2", "a", T + 2),
            event("click", "r2", "a", T + 3_000),
            // The same exposure logged twice, and a click before the exposure (clock skew) that does not count.
            event("click", "r3", "e", T),
            event("expose", "r3", "e", T + 10),
            event("expose", "r3", "e", T + 10),
        ];
        let (log, examples) = labelled(&events);
        assert_eq!(log.exposures.len(), 6, "{examples:?}");
        let label = |rn: &str, item: &str| examples[&(rn.to_string(), item.to_string())];
        assert_eq!(label("r1", "a"), (true, true));
        assert_eq!(label("r1", "b"), (false, true), "late click");
        assert_eq!(label("r1", "c"), (true, true), "buy is positive");
        assert_eq!(label("r1", "d"), (false, true), "cart is not");
        assert_eq!(label("r2", "a"), (true, false), "no search in the window");
        assert_eq!(
            label("r3", "e"),
            (false, false),
            "click before the exposure"
        );
        assert!(!examples.contains_key(&("r1".to_string(), "zz".to_string())));
        // Examples are in time order for the split.
        assert!(
            log.exposures
                .windows(2)
                .all(|w| w[0].time_ms <= w[1].time_ms)
        );
    }
}
