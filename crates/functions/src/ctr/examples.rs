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

/// The exposures of the window with the feature rows of what they name.
pub(crate) struct ExampleSet<'a> {
    pub exposures: &'a [Exposure],
    query_of_rn: &'a [u32],
    users: Table,
    items: Table,
    queries: Table,
    contexts: Table,
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
    }

    fn label(&self, i: usize) -> bool {
        self.exposures[i].label
    }

    fn position(&self, i: usize) -> u8 {
        self.exposures[i].position
    }
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
) -> Built<'a> {
    let exposures = &log.exposures;
    let (mut user_n, mut item_n, mut query_n, mut context_n) = (
        vec![0u64; log.user_raw.len()],
        vec![0u64; item_raw.len()],
        vec![0u64; log.query_raw.len()],
        vec![0u64; log.context_pairs.len()],
    );
    for e in &exposures[fit] {
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
    let schema = Schema::from_key_counts(
        key_counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
        u64::from(min_count),
    );
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
    let vocabulary = Vocabulary::new(schema.fields(), value_counts, min_count);
    debug_assert!(vocabulary.fields >= FIRST_CONTEXT as usize);

    let set = ExampleSet {
        exposures,
        query_of_rn: &log.query_of_rn,
        users: Table::build(log.user_raw.iter().map(std::slice::from_ref), &vocabulary),
        items: Table::build(item_raw.iter().map(Vec::as_slice), &vocabulary),
        queries: Table::build(log.query_raw.iter().map(Vec::as_slice), &vocabulary),
        contexts: Table::build(context_raw.iter().map(Vec::as_slice), &vocabulary),
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
}
