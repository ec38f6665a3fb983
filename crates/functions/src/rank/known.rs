//! The items a served `rank` generation knows, one record each, built at load: a rerank looks a candidate's id
//! up once and every generator then reads the record (its inputs, its system features as of the end of the
//! window, and the model's values of the columns that depend on the item alone), where it used to look the id
//! up in several large maps once per generator. Columns that depend on the situation alone are computed once
//! per request; only the generators that read both sides run per candidate.

use std::collections::{HashMap, HashSet};

use super::encoding::{Encoding, model_value};
use super::facts::{ItemFacts, LoadedFacts};
use super::features::{Generators, Part, Row, Side, Situation};
use super::model::Candidate;

/// What the generation knows of one item.
pub(crate) struct KnownItem {
    /// Its attribute inputs.
    side: Side,
    /// Its system features; none for an item only its attributes are known of.
    facts: Option<ItemFacts>,
    /// The model's values of the columns of [`Part::Item`] generators (categorical ones encoded), in
    /// [`KnownItems::item_columns`] order.
    fixed: Vec<f32>,
}

/// By id. foldhash rather than SipHash: a rerank looks up every candidate (the ids come from requests:
/// foldhash's seeded hashing still resists chosen collisions).
type Records = HashMap<String, KnownItem, foldhash::fast::RandomState>;

pub(crate) struct KnownItems {
    records: Records,
    /// The columns of each part's generators.
    situation_columns: Vec<usize>,
    item_columns: Vec<usize>,
    both_columns: Vec<usize>,
    /// The generator of each of `both_columns`.
    both_generators: Vec<usize>,
}

impl KnownItems {
    /// Every item of `facts` (its system features or its attributes), whose system features move here.
    pub(crate) fn new(
        generators: &Generators,
        encodings: &[Option<Encoding>],
        facts: &mut LoadedFacts,
    ) -> KnownItems {
        let columns_of = |part: Part| -> Vec<usize> {
            (0..generators.specs.len())
                .filter(|&g| generators.part(g) == part)
                .flat_map(|g| generators.columns_of(g))
                .collect()
        };
        let (situation_columns, item_columns, both_columns) = (
            columns_of(Part::Situation),
            columns_of(Part::Item),
            columns_of(Part::Both),
        );
        let ids: HashSet<&String> = facts.facts.items.keys().chain(facts.items.keys()).collect();
        let mut records: Records = ids
            .into_iter()
            .map(|id| {
                let side = generators.item_side(id, None, &*facts);
                (
                    id.clone(),
                    KnownItem {
                        side,
                        facts: None,
                        fixed: Vec::new(),
                    },
                )
            })
            .collect();
        for (id, item_facts) in facts.facts.items.drain() {
            if let Some(record) = records.get_mut(&id) {
                record.facts = Some(item_facts);
            }
        }
        let mut generated = Row::default();
        let none = Side::default();
        for record in records.values_mut() {
            generated.clear(generators.columns());
            generators.compute_part(
                Part::Item,
                (&none, &record.side),
                &record.facts.as_ref(),
                &mut generated,
            );
            record.fixed = item_columns
                .iter()
                .map(|&c| model_value(&generated, encodings, c))
                .collect();
        }
        let both_generators = both_columns
            .iter()
            .map(|&c| generators.column_generator(c))
            .collect();
        KnownItems {
            records,
            situation_columns,
            item_columns,
            both_columns,
            both_generators,
        }
    }

    pub(crate) fn contains(&self, item: &str) -> bool {
        self.records.contains_key(item)
    }

    /// The model's input rows of one request's candidates. With `only`, just the generators it marks are
    /// resolved and computed (those the trees read): the others' columns hold values no tree reads.
    pub(crate) fn rows<'a>(
        &'a self,
        generators: &'a Generators,
        encodings: &'a [Option<Encoding>],
        facts: &'a LoadedFacts,
        situation: &Situation<'_>,
        only: Option<&'a [bool]>,
    ) -> Rows<'a> {
        let side = generators.situation_side_of(situation, facts, only);
        let mut generated = Row::default();
        generated.clear(generators.columns());
        generators.compute_part_of(
            Part::Situation,
            (&side, &Side::default()),
            &None::<&ItemFacts>,
            &mut generated,
            only,
        );
        let mut situation_values = vec![f32::NAN; generators.columns()];
        for &c in &self.situation_columns {
            situation_values[c] = model_value(&generated, encodings, c);
        }
        Rows {
            known: self,
            generators,
            encodings,
            facts,
            side,
            situation_values,
            generated,
            only,
        }
    }
}

/// The rows of one request: its situation resolved and its situation-only columns computed.
pub(crate) struct Rows<'a> {
    known: &'a KnownItems,
    generators: &'a Generators,
    encodings: &'a [Option<Encoding>],
    facts: &'a LoadedFacts,
    side: Side,
    /// Per column: the situation-only columns' values, NaN elsewhere.
    situation_values: Vec<f32>,
    generated: Row,
    /// The generators computed (all when `None`).
    only: Option<&'a [bool]>,
}

impl Rows<'_> {
    /// `candidate`'s generator columns as the model reads them, into `row`: [`model_value`] of every column
    /// of the row [`Generators::compute`] computes (the trainer's path), for the generators computed.
    pub(crate) fn fill(&mut self, candidate: &Candidate<'_>, row: &mut Vec<f32>) {
        let (known, only) = (self.known, self.only);
        let (generators, encodings) = (self.generators, self.encodings);
        row.clear();
        row.extend_from_slice(&self.situation_values);
        self.generated.clear(generators.columns());
        let record = known.records.get(candidate.id);
        let item_facts = record.and_then(|r| r.facts.as_ref());
        let resolved;
        let item_side = match (candidate.attributes, record) {
            (None, Some(record)) => {
                for (&c, &v) in known.item_columns.iter().zip(&record.fixed) {
                    row[c] = v;
                }
                &record.side
            }
            (attributes, _) => {
                resolved = generators.item_side(candidate.id, attributes, self.facts);
                generators.compute_part(
                    Part::Item,
                    (&self.side, &resolved),
                    &item_facts,
                    &mut self.generated,
                );
                for &c in &known.item_columns {
                    row[c] = model_value(&self.generated, encodings, c);
                }
                &resolved
            }
        };
        generators.compute_part_of(
            Part::Both,
            (&self.side, item_side),
            &item_facts,
            &mut self.generated,
            only,
        );
        for (&c, &g) in known.both_columns.iter().zip(&known.both_generators) {
            // A column of a generator not computed keeps its NaN: no tree reads it.
            if Generators::marked(only, g) {
                row[c] = model_value(&self.generated, encodings, c);
            }
        }
    }
}

#[cfg(test)]
mod tests;
