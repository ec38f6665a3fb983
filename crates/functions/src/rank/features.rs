//! The generators of a `feature_generator` resource, computed: one example (a search's situation and one
//! candidate item) becomes one value per output column, the same way in training and in serving.
//!
//! Inputs are resolved once per side: the situation's (user, query, context) once per search, the item's
//! attributes once per item, and only the time-dependent system features (an item's recent exposures and clicks,
//! the queries it was clicked for, a user's recent behaviour) per example, through [`Facts`], which the trainer
//! answers as of the example's day and the served model as of its training.
//!
//! A numeric generator (`raw`, `lookup`, `sequence`, the ratio methods of `overlap`) gives a number (NaN when an
//! input is missing). A categorical one (`id`, `combo`, the word methods of `overlap`) gives hashed keys, which
//! the model turns into numbers by target statistics (see [`super::encoding`]).

use algocenter_domain::feature_generator::{Input, Kind, MAX_INPUTS, Source, Spec, system_feature};
use serde_json::{Map, Value};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::query::{normalise, terms};

/// Most keys a categorical generator gives one example (a combo of multi-valued inputs is a cross product).
pub const MAX_KEYS: usize = 16;
/// Separator of multi-valued strings in OpenSearch's feature configuration (ASCII 29).
pub const MULTI_VALUE_SEPARATOR: char = '\u{1d}';

/// The item system features that change with time, as numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Exposures.
    Pv,
    /// Clicks.
    Ipv,
    /// Click-through rate, smoothed.
    Ctr,
}

/// The item system maps: what an item was clicked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ClickMap {
    QueryScore,
    QueryCtr,
    TermScore,
    TermCtr,
}

/// Days of the `system_all_nid_*` counters.
pub const COUNTER_DAYS: [u32; 3] = [1, 7, 30];

fn counter_of(name: &str) -> Option<(Counter, usize)> {
    let rest = name.strip_prefix("system_all_nid_")?;
    let (counter, days) = rest.rsplit_once('_')?;
    let counter = match counter {
        "pv" => Counter::Pv,
        "ipv" => Counter::Ipv,
        "ctr" => Counter::Ctr,
        _ => return None,
    };
    let days: u32 = days.parse().ok()?;
    Some((counter, COUNTER_DAYS.iter().position(|&d| d == days)?))
}

fn click_map_of(name: &str) -> Option<ClickMap> {
    match name {
        "system_query_score_decay" => Some(ClickMap::QueryScore),
        "system_query_ctr_decay" => Some(ClickMap::QueryCtr),
        "system_qterm_score_decay" => Some(ClickMap::TermScore),
        "system_qterm_ctr_decay" => Some(ClickMap::TermCtr),
        _ => None,
    }
}

/// What the time-dependent system features are at the example's time.
pub trait Facts {
    /// `counter` of `item` over the last `COUNTER_DAYS[days]` days.
    fn counter(&self, item: &str, counter: Counter, days: usize) -> Option<f64>;
    /// The value of `key` (a normalised query or term, hashed by [`text_key`]) in `item`'s click map.
    fn click_map(&self, item: &str, map: ClickMap, key: u64) -> Option<f64>;
    /// Whether the item has any click map (a lookup of a missing key is then 0, not missing).
    fn has_click_map(&self, item: &str) -> bool;
    /// `user`'s most recent items (oldest first): clicked, or bought with `buys`.
    fn sequence(&self, user: &str, buys: bool) -> &[String];
    fn item_attribute(&self, item: &str, name: &str) -> Option<&Value>;
    fn user_attribute(&self, user: &str, name: &str) -> Option<&Value>;
}

/// The time-dependent system features of the one item an example scores. The served model keeps them in the
/// item's record (no lookup by id per generator); the trainer answers through [`Facts`] ([`OfItem`]).
pub trait CandidateFacts {
    /// See [`Facts::counter`].
    fn counter(&self, counter: Counter, days: usize) -> Option<f64>;
    /// See [`Facts::click_map`].
    fn click_map(&self, map: ClickMap, key: u64) -> Option<f64>;
    /// See [`Facts::has_click_map`].
    fn has_click_map(&self) -> bool;
}

/// [`Facts`] about one item.
pub struct OfItem<'a> {
    pub facts: &'a dyn Facts,
    pub item: &'a str,
}

impl CandidateFacts for OfItem<'_> {
    fn counter(&self, counter: Counter, days: usize) -> Option<f64> {
        self.facts.counter(self.item, counter, days)
    }

    fn click_map(&self, map: ClickMap, key: u64) -> Option<f64> {
        self.facts.click_map(self.item, map, key)
    }

    fn has_click_map(&self) -> bool {
        self.facts.has_click_map(self.item)
    }
}

