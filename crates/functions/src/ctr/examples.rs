//! Examples as the learners read them: the vocabulary that maps raw feature values to rows, the feature rows of
//! every user, item, query and context (built once, shared by the exposures that name them), and the
//! [`Examples`] trait every learner trains on.

use std::collections::HashMap;
use std::ops::Range;

use super::features::{FIRST_CONTEXT, RawFeature, Schema};
use super::log::{Exposure, Log, NO_QUERY};

/// One active feature of an example: its row, its field and its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Active {
    pub index: u32,
    pub field: u8,
    pub x: f32,
}

/// A set of examples a learner reads by index.
pub trait Examples: Sync {
    /// Writes the active features of example `i` into `out` (cleared first).
    fn features(&self, i: usize, out: &mut Vec<Active>);
    fn label(&self, i: usize) -> bool;
    /// The position index the example was shown at (0: not logged).
    fn position(&self, i: usize) -> u8;
}

/// Rows of raw features, each field's values weighted `1/√n` so that a field with many values (title words)
/// does not outweigh one with a single value.
pub(crate) fn activate(raw: &[RawFeature], row_of: &dyn Fn(u8, u64) -> u32, out: &mut Vec<Active>) {
    let mut counts = [0u32; 64];
    for (f, _) in raw {
        counts[usize::from(*f) & 63] += 1;
    }
    for &(f, key) in raw {
        out.push(Active {
            index: row_of(f, key),
            field: f,
            x: 1.0 / (counts[usize::from(f) & 63] as f32).sqrt(),
        });
    }
}

/// Feature values to rows: rows `0..fields` are the fields' out-of-vocabulary rows, then one row per value
/// seen at least `min_count` times, in a deterministic order.
pub(crate) struct Vocabulary {
    pub fields: usize,
    pub keys: Vec<(u8, u64)>,
    index: HashMap<(u8, u64), u32>,
}

impl Vocabulary {
    pub fn new(fields: usize, counts: HashMap<(u8, u64), u64>, min_count: u32) -> Vocabulary {
        let mut keys: Vec<(u8, u64)> = counts
            .into_iter()
            .filter(|&(_, n)| n >= u64::from(min_count))
            .map(|(k, _)| k)
            .collect();
        keys.sort_unstable();
        Vocabulary::from_keys(fields, keys)
    }

    pub fn from_keys(fields: usize, keys: Vec<(u8, u64)>) -> Vocabulary {
        let index = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, (fields + i) as u32))
            .collect();
        Vocabulary {
            fields,
            keys,
            index,
        }
    }

    pub fn rows(&self) -> usize {
        self.fields + self.keys.len()
    }

    pub fn row(&self, field: u8, key: u64) -> u32 {
        self.index
            .get(&(field, key))
            .copied()
            .unwrap_or(u32::from(field))
    }
}

/// Feature rows of every entity, flat.
#[derive(Default)]
pub(crate) struct Table {
    start: Vec<u32>,
    active: Vec<Active>,
}

impl Table {
    fn build<'r>(raw: impl Iterator<Item = &'r [RawFeature]>, vocabulary: &Vocabulary) -> Table {
        let mut t = Table {
            start: vec![0],
            active: Vec::new(),
        };
        let row_of = |f: u8, k: u64| vocabulary.row(f, k);
        for r in raw {
            activate(r, &row_of, &mut t.active);
            t.start.push(t.active.len() as u32);
        }
        t
    }

    fn get(&self, i: u32) -> &[Active] {
        let i = i as usize;
        &self.active[self.start[i] as usize..self.start[i + 1] as usize]
    }
}

/// A click as a user's history holds it: when it was made, on which page, the item's row in the history field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Chosen {
    time_ms: i64,
    rn: u32,
    row: u32,
}

/// The items each user chose (clicked exposures of the trained days) as a field of its own: a user with few
/// exposures borrows strength from the rows of the items they chose, which every user who chose them trains.
///
/// An example sees only the clicks **before** it (and not on its own page), never its own label: a fitted row
/// sees the days before it, as serving sees the days before the request; held-out rows see the trained days
/// only (`cutoff_ms`). Of those, the `limit` most recent distinct items in the vocabulary, most recent first.
pub(crate) struct Histories {
    pub field: u8,
    pub limit: usize,
    cutoff_ms: i64,
    /// User `u`'s clicks are `chosen[start[u]..start[u + 1]]`, oldest first.
    start: Vec<u32>,
    chosen: Vec<Chosen>,
}

