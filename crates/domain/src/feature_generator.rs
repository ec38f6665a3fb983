//! What a `feature_generator` resource means: each [`Generator`] read as a typed [`Spec`] (its kind, its inputs
//! with their sources, its options), and the system features the `rank` function computes itself.
//!
//! The kinds and their inputs follow OpenSearch's custom sort model feature configuration: `id`, `raw`, `combo`,
//! `lookup`, `overlap` and `sequence` (also spelled with a `_feature` suffix). Inputs name a feature and its
//! `Type`: `user` and `item` as documented, plus `context` (a key of the request's context map) and `query`
//! (`raw`, `terms` or `length` of the query) as extensions. Options are what the feature configuration calls
//! `method` (overlap), `combiner` (lookup), `value_dimension` (raw) and `sequence_length` (sequence).
//!
//! Checked once here, for CreateFunctionResource / UpdateFunctionResource and again for the trainer, so that a
//! resource that was accepted is one the trainer can compute.

use std::collections::BTreeSet;

use crate::resource::Generator;

/// Most inputs one generator takes (a combo of more values is all but unique per example).
pub const MAX_INPUTS: usize = 4;
/// Largest `value_dimension` of a raw generator.
pub const MAX_VALUE_DIMENSION: usize = 16;
/// Largest `sequence_length`.
pub const MAX_SEQUENCE_LENGTH: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A discrete value (string or integer) of one input.
    Id,
    /// A number of one input, as it is.
    Raw,
    /// The cross of several discrete inputs.
    Combo,
    /// The value a key (second input) has in a `k:v` map (first input).
    Lookup,
    /// Term overlap of a query-side (first) and a title-side (second) text.
    Overlap,
    /// How often the candidate's value (second input) occurs in a user's recent behaviour (first input).
    Sequence,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Id,
        Kind::Raw,
        Kind::Combo,
        Kind::Lookup,
        Kind::Overlap,
        Kind::Sequence,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Id => "id",
            Kind::Raw => "raw",
            Kind::Combo => "combo",
            Kind::Lookup => "lookup",
            Kind::Overlap => "overlap",
            Kind::Sequence => "sequence",
        }
    }

    /// `id` or `id_feature`.
    pub fn parse(s: &str) -> Option<Kind> {
        let short = s.strip_suffix("_feature").unwrap_or(s);
        Kind::ALL.into_iter().find(|k| k.as_str() == short)
    }

    /// The generator's output is a category (a hashed value) rather than a number.
    pub fn is_categorical(self, method: OverlapMethod) -> bool {
        match self {
            Kind::Id | Kind::Combo => true,
            Kind::Overlap => matches!(method, OverlapMethod::CommonWord | OverlapMethod::DiffWord),
            Kind::Raw | Kind::Lookup | Kind::Sequence => false,
        }
    }
}

/// Where an input's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Source {
    User,
    Item,
    Context,
    Query,
}

impl Source {
    pub const NAMES: [&'static str; 4] = ["user", "item", "context", "query"];

    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "user" => Some(Source::User),
            "item" => Some(Source::Item),
            "context" => Some(Source::Context),
            "query" => Some(Source::Query),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Source::NAMES[self as usize]
    }
}

/// What kind of value a feature holds, as far as a generator's inputs are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueShape {
    /// One or several discrete values (strings, integers).
    Discrete,
    /// A number.
    Number,
    /// `k:v` pairs.
    Map,
    /// A user's recent behaviour: item ids, newest last.
    Sequence,
    /// An attribute or context value whose shape is only known from the data.
    Any,
}