/// The key of a normalised text (a query or a term), as click maps and lookups use it.
pub fn text_key(normalised: &str) -> u64 {
    xxh3_64_with_seed(normalised.as_bytes(), 0x7465_7874)
}

fn discrete_key(s: &str) -> u64 {
    xxh3_64_with_seed(s.as_bytes(), 0x6964)
}

/// A text as overlap compares it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Text {
    pub normalised: String,
    /// Distinct term keys, sorted.
    pub terms: Vec<u64>,
}

impl Text {
    pub fn new(raw: &str) -> Text {
        let normalised = normalise(raw);
        let mut keys: Vec<u64> = terms(&normalised).iter().map(|t| text_key(t)).collect();
        keys.sort_unstable();
        keys.dedup();
        Text {
            normalised,
            terms: keys,
        }
    }
}

/// The search an example belongs to.
#[derive(Clone, Debug, Default)]
pub struct Situation<'a> {
    pub user: &'a str,
    pub query: &'a str,
    pub context: &'a [(String, String)],
}

/// An input's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    Missing,
    Numbers(Vec<f64>),
    /// Discrete values, hashed.
    Keys(Vec<u64>),
    Text(Text),
    /// `k:v` pairs: the key's [`text_key`] and the value.
    Map(Vec<(u64, f64)>),
    /// Resolved per example through [`Facts`].
    Counter(Counter, usize),
    ClickMap(ClickMap),
}

/// What a generator wants an input as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Keys,
    Numbers,
    Text,
    Map,
    Sequence,
}

fn want(kind: Kind, index: usize) -> Want {
    match (kind, index) {
        (Kind::Raw, _) => Want::Numbers,
        (Kind::Lookup, 0) => Want::Map,
        (Kind::Overlap, _) => Want::Text,
        (Kind::Sequence, 0) => Want::Sequence,
        _ => Want::Keys,
    }
}

fn numbers_of(value: &Value) -> Vec<f64> {
    match value {
        Value::Number(n) => n.as_f64().into_iter().collect(),
        Value::Bool(b) => vec![f64::from(u8::from(*b))],
        Value::String(s) => s
            .split([MULTI_VALUE_SEPARATOR, ','])
            .filter_map(|p| p.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .collect(),
        Value::Array(a) => a.iter().flat_map(numbers_of).collect(),
        _ => Vec::new(),
    }
}

fn strings_of(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.extend(
            s.split(MULTI_VALUE_SEPARATOR)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string),
        ),
        Value::Number(n) => out.push(n.to_string()),
        Value::Bool(b) => out.push(b.to_string()),
        Value::Array(a) => a.iter().for_each(|v| strings_of(v, out)),
        _ => {}
    }
}

fn map_of(value: &Value) -> Vec<(u64, f64)> {
    let mut out = Vec::new();
    match value {
        Value::Object(o) => {
            for (k, v) in o {
                if let Some(x) = numbers_of(v).first() {
                    out.push((text_key(&normalise(k)), *x));
                }
            }
        }
        other => {
            let mut entries = Vec::new();
            strings_of(other, &mut entries);
            for e in entries {
                if let Some((k, v)) = e.rsplit_once(':')
                    && let Ok(x) = v.trim().parse::<f64>()
                {
                    out.push((text_key(&normalise(k)), x));
                }
            }
        }
    }
    out
}

/// A document attribute (or context value) as `want`.
fn from_value(value: Option<&Value>, want: Want) -> Resolved {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Resolved::Missing;
    };
    match want {
        Want::Numbers => {
            let n = numbers_of(value);
            if n.is_empty() {
                Resolved::Missing
            } else {
                Resolved::Numbers(n)
            }
        }
        Want::Keys => {
            let mut s = Vec::new();
            strings_of(value, &mut s);
            if s.is_empty() {
                Resolved::Missing
            } else {
                Resolved::Keys(s.iter().map(|x| discrete_key(x)).collect())
            }
        }
        Want::Text => {
            let mut s = Vec::new();
            strings_of(value, &mut s);
            if s.is_empty() {
                Resolved::Missing
            } else {
                Resolved::Text(Text::new(&s.join(" ")))
            }
        }
        Want::Map => {
            let m = map_of(value);
            if m.is_empty() {
                Resolved::Missing
            } else {
                Resolved::Map(m)
            }
        }
        Want::Sequence => {
            let mut s = Vec::new();
            strings_of(value, &mut s);
            if s.is_empty() {
                Resolved::Missing
            } else {
                Resolved::Keys(s.iter().map(|x| discrete_key(x)).collect())
            }
        }
    }
}