impl Histories {
    /// The history of `user` for an exposure at `time_ms` on page `rn` (`None`: at serving, after every click).
    pub fn rows(&self, user: u32, at: Option<(i64, u32)>, out: &mut Vec<u32>) {
        out.clear();
        let u = user as usize;
        let Some(all) = self
            .start
            .get(u..u + 2)
            .map(|s| &self.chosen[s[0] as usize..s[1] as usize])
        else {
            return;
        };
        let before = at.map_or(self.cutoff_ms, |(t, _)| t.min(self.cutoff_ms));
        let end = all.partition_point(|c| c.time_ms < before);
        for c in all[..end].iter().rev() {
            if out.len() == self.limit {
                break;
            }
            if at.is_some_and(|(_, rn)| rn == c.rn) || out.contains(&c.row) {
                continue;
            }
            out.push(c.row);
        }
    }

    /// Writes `rows` as the history field's actives, weighted `1/√n` like every multi-valued field.
    pub fn activate(&self, rows: &[u32], out: &mut Vec<Active>) {
        let x = 1.0 / (rows.len().max(1) as f32).sqrt();
        out.extend(rows.iter().map(|&index| Active {
            index,
            field: self.field,
            x,
        }));
    }
}

/// The exposures of the window with the feature rows of what they name.
pub(crate) struct ExampleSet<'a> {
    pub exposures: &'a [Exposure],
    query_of_rn: &'a [u32],
    users: Table,
    items: Table,
    queries: Table,
    contexts: Table,
    pub history: Option<Histories>,
}

impl Examples for ExampleSet<'_> {
    fn features(&self, i: usize, out: &mut Vec<Active>) {
        out.clear();
        let e = &self.exposures[i];
        out.extend_from_slice(self.users.get(e.user));
        out.extend_from_slice(self.items.get(e.item));
        let q = self.query_of_rn[e.rn as usize];
        if q != NO_QUERY {
            out.extend_from_slice(self.queries.get(q));
        }
        out.extend_from_slice(self.contexts.get(e.context));
        if let Some(h) = &self.history {
            HISTORY_ROWS.with_borrow_mut(|rows| {
                h.rows(e.user, Some((e.time_ms, e.rn)), rows);
                h.activate(rows, out);
            });
        }
    }

    fn label(&self, i: usize) -> bool {
        self.exposures[i].label
    }

    fn position(&self, i: usize) -> u8 {
        self.exposures[i].position
    }
}

thread_local! {
    /// A history's rows while an example's features are written (the trait hands out no scratch space).
    static HISTORY_ROWS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Which history each example gets: the `limit` most recent items chosen among the exposures of `trained`,
/// never at or after `cutoff_ms` (the held-out days).
#[derive(Clone, Debug)]
pub(crate) struct HistoryPlan {
    pub limit: usize,
    pub trained: Range<usize>,
    pub cutoff_ms: i64,
}

/// What the examples are built from and what the served model keeps of it.
pub(crate) struct Built<'a> {
    pub set: ExampleSet<'a>,
    pub schema: Schema,
    pub vocabulary: Vocabulary,
}