/// The system features `rank` computes, with their source and shape. `system_all_nid_*` are an item's
/// exposures (`pv`), clicks (`ipv`) and click-through rate over the last 1, 7 and 30 days of the window;
/// the `*_decay` maps are the queries (terms) an item was clicked for, with their click share or click-through rate.
pub const SYSTEM_FEATURES: &[(&str, Source, ValueShape)] = &[
    ("system_item_id", Source::Item, ValueShape::Discrete),
    ("system_all_nid_ctr_1", Source::Item, ValueShape::Number),
    ("system_all_nid_ctr_7", Source::Item, ValueShape::Number),
    ("system_all_nid_ctr_30", Source::Item, ValueShape::Number),
    ("system_all_nid_pv_1", Source::Item, ValueShape::Number),
    ("system_all_nid_pv_7", Source::Item, ValueShape::Number),
    ("system_all_nid_pv_30", Source::Item, ValueShape::Number),
    ("system_all_nid_ipv_1", Source::Item, ValueShape::Number),
    ("system_all_nid_ipv_7", Source::Item, ValueShape::Number),
    ("system_all_nid_ipv_30", Source::Item, ValueShape::Number),
    ("system_query_score_decay", Source::Item, ValueShape::Map),
    ("system_query_ctr_decay", Source::Item, ValueShape::Map),
    ("system_qterm_score_decay", Source::Item, ValueShape::Map),
    ("system_qterm_ctr_decay", Source::Item, ValueShape::Map),
    ("system_user_id", Source::User, ValueShape::Discrete),
    ("system_raw_q_ultra", Source::User, ValueShape::Discrete),
    ("system_raw_q_terms", Source::User, ValueShape::Discrete),
    ("system_user_click_seq", Source::User, ValueShape::Sequence),
    ("system_user_buy_seq", Source::User, ValueShape::Sequence),
];

/// Features of `Type` `query`.
pub const QUERY_FEATURES: &[(&str, ValueShape)] = &[
    ("raw", ValueShape::Discrete),
    ("terms", ValueShape::Discrete),
    ("length", ValueShape::Number),
];

/// The source and shape of a system feature; `None` for other names.
pub fn system_feature(name: &str) -> Option<(Source, ValueShape)> {
    SYSTEM_FEATURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, s, v)| (s, v))
}

/// How an overlap generator compares its two texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OverlapMethod {
    /// Share of the query's terms found in the title, in tenths (0–10).
    QueryCommonRatio,
    /// Share of the title's terms found in the query, in hundredths (0–100).
    TitleCommonRatio,
    /// 1 when the query's terms appear in the title in order, else 0.
    IsContain,
    /// 1 when query and title have the same terms, else 0.
    IsEqual,
    /// The common terms, as one category.
    CommonWord,
    /// The query's terms missing from the title, as one category.
    DiffWord,
}

impl OverlapMethod {
    const NAMES: [(&'static str, OverlapMethod); 6] = [
        ("query_common_ratio", OverlapMethod::QueryCommonRatio),
        ("title_common_ratio", OverlapMethod::TitleCommonRatio),
        ("is_contain", OverlapMethod::IsContain),
        ("is_equal", OverlapMethod::IsEqual),
        ("common_word", OverlapMethod::CommonWord),
        ("diff_word", OverlapMethod::DiffWord),
    ];

    fn parse(s: &str) -> Option<Self> {
        OverlapMethod::NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|&(_, m)| m)
    }
}

/// How a lookup combines the values of several matching keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Combiner {
    Sum,
    Mean,
    Max,
    Min,
}

impl Combiner {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "sum" => Some(Combiner::Sum),
            "mean" => Some(Combiner::Mean),
            "max" => Some(Combiner::Max),
            "min" => Some(Combiner::Min),
            _ => None,
        }
    }
}

/// One input of a generator.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Input {
    pub name: String,
    pub source: Source,
}

/// A generator, checked and typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub kind: Kind,
    pub inputs: Vec<Input>,
    pub output: String,
    pub method: OverlapMethod,
    pub combiner: Combiner,
    pub value_dimension: usize,
    pub sequence_length: usize,
}

