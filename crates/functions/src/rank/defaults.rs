//! The generators an instance without a `feature_generator` resource trains on: the item's recent
//! click-through statistics, what it was clicked for before, the query's overlap with its title, its category
//! (alone, with the query, and in the user's recent clicks) and every numeric item attribute.

use std::collections::HashMap;

use algocenter_domain::resource::{Feature, Generator};
use serde_json::{Map, Value};

/// Most numeric attributes taken as features.
const MAX_NUMERIC: usize = 20;
/// An attribute is numeric when this share of the items that have it hold a number …
const NUMERIC_SHARE: f64 = 0.9;
/// … and this share of all items have it.
const PRESENT_SHARE: f64 = 0.3;

fn g(kind: &str, inputs: &[(&str, &str)], output: &str, options: &[(&str, &str)]) -> Generator {
    Generator {
        generator: kind.into(),
        features: inputs
            .iter()
            .map(|(n, t)| Feature {
                name: n.to_string(),
                feature_type: t.to_string(),
            })
            .collect(),
        output: output.into(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Attributes that hold numbers in most items (sorted by name), other than `exclude`.
pub(super) fn numeric_attributes(
    items: &HashMap<String, Map<String, Value>>,
    exclude: &[&str],
) -> Vec<String> {
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    for attributes in items.values() {
        for (name, value) in attributes {
            let e = seen.entry(name.as_str()).or_default();
            e.0 += 1;
            let numeric = match value {
                Value::Number(_) => true,
                Value::String(s) => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
                _ => false,
            };
            e.1 += usize::from(numeric);
        }
    }
    let mut out: Vec<String> = seen
        .into_iter()
        .filter(|(name, (present, numeric))| {
            !exclude.contains(name)
                && !name.starts_with("system_")
                && name.len() <= 100
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && *present as f64 >= PRESENT_SHARE * items.len() as f64
                && *numeric as f64 >= NUMERIC_SHARE * *present as f64
        })
        .map(|(name, _)| name.to_string())
        .collect();
    out.sort();
    out.truncate(MAX_NUMERIC);
    out
}

/// The built-in generators for the item attributes `title_field` and `category_field` (empty: none).
pub(super) fn generators(
    title_field: &str,
    category_field: &str,
    items: &HashMap<String, Map<String, Value>>,
) -> Vec<Generator> {
    let mut out = vec![
        g(
            "raw",
            &[("system_all_nid_ctr_7", "item")],
            "item_ctr_7d",
            &[],
        ),
        g("raw", &[("system_all_nid_pv_7", "item")], "item_pv_7d", &[]),
        g(
            "raw",
            &[("system_all_nid_ipv_7", "item")],
            "item_clicks_7d",
            &[],
        ),
        g(
            "raw",
            &[("system_all_nid_ctr_30", "item")],
            "item_ctr_30d",
            &[],
        ),
        g(
            "raw",
            &[("system_all_nid_ipv_30", "item")],
            "item_clicks_30d",
            &[],
        ),
        g(
            "lookup",
            &[
                ("system_query_ctr_decay", "item"),
                ("system_raw_q_ultra", "user"),
            ],
            "query_item_ctr",
            &[],
        ),
        g(
            "lookup",
            &[
                ("system_query_score_decay", "item"),
                ("system_raw_q_ultra", "user"),
            ],
            "query_item_click_share",
            &[],
        ),
        g(
            "lookup",
            &[
                ("system_qterm_ctr_decay", "item"),
                ("system_raw_q_terms", "user"),
            ],
            "term_item_ctr",
            &[("combiner", "mean")],
        ),
        g("id", &[("system_item_id", "item")], "item_id", &[]),
        g(
            "combo",
            &[("system_raw_q_ultra", "user"), ("system_item_id", "item")],
            "query_item",
            &[],
        ),
    ];
    if !title_field.is_empty() {
        out.push(g(
            "overlap",
            &[("system_raw_q_ultra", "user"), (title_field, "item")],
            "query_title_ratio",
            &[("method", "query_common_ratio")],
        ));
        out.push(g(
            "overlap",
            &[("system_raw_q_ultra", "user"), (title_field, "item")],
            "title_query_ratio",
            &[("method", "title_common_ratio")],
        ));
    }
    if !category_field.is_empty() {
        out.push(g("id", &[(category_field, "item")], "category", &[]));
        out.push(g(
            "combo",
            &[("system_raw_q_ultra", "user"), (category_field, "item")],
            "query_category",
            &[],
        ));
        out.push(g(
            "sequence",
            &[("system_user_click_seq", "user"), (category_field, "item")],
            "user_category_clicks",
            &[("sequence_length", "20")],
        ));
    }
    let exclude = [title_field, category_field];
    for name in numeric_attributes(items, &exclude) {
        out.push(g("raw", &[(&name, "item")], &format!("item_{name}"), &[]));
    }
    out
}