/// Builds the schema and the vocabulary from the exposures of `fit` (never from the validation or held-out ones),
/// then the feature rows of every entity. `item_raw` are the items' raw features, by item id of the log.
pub(crate) fn build<'a>(
    log: &'a Log,
    item_raw: &[Vec<RawFeature>],
    fit: Range<usize>,
    min_count: u32,
    history: Option<HistoryPlan>,
) -> Built<'a> {
    let exposures = &log.exposures;
    let (mut user_n, mut item_n, mut query_n, mut context_n) = (
        vec![0u64; log.user_raw.len()],
        vec![0u64; item_raw.len()],
        vec![0u64; log.query_raw.len()],
        vec![0u64; log.context_pairs.len()],
    );
    for e in &exposures[fit.clone()] {
        user_n[e.user as usize] += 1;
        item_n[e.item as usize] += 1;
        let q = log.query_of_rn[e.rn as usize];
        if q != NO_QUERY {
            query_n[q as usize] += 1;
        }
        context_n[e.context as usize] += 1;
    }
    // Context keys by the number of fitted exposures carrying them.
    let mut key_counts: HashMap<&str, u64> = HashMap::new();
    for (pairs, &n) in log.context_pairs.iter().zip(&context_n) {
        for (k, _) in pairs {
            *key_counts.entry(k.as_str()).or_default() += n;
        }
    }
    let mut schema = Schema::from_key_counts(
        key_counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
        u64::from(min_count),
    );
    schema.history = history.as_ref().is_some_and(|h| h.limit > 0);
    let history_field = schema.history_field();
    let context_raw: Vec<Vec<RawFeature>> = log
        .context_pairs
        .iter()
        .map(|pairs| schema.context_features(pairs))
        .collect();

    let mut value_counts: HashMap<(u8, u64), u64> = HashMap::new();
    let mut count = |raw: &[RawFeature], n: u64| {
        if n > 0 {
            for &(f, k) in raw {
                *value_counts.entry((f, k)).or_default() += n;
            }
        }
    };
    for (raw, &n) in log.user_raw.iter().zip(&user_n) {
        count(std::slice::from_ref(raw), n);
    }
    for (raw, &n) in item_raw.iter().zip(&item_n) {
        count(raw, n);
    }
    for (raw, &n) in log.query_raw.iter().zip(&query_n) {
        count(raw, n);
    }
    for (raw, &n) in context_raw.iter().zip(&context_n) {
        count(raw, n);
    }
    // A chosen item's history row is in the vocabulary when it was chosen `min_count` times in the fitted days.
    let history_key = |item: u32| item_raw[item as usize].first().map_or(0, |&(_, k)| k);
    if let Some(field) = history_field {
        for e in exposures[fit.clone()].iter().filter(|e| e.label) {
            *value_counts
                .entry((field, history_key(e.item)))
                .or_default() += 1;
        }
    }
    let vocabulary = Vocabulary::new(schema.fields(), value_counts, min_count);
    debug_assert!(vocabulary.fields >= FIRST_CONTEXT as usize);
    let history = history_field.zip(history).map(|(field, plan)| {
        let mut by_user: Vec<(u32, Chosen)> = exposures[plan.trained.clone()]
            .iter()
            // A click counts from when it was made: the exposure it labels may be up to the attribution window
            // older, and an example between the two must not see it.
            .filter(|e| e.label && e.clicked_ms() < plan.cutoff_ms)
            .map(|e| {
                let row = vocabulary.row(field, history_key(e.item));
                let chosen = Chosen {
                    time_ms: e.clicked_ms(),
                    rn: e.rn,
                    row,
                };
                (e.user, chosen)
            })
            // Rare items share the out-of-vocabulary row, which says nothing about the user.
            .filter(|(_, c)| c.row != u32::from(field))
            .collect();
        by_user.sort_unstable();
        let mut start = vec![0u32; log.user_raw.len() + 1];
        for (u, _) in &by_user {
            start[*u as usize + 1] += 1;
        }
        for u in 0..log.user_raw.len() {
            start[u + 1] += start[u];
        }
        Histories {
            field,
            limit: plan.limit,
            cutoff_ms: plan.cutoff_ms,
            start,
            chosen: by_user.into_iter().map(|(_, c)| c).collect(),
        }
    });

    let set = ExampleSet {
        exposures,
        query_of_rn: &log.query_of_rn,
        users: Table::build(log.user_raw.iter().map(std::slice::from_ref), &vocabulary),
        items: Table::build(item_raw.iter().map(Vec::as_slice), &vocabulary),
        queries: Table::build(log.query_raw.iter().map(Vec::as_slice), &vocabulary),
        contexts: Table::build(context_raw.iter().map(Vec::as_slice), &vocabulary),
        history,
    };
    Built {
        set,
        schema,
        vocabulary,
    }
}