impl Spec {
    /// Names of the numeric columns this generator produces: its output, or `output_0 …` for a raw generator
    /// of several dimensions.
    pub fn columns(&self) -> Vec<String> {
        if self.kind == Kind::Raw && self.value_dimension > 1 {
            (0..self.value_dimension)
                .map(|i| format!("{}_{i}", self.output))
                .collect()
        } else {
            vec![self.output.clone()]
        }
    }
}

/// Options each kind takes.
fn options_of(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Raw => &["value_dimension"],
        Kind::Lookup => &["combiner"],
        Kind::Overlap => &["method"],
        Kind::Sequence => &["sequence_length"],
        Kind::Id | Kind::Combo => &[],
    }
}

fn inputs_of(kind: Kind) -> (usize, usize) {
    match kind {
        Kind::Id | Kind::Raw => (1, 1),
        Kind::Combo => (2, MAX_INPUTS),
        Kind::Lookup | Kind::Overlap | Kind::Sequence => (2, 2),
    }
}

/// The shape of an input as its name and source tell; an error names what does not fit.
fn shape_of(input: &Input) -> Result<ValueShape, String> {
    if let Some((source, shape)) = system_feature(&input.name) {
        if source != input.source {
            return Err(format!(
                "Type '{}' does not fit the system feature '{}', a {} feature.",
                input.source.as_str(),
                input.name,
                source.as_str()
            ));
        }
        return Ok(shape);
    }
    if input.name.starts_with("system_") {
        return Err(format!(
            "Name '{}' is not a system feature; system features: {}.",
            input.name,
            SYSTEM_FEATURES
                .iter()
                .map(|(n, _, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if input.source == Source::Query {
        return QUERY_FEATURES
            .iter()
            .find(|(n, _)| *n == input.name)
            .map(|&(_, s)| s)
            .ok_or_else(|| {
                format!(
                    "Name '{}' is not a query feature; valid: raw, terms, length.",
                    input.name
                )
            });
    }
    Ok(ValueShape::Any)
}

/// Whether an input of `shape` may stand at input `index` of a `kind` generator.
fn fits(kind: Kind, index: usize, shape: ValueShape) -> Result<(), &'static str> {
    use ValueShape::*;
    let ok = matches!(
        (kind, index, shape),
        (_, _, Any)
            | (Kind::Id | Kind::Combo, _, Discrete | Number)
            | (Kind::Raw, _, Number)
            | (Kind::Lookup, 0, Map)
            | (Kind::Lookup, 1, Discrete | Number)
            | (Kind::Overlap, _, Discrete)
            | (Kind::Sequence, 0, Sequence)
            | (Kind::Sequence, 1, Discrete | Number)
    );
    if ok {
        return Ok(());
    }
    Err(match (kind, index) {
        (Kind::Raw, _) => "a raw generator needs a number",
        (Kind::Lookup, 0) => "a lookup's first input is the map (k:v values)",
        (Kind::Lookup, _) => "a lookup's second input is the key (a discrete value)",
        (Kind::Overlap, _) => "an overlap compares two texts",
        (Kind::Sequence, 0) => "a sequence's first input is a behaviour sequence",
        (Kind::Sequence, _) => "a sequence's second input is the candidate's value",
        (Kind::Id | Kind::Combo, _) => "id and combo take discrete values",
    })
}

fn option_int(value: &str, name: &str, max: usize) -> Result<usize, String> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|v| (1..=max).contains(v))
        .ok_or_else(|| format!("Options.{name} must be an integer from 1 to {max}, got '{value}'."))
}

/// Reads one generator; the error says which field is wrong (the caller adds the generator's index).
pub fn spec(g: &Generator) -> Result<Spec, String> {
    let kind = Kind::parse(&g.generator).ok_or_else(|| {
        format!(
            "Generator '{}' is invalid; valid: {} (or with a '_feature' suffix).",
            g.generator,
            Kind::ALL.map(Kind::as_str).join(", ")
        )
    })?;
    let (min, max) = inputs_of(kind);
    if g.features.len() < min || g.features.len() > max {
        let wanted = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!(
            "Input.Features: a {} generator takes {wanted} input features, got {}.",
            kind.as_str(),
            g.features.len()
        ));
    }
    let mut inputs = Vec::with_capacity(g.features.len());
    for (i, f) in g.features.iter().enumerate() {
        if f.name.is_empty() || f.name.len() > 128 {
            return Err(format!(
                "Input.Features[{i}].Name must be 1-128 characters."
            ));
        }
        let source = Source::parse(&f.feature_type).ok_or_else(|| {
            format!(
                "Input.Features[{i}].Type '{}' is invalid; valid: {}.",
                f.feature_type,
                Source::NAMES.join(", ")
            )
        })?;
        let input = Input {
            name: f.name.clone(),
            source,
        };
        let shape = shape_of(&input).map_err(|why| format!("Input.Features[{i}]: {why}"))?;
        fits(kind, i, shape).map_err(|why| {
            format!(
                "Input.Features[{i}]: '{}' ({}) does not fit: {why}.",
                f.name, f.feature_type
            )
        })?;
        inputs.push(input);
    }
    if kind == Kind::Sequence && inputs[0].source != Source::User {
        return Err("Input.Features[0]: a sequence's first input is a user feature.".into());
    }
    let output_ok = !g.output.is_empty()
        && g.output.len() <= 128
        && g.output
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !output_ok {
        return Err(format!(
            "Output '{}' must be 1-128 letters, digits or underscores.",
            g.output
        ));
    }
    let allowed = options_of(kind);
    if let Some(unknown) = g.options.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "Options.{unknown} is not an option of a {} generator; options: {}.",
            kind.as_str(),
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            }
        ));
    }
    let option = |name: &str| g.options.get(name).map(|v| v.trim());
    let method = match option("method") {
        None => OverlapMethod::QueryCommonRatio,
        Some(m) => OverlapMethod::parse(m).ok_or_else(|| {
            format!(
                "Options.method '{m}' is invalid; valid: {}.",
                OverlapMethod::NAMES.map(|(n, _)| n).join(", ")
            )
        })?,
    };
    let combiner = match option("combiner") {
        None => Combiner::Sum,
        Some(c) => Combiner::parse(c).ok_or_else(|| {
            format!("Options.combiner '{c}' is invalid; valid: sum, mean, max, min.")
        })?,
    };
    let value_dimension = match option("value_dimension") {
        None => 1,
        Some(v) => option_int(v, "value_dimension", MAX_VALUE_DIMENSION)?,
    };
    let sequence_length = match option("sequence_length") {
        None => 50,
        Some(v) => option_int(v, "sequence_length", MAX_SEQUENCE_LENGTH)?,
    };
    Ok(Spec {
        kind,
        inputs,
        output: g.output.clone(),
        method,
        combiner,
        value_dimension,
        sequence_length,
    })
}