/// The query as `want`: the whole normalised query, or its terms.
fn query_value(query: &str, whole: bool, want: Want) -> Resolved {
    let normalised = normalise(query);
    if normalised.is_empty() {
        return Resolved::Missing;
    }
    match want {
        Want::Text if whole => Resolved::Text(Text::new(query)),
        Want::Text => Resolved::Text(Text::new(query)),
        Want::Keys if whole => Resolved::Keys(vec![text_key(&normalised)]),
        Want::Keys => {
            let mut keys: Vec<u64> = terms(&normalised).iter().map(|t| text_key(t)).collect();
            keys.sort_unstable();
            keys.dedup();
            Resolved::Keys(keys)
        }
        Want::Numbers => Resolved::Numbers(vec![terms(&normalised).len() as f64]),
        Want::Map | Want::Sequence => Resolved::Missing,
    }
}

/// Which side of an example a generator reads: its columns change only with the situation, only with the item,
/// or with both. The served model computes the first once per request and keeps the second per item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Situation,
    Item,
    Both,
}

/// The generators of a model, ready to compute examples.
#[derive(Clone, Debug)]
pub struct Generators {
    pub specs: Vec<Spec>,
    /// Per generator: its first column and its number of columns.
    first_column: Vec<usize>,
    /// Per generator: its first input in a [`Side`].
    first_input: Vec<usize>,
    widths: Vec<usize>,
    columns: usize,
    parts: Vec<Part>,
    /// Per overlap generator: the intersection it shares with the overlaps of the same two inputs.
    intersection: Vec<Option<usize>>,
    intersections: usize,
    /// Per lookup generator: the values found it shares with the lookups of the same two inputs.
    lookup: Vec<Option<usize>>,
    lookups: usize,
}

/// The values of one side (the situation's or the item's) for every generator input.
/// Generator after generator, in one allocation: a candidate's generators read its item's side in order, and
/// the items are random, so one block per item rather than one per generator.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Side(Vec<Resolved>);

/// One example's output: numbers by column, and the keys of categorical columns.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub numbers: Vec<f32>,
    /// Per column: keys (empty for numeric columns and missing values).
    pub keys: Vec<Vec<u64>>,
    /// The overlaps' intersections of this example, and whether each is computed yet (kept for their capacity).
    intersections: Vec<(bool, Intersection)>,
    /// The lookups' values found, and whether each is looked up yet.
    lookups: Vec<(bool, Option<Found>)>,
}

impl Row {
    /// Every column missing, for `columns` columns.
    pub fn clear(&mut self, columns: usize) {
        self.numbers.clear();
        self.numbers.resize(columns, f32::NAN);
        self.keys.resize_with(columns, Vec::new);
        self.keys.iter_mut().for_each(Vec::clear);
    }
}