/// The exposures of `range` cut into runs of one result page (the same `rn`).
pub(crate) fn pages(exposures: &[Exposure], range: Range<usize>) -> Vec<Range<u32>> {
    let mut out = Vec::new();
    let mut start = range.start;
    for i in range.clone() {
        if i + 1 == range.end || exposures[i + 1].rn != exposures[i].rn {
            out.push(start as u32..i as u32 + 1);
            start = i + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::features::{ITEM, key, user_feature};
    use super::*;

    #[test]
    fn the_vocabulary_keeps_frequent_values_in_a_fixed_order() {
        let counts: HashMap<(u8, u64), u64> = [((1, 9), 5), ((0, 7), 9), ((1, 3), 4), ((0, 2), 5)]
            .into_iter()
            .collect();
        let v = Vocabulary::new(8, counts, 5);
        assert_eq!(v.keys, vec![(0, 2), (0, 7), (1, 9)]);
        assert_eq!(v.row(0, 2), 8);
        assert_eq!(v.row(1, 9), 10);
        assert_eq!(v.row(1, 3), 1, "rare: the field's out-of-vocabulary row");
        assert_eq!(v.rows(), 11);
    }

    /// A log of one user by hand: `(rn, item, time, clicked)` per exposure, in time order; a click comes 1 ms
    /// after its exposure.
    fn log_of(rows: &[(u32, u32, i64, bool)]) -> (Log, Vec<Vec<RawFeature>>) {
        let mut log = Log::default();
        log.user_raw.push(user_feature("u"));
        log.context_pairs.push(Vec::new());
        log.query_of_rn = vec![NO_QUERY; 16];
        for &(rn, item, time_ms, label) in rows {
            log.exposures.push(Exposure {
                rn,
                item,
                user: 0,
                context: 0,
                time_ms,
                position: 1,
                label,
                click_delay_ms: u32::from(label),
            });
        }
        let items = (0..8)
            .map(|i| vec![(ITEM, key(ITEM, &format!("i{i}")))])
            .collect();
        (log, items)
    }

    /// The history exposure `i` of `log` is trained with.
    fn history_at(h: &Histories, log: &Log, i: usize) -> Vec<u32> {
        let e = &log.exposures[i];
        let mut rows = Vec::new();
        h.rows(e.user, Some((e.time_ms, e.rn)), &mut rows);
        rows
    }

    #[test]
    fn a_history_holds_earlier_clicks_only_never_the_examples_own() {
        let (log, items) = log_of(&[
            (0, 0, 10, true),
            (1, 1, 20, true),
            (2, 2, 30, true),
            (2, 3, 31, false),
            (3, 1, 40, true),
            (4, 4, 50, true),
            // Held out (from 100 on): its own click must not reach any history.
            (5, 5, 100, true),
        ]);
        let plan = HistoryPlan {
            limit: 3,
            trained: 0..6,
            cutoff_ms: 100,
        };
        let built = build(&log, &items, 0..6, 1, Some(plan));
        let h = built.set.history.as_ref().unwrap();
        let row = |i: u32| built.vocabulary.row(h.field, key(ITEM, &format!("i{i}")));
        let of = |i: usize| history_at(h, &log, i);
        assert_eq!(of(0), Vec::<u32>::new(), "nothing before the first click");
        assert_eq!(of(2), [row(1), row(0)], "the earlier clicks, not its own");
        assert_eq!(of(3), [row(1), row(0)], "not the click on its own page");
        assert_eq!(of(4), [row(2), row(1), row(0)]);
        assert_eq!(
            of(5),
            [row(1), row(2), row(0)],
            "an item chosen twice counts once"
        );
        assert_eq!(
            of(6),
            [row(4), row(1), row(2)],
            "held out: the trained days, the most recent 3"
        );
        let mut rows = Vec::new();
        h.rows(0, None, &mut rows);
        assert_eq!(rows, of(6), "serving sees what the held-out days see");
        // The field, its rows and the examples' features.
        assert_eq!(Some(h.field), built.schema.history_field());
        assert_eq!(built.schema.fields(), FIRST_CONTEXT as usize + 1);
        let mut features = Vec::new();
        built.set.features(4, &mut features);
        let history: Vec<&Active> = features.iter().filter(|a| a.field == h.field).collect();
        assert_eq!(history.len(), 3);
        assert!(
            history
                .iter()
                .all(|a| (a.x - (1.0f32 / 3.0).sqrt()).abs() < 1e-6)
        );
        // Items never clicked in the fitted days are not in its vocabulary.
        assert_eq!(row(3), u32::from(h.field));
        assert_eq!(row(5), u32::from(h.field));
    }

    #[test]
    fn a_click_counts_from_when_it_was_made_not_from_its_exposure() {
        let (mut log, items) = log_of(&[
            (0, 0, 10, true),
            (1, 1, 20, false),
            (2, 2, 30, true),
            (3, 3, 40, false),
        ]);
        // Item 0 shown at 10 was clicked at 25 (within the attribution window), after page 1 was shown.
        log.exposures[0].click_delay_ms = 15;
        // Item 2 shown at 30 was clicked at 120, after the cutoff: no history holds it.
        log.exposures[2].click_delay_ms = 90;
        let plan = HistoryPlan {
            limit: 3,
            trained: 0..4,
            cutoff_ms: 100,
        };
        let built = build(&log, &items, 0..4, 1, Some(plan));
        let h = built.set.history.as_ref().unwrap();
        let row = |i: u32| built.vocabulary.row(h.field, key(ITEM, &format!("i{i}")));
        let of = |i: usize| history_at(h, &log, i);
        assert_eq!(
            of(1),
            Vec::<u32>::new(),
            "shown at 20, before the click at 25"
        );
        assert_eq!(of(2), [row(0)]);
        assert_eq!(of(3), [row(0)], "the click at 120 is after the example");
        let mut rows = Vec::new();
        h.rows(0, None, &mut rows);
        assert_eq!(
            rows,
            [row(0)],
            "nor does serving see a click after the cutoff"
        );
    }

    #[test]
    fn without_a_plan_there_is_no_history_field() {
        let (log, items) = log_of(&[(0, 0, 10, true), (1, 1, 20, false)]);
        let built = build(&log, &items, 0..2, 1, None);
        assert!(built.set.history.is_none());
        assert_eq!(built.schema.history_field(), None);
        assert_eq!(built.schema.fields(), FIRST_CONTEXT as usize);
    }
}