/// Reads every generator of a resource; outputs must be unique. Errors name `Data.Generators[i]` and the field.
pub fn specs(generators: &[Generator]) -> Result<Vec<Spec>, String> {
    let mut outputs = BTreeSet::new();
    let mut out = Vec::with_capacity(generators.len());
    for (i, g) in generators.iter().enumerate() {
        let spec = spec(g).map_err(|why| format!("Data.Generators[{i}].{why}"))?;
        for column in spec.columns() {
            if !outputs.insert(column.clone()) {
                return Err(format!(
                    "Data.Generators[{i}].Output '{column}' is produced by an earlier generator; outputs must be unique."
                ));
            }
        }
        out.push(spec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Feature;

    fn g(kind: &str, inputs: &[(&str, &str)], options: &[(&str, &str)]) -> Generator {
        Generator {
            generator: kind.into(),
            features: inputs
                .iter()
                .map(|(n, t)| Feature {
                    name: n.to_string(),
                    feature_type: t.to_string(),
                })
                .collect(),
            output: "out".into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn every_kind_reads_with_its_inputs_and_options() {
        let s = spec(&g("id_feature", &[("system_item_id", "item")], &[])).unwrap();
        assert_eq!(s.kind, Kind::Id);
        let s = spec(&g("raw", &[("price", "item")], &[("value_dimension", "3")])).unwrap();
        assert_eq!(s.columns(), ["out_0", "out_1", "out_2"]);
        let s = spec(&g(
            "combo",
            &[("system_raw_q_ultra", "user"), ("system_item_id", "item")],
            &[],
        ))
        .unwrap();
        assert_eq!(s.inputs[0].source, Source::User);
        let s = spec(&g(
            "lookup",
            &[
                ("system_query_ctr_decay", "item"),
                ("system_raw_q_ultra", "user"),
            ],
            &[("combiner", "max")],
        ))
        .unwrap();
        assert_eq!(s.combiner, Combiner::Max);
        let s = spec(&g(
            "overlap",
            &[("terms", "query"), ("title", "item")],
            &[("method", "is_contain")],
        ))
        .unwrap();
        assert_eq!(s.method, OverlapMethod::IsContain);
        assert!(!s.kind.is_categorical(s.method));
        let s = spec(&g(
            "sequence",
            &[("system_user_click_seq", "user"), ("category", "item")],
            &[("sequence_length", "20")],
        ))
        .unwrap();
        assert_eq!(s.sequence_length, 20);
        let s = spec(&g("id", &[("device", "context")], &[])).unwrap();
        assert_eq!(s.inputs[0].source, Source::Context);
    }

    #[test]
    fn mistakes_name_the_field() {
        let err = |g: Generator| spec(&g).unwrap_err();
        assert!(err(g("magic", &[("a", "item")], &[])).starts_with("Generator 'magic'"));
        assert!(err(g("combo", &[("a", "item")], &[])).starts_with("Input.Features:"));
        assert!(err(g("id", &[("a", "shop")], &[])).starts_with("Input.Features[0].Type 'shop'"));
        let mismatch = err(g("id", &[("system_raw_q_ultra", "item")], &[]));
        assert!(
            mismatch.contains("Input.Features[0]") && mismatch.contains("user feature"),
            "{mismatch}"
        );
        let unknown = err(g("raw", &[("system_nope", "item")], &[]));
        assert!(unknown.contains("not a system feature"), "{unknown}");
        let not_number = err(g("raw", &[("system_item_id", "item")], &[]));
        assert!(not_number.contains("needs a number"), "{not_number}");
        let not_map = err(g(
            "lookup",
            &[("system_item_id", "item"), ("system_raw_q_ultra", "user")],
            &[],
        ));
        assert!(not_map.contains("map"), "{not_map}");
        assert!(
            err(g("id", &[("a", "item")], &[("method", "is_equal")])).starts_with("Options.method")
        );
        assert!(
            err(g(
                "overlap",
                &[("terms", "query"), ("t", "item")],
                &[("method", "x")]
            ))
            .starts_with("Options.method")
        );
        assert!(
            err(g("raw", &[("p", "item")], &[("value_dimension", "0")]))
                .starts_with("Options.value_dimension")
        );
        assert!(
            err(g("sequence", &[("seq", "item"), ("c", "item")], &[])).contains("user feature")
        );
        assert!(err(g("id", &[("nope", "query")], &[])).contains("query feature"));
    }

    #[test]
    fn outputs_are_unique_and_errors_carry_the_index() {
        let a = g("id", &[("system_item_id", "item")], &[]);
        let why = specs(&[a.clone(), a]).unwrap_err();
        assert!(why.starts_with("Data.Generators[1].Output"), "{why}");
        let bad = g("raw", &[("system_item_id", "item")], &[]);
        let ok = g("id", &[("brand", "item")], &[]);
        let why = specs(&[ok, bad]).unwrap_err();
        assert!(
            why.starts_with("Data.Generators[1].Input.Features[0]"),
            "{why}"
        );
    }
}