impl Generators {
    pub fn new(specs: Vec<Spec>) -> Generators {
        let mut first_column = Vec::with_capacity(specs.len());
        let mut first_input = Vec::with_capacity(specs.len());
        let mut inputs = 0;
        let mut widths = Vec::with_capacity(specs.len());
        let mut columns = 0;
        let mut parts = Vec::with_capacity(specs.len());
        let mut intersection = Vec::with_capacity(specs.len());
        let mut lookup = Vec::with_capacity(specs.len());
        let (mut overlaps, mut lookups): (Vec<&[Input]>, Vec<&[Input]>) = (Vec::new(), Vec::new());
        // The index of `inputs` among those `seen`, which it joins if new.
        fn share<'a>(seen: &mut Vec<&'a [Input]>, inputs: &'a [Input]) -> usize {
            seen.iter().position(|s| *s == inputs).unwrap_or_else(|| {
                seen.push(inputs);
                seen.len() - 1
            })
        }
        for s in &specs {
            first_input.push(inputs);
            inputs += s.inputs.len();
            first_column.push(columns);
            widths.push(s.columns().len());
            columns += s.columns().len();
            let item = s.inputs.iter().any(|i| i.source == Source::Item);
            let situation = s.inputs.iter().any(|i| i.source != Source::Item);
            parts.push(match (situation, item) {
                (true, true) => Part::Both,
                (false, true) => Part::Item,
                _ => Part::Situation,
            });
            intersection.push((s.kind == Kind::Overlap).then(|| share(&mut overlaps, &s.inputs)));
            lookup.push((s.kind == Kind::Lookup).then(|| share(&mut lookups, &s.inputs)));
        }
        let (intersections, lookups) = (overlaps.len(), lookups.len());
        Generators {
            specs,
            first_column,
            first_input,
            widths,
            columns,
            parts,
            intersection,
            intersections,
            lookup,
            lookups,
        }
    }

    /// The side generator `g` reads.
    pub fn part(&self, g: usize) -> Part {
        self.parts[g]
    }

    /// The columns of generator `g`.
    pub fn columns_of(&self, g: usize) -> std::ops::Range<usize> {
        self.first_column[g]..self.first_column[g] + self.widths[g]
    }

    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        self.specs.iter().flat_map(Spec::columns).collect()
    }

    /// Whether column `c` is categorical, and its generator.
    pub fn column_generator(&self, c: usize) -> usize {
        self.first_column.partition_point(|&f| f <= c) - 1
    }

    pub fn is_categorical(&self, c: usize) -> bool {
        let s = &self.specs[self.column_generator(c)];
        s.kind.is_categorical(s.method)
    }

    fn resolve(
        &self,
        spec: &Spec,
        input: &Input,
        want: Want,
        situation: &Situation<'_>,
        item: Option<(&str, Option<&Map<String, Value>>)>,
        facts: &dyn Facts,
    ) -> Resolved {
        if let Some((source, _)) = system_feature(&input.name) {
            return match (source, input.name.as_str()) {
                (Source::Item, "system_item_id") => match item {
                    Some((id, _)) => from_value(Some(&Value::from(id)), want),
                    None => Resolved::Missing,
                },
                (Source::Item, name) => {
                    if let Some((c, d)) = counter_of(name) {
                        Resolved::Counter(c, d)
                    } else if let Some(m) = click_map_of(name) {
                        Resolved::ClickMap(m)
                    } else {
                        Resolved::Missing
                    }
                }
                (Source::User, "system_user_id") if !situation.user.is_empty() => {
                    from_value(Some(&Value::from(situation.user)), want)
                }
                (Source::User, "system_raw_q_ultra") => query_value(situation.query, true, want),
                (Source::User, "system_raw_q_terms") => query_value(situation.query, false, want),
                (Source::User, "system_user_click_seq") => {
                    sequence_keys(spec, facts.sequence(situation.user, false), facts)
                }
                (Source::User, "system_user_buy_seq") => {
                    sequence_keys(spec, facts.sequence(situation.user, true), facts)
                }
                _ => Resolved::Missing,
            };
        }
        match input.source {
            Source::Item => match item {
                Some((id, attributes)) => {
                    let value = match attributes {
                        Some(a) => a.get(&input.name),
                        None => facts.item_attribute(id, &input.name),
                    };
                    from_value(value, want)
                }
                None => Resolved::Missing,
            },
            Source::User => from_value(facts.user_attribute(situation.user, &input.name), want),
            Source::Context => {
                let value = situation
                    .context
                    .iter()
                    .find(|(k, _)| *k == input.name)
                    .map(|(_, v)| Value::from(v.as_str()));
                match (want, value) {
                    // A context value that reads as a number is one.
                    (Want::Numbers, Some(Value::String(s))) => match s.trim().parse::<f64>() {
                        Ok(x) if x.is_finite() => Resolved::Numbers(vec![x]),
                        _ => Resolved::Missing,
                    },
                    (w, v) => from_value(v.as_ref(), w),
                }
            }
            Source::Query => match input.name.as_str() {
                "raw" => query_value(situation.query, true, want),
                "terms" => query_value(situation.query, false, want),
                "length" => query_value(situation.query, false, Want::Numbers),
                _ => Resolved::Missing,
            },
        }
    }

    /// Whether `only` marks generator `g` (every generator is marked without `only`).
    pub fn marked(only: Option<&[bool]>, g: usize) -> bool {
        only.is_none_or(|o| o.get(g).copied().unwrap_or(true))
    }

    /// The situation's inputs (user, query, context); item inputs stay `Missing` here.
    pub fn situation_side(&self, situation: &Situation<'_>, facts: &dyn Facts) -> Side {
        self.situation_side_of(situation, facts, None)
    }

    /// [`Generators::situation_side`] of the generators `only` marks (all when `None`); the others' inputs stay
    /// `Missing`. Serving resolves only what the trees read (a user's sequences cost a lookup per item).
    pub fn situation_side_of(
        &self,
        situation: &Situation<'_>,
        facts: &dyn Facts,
        only: Option<&[bool]>,
    ) -> Side {
        self.side(situation, None, facts, |g, s| {
            s != Source::Item && Generators::marked(only, g)
        })
    }

    /// An item's inputs; `attributes` given by a request override what `facts` know.
    pub fn item_side(
        &self,
        id: &str,
        attributes: Option<&Map<String, Value>>,
        facts: &dyn Facts,
    ) -> Side {
        self.side(
            &Situation::default(),
            Some((id, attributes)),
            facts,
            |_, s| s == Source::Item,
        )
    }

    fn side(
        &self,
        situation: &Situation<'_>,
        item: Option<(&str, Option<&Map<String, Value>>)>,
        facts: &dyn Facts,
        mine: impl Fn(usize, Source) -> bool,
    ) -> Side {
        Side(
            self.specs
                .iter()
                .enumerate()
                .flat_map(|(g, s)| {
                    s.inputs
                        .iter()
                        .enumerate()
                        .map(move |(i, input)| (g, s, i, input))
                })
                .map(|(g, s, i, input)| {
                    if mine(g, input.source) {
                        self.resolve(s, input, want(s.kind, i), situation, item, facts)
                    } else {
                        Resolved::Missing
                    }
                })
                .collect(),
        )
    }

    /// Computes one example into `row` (resized to the columns).
    pub fn compute(
        &self,
        situation: (&Situation<'_>, &Side),
        item: (&str, &Side),
        facts: &dyn Facts,
        row: &mut Row,
    ) {
        let (_, situation_side) = situation;
        let (item_id, item_side) = item;
        row.clear(self.columns);
        let facts = OfItem {
            facts,
            item: item_id,
        };
        for part in [Part::Situation, Part::Item, Part::Both] {
            self.compute_part(part, (situation_side, item_side), &facts, row);
        }
    }

    /// Computes the columns of the generators of `part` into `row` (cleared by the caller; other columns are
    /// left as they are). A column depends on its generator's inputs only, so the parts computed apart give
    /// what [`Generators::compute`] gives.
    pub fn compute_part(
        &self,
        part: Part,
        sides: (&Side, &Side),
        facts: &dyn CandidateFacts,
        row: &mut Row,
    ) {
        self.compute_part_of(part, sides, facts, row, None);
    }

    /// [`Generators::compute_part`] for the generators `only` marks (all when `None`); the columns of the others
    /// are left as they are. Serving computes only what the trees read.
    pub fn compute_part_of(
        &self,
        part: Part,
        (situation_side, item_side): (&Side, &Side),
        facts: &dyn CandidateFacts,
        row: &mut Row,
        only: Option<&[bool]>,
    ) {
        // Generators that share an intersection or a lookup read the same inputs, so they are of the same part.
        row.intersections
            .resize_with(self.intersections, Default::default);
        row.intersections.iter_mut().for_each(|i| i.0 = false);
        row.lookups.resize_with(self.lookups, || (false, None));
        row.lookups.iter_mut().for_each(|l| l.0 = false);
        const MISSING: Resolved = Resolved::Missing;
        for (g, spec) in self.specs.iter().enumerate() {
            if self.parts[g] != part || !Generators::marked(only, g) {
                continue;
            }
            let mut inputs: [&Resolved; MAX_INPUTS] = [&MISSING; MAX_INPUTS];
            for (i, input) in spec.inputs.iter().enumerate() {
                inputs[i] = if input.source == Source::Item {
                    &item_side.0[self.first_input[g] + i]
                } else {
                    &situation_side.0[self.first_input[g] + i]
                };
            }
            let shared = match (self.intersection[g], self.lookup[g], inputs[0], inputs[1]) {
                (Some(slot), _, Resolved::Text(q), Resolved::Text(t)) => {
                    let (done, both) = &mut row.intersections[slot];
                    if !*done {
                        both.of(q, t);
                        *done = true;
                    }
                    Shared::Intersection(&*both)
                }
                (_, Some(slot), ..) => {
                    let (done, found) = &mut row.lookups[slot];
                    if !*done {
                        *found = Found::of(&inputs[..spec.inputs.len()], facts);
                        *done = true;
                    }
                    Shared::Found(found.as_ref())
                }
                _ => Shared::None,
            };
            let column = self.first_column[g];
            compute_one(
                spec,
                g,
                &inputs[..spec.inputs.len()],
                facts,
                shared,
                &mut row.numbers[column..column + self.widths[g]],
                &mut row.keys[column],
            );
        }
    }
}

mod compute;

pub use compute::{Found, Intersection};
use compute::{Shared, compute_one, sequence_keys};

#[cfg(test)]
mod tests;
