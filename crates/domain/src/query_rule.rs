//! Query-analysis rules (an extension resource): which instance of each function analyses a query, the fields a
//! rewritten query searches, and whether the rule is the app group's default.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::function::Function;
use crate::names::validate_instance_name;

/// Most fields a rule searches.
pub const MAX_FIELDS: usize = 16;
/// Most query-analysis rules of one app group.
pub const MAX_RULES: u64 = 100;

/// A field a rewritten query searches, with its boost (`title^3`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchField {
    pub name: String,
    /// 1..=99 (OpenSearch's boost range); `None` is the engine's default.
    pub boost: Option<u32>,
}

impl SearchField {
    /// `name` or `name^boost`.
    pub fn parse(text: &str) -> Result<SearchField> {
        let (name, boost) = match text.split_once('^') {
            Some((name, boost)) => (name, Some(boost)),
            None => (text, None),
        };
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        let boost = match boost {
            None => None,
            Some(b) => match b.parse::<u32>() {
                Ok(b) if (1..=99).contains(&b) => Some(b),
                _ => None.ok_or_else(|| {
                    Error::invalid(format_args!(
                        "fields: boost of '{text}' must be an integer from 1 to 99."
                    ))
                })?,
            },
        };
        if !valid_name {
            return Err(Error::invalid(format_args!(
                "fields: '{text}' is not a field name ([A-Za-z_][A-Za-z0-9_.]*, optionally ^boost)."
            )));
        }
        Ok(SearchField {
            name: name.to_string(),
            boost,
        })
    }

    pub fn as_text(&self) -> String {
        match self.boost {
            Some(b) => format!("{}^{b}", self.name),
            None => self.name.clone(),
        }
    }
}

/// What a rule says. The stages of the analysis it names run; the others are skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub analyzer: Option<String>,
    pub termweight: Option<String>,
    pub category: Option<String>,
    /// Spelling correction and synonyms: named here once their functions exist (issue 17).
    pub correction: Option<String>,
    pub synonym: Option<String>,
    pub fields: Vec<SearchField>,
    /// The item field holding the category path: predicted categories boost it in the rewritten query.
    pub category_field: Option<String>,
    pub default: bool,
}

/// A stored rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryAnalysisRule {
    pub name: String,
    pub spec: RuleSpec,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The functions a rule may name, in the order the analysis runs them, with the key each has in a rule.
pub const RULE_FUNCTIONS: &[&str] = &[
    "correction",
    "analyzer",
    "termweight",
    "synonym",
    "category",
];

fn text_field<'a>(body: &'a Value, names: &[&str]) -> Result<Option<&'a str>> {
    match names
        .iter()
        .find_map(|k| body.get(*k))
        .filter(|v| !v.is_null())
    {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid(format_args!(
            "{} must be a string.",
            names[0]
        ))),
    }
}

impl RuleSpec {
    /// Parses a PUT body: `{"analyzer", "termweight", "category", "correction", "synonym": instance names,
    /// "fields": ["title^3", "brand"] (default `["default"]`), "categoryField", "default": bool}`; PascalCase
    /// keys too.
    pub fn parse(body: &Value) -> Result<RuleSpec> {
        if !body.is_object() {
            return Err(Error::invalid("body must be a JSON object."));
        }
        let instance = |key: &str, pascal: &str| -> Result<Option<String>> {
            let name = text_field(body, &[key, pascal])?;
            if let Some(name) = name {
                validate_instance_name(name).map_err(|_| {
                    Error::invalid(format_args!("{key}: '{name}' is not an instance name."))
                })?;
            }
            Ok(name.map(str::to_string))
        };
        let mut spec = RuleSpec {
            analyzer: instance("analyzer", "Analyzer")?,
            termweight: instance("termweight", "Termweight")?,
            category: instance("category", "Category")?,
            correction: instance("correction", "Correction")?,
            synonym: instance("synonym", "Synonym")?,
            ..RuleSpec::default()
        };
        for (key, named) in [("correction", &spec.correction), ("synonym", &spec.synonym)] {
            if named.is_some() && key.parse::<Function>().is_err() {
                return Err(Error::invalid(format_args!(
                    "{key}: this build has no '{key}' function yet; leave it out."
                )));
            }
        }
        let fields = match ["fields", "Fields"].iter().find_map(|k| body.get(*k)) {
            None | Some(Value::Null) => vec![SearchField::parse("default")?],
            Some(Value::Array(list)) => list
                .iter()
                .map(|f| match f {
                    Value::String(s) => SearchField::parse(s),
                    _ => Err(Error::invalid(
                        "fields must be strings ('title' or 'title^3').",
                    )),
                })
                .collect::<Result<Vec<_>>>()?,
            Some(_) => return Err(Error::invalid("fields must be an array of field names.")),
        };
        if fields.is_empty() || fields.len() > MAX_FIELDS {
            return Err(Error::invalid(format_args!(
                "fields: 1 to {MAX_FIELDS} fields."
            )));
        }
        spec.fields = fields;
        spec.category_field =
            match text_field(body, &["categoryField", "CategoryField", "category_field"])? {
                Some(f) => Some(SearchField::parse(f)?.name),
                None => None,
            };
        spec.default = match ["default", "Default"].iter().find_map(|k| body.get(*k)) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(_) => return Err(Error::invalid("default must be true or false.")),
        };
        Ok(spec)
    }

    /// The instance the rule names for a stage (`analyzer`, `termweight`, …).
    pub fn instance(&self, stage: &str) -> Option<&str> {
        match stage {
            "analyzer" => self.analyzer.as_deref(),
            "termweight" => self.termweight.as_deref(),
            "category" => self.category.as_deref(),
            "correction" => self.correction.as_deref(),
            "synonym" => self.synonym.as_deref(),
            _ => None,
        }
    }
}

/// Query-analysis rule names follow the resource name rule.
pub fn validate_rule_name(name: &str) -> Result<()> {
    validate_instance_name(name)
        .map_err(|_| Error::invalid(format_args!("rule name '{name}' is invalid: 1-30 characters, letters, digits and underscores, starting with a letter.")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_parse_with_defaults_and_bad_ones_say_why() {
        let spec = RuleSpec::parse(&json!({"analyzer": "an", "Termweight": "tw", "fields": ["title^3", "brand"], "default": true}))
            .unwrap();
        assert_eq!(spec.analyzer.as_deref(), Some("an"));
        assert_eq!(spec.termweight.as_deref(), Some("tw"));
        assert_eq!(
            spec.fields[0],
            SearchField {
                name: "title".into(),
                boost: Some(3)
            }
        );
        assert!(spec.default);
        assert_eq!(
            RuleSpec::parse(&json!({})).unwrap().fields[0].name,
            "default"
        );
        for bad in [
            json!({"fields": []}),
            json!({"fields": ["title^0"]}),
            json!({"fields": ["ti tle"]}),
            json!({"analyzer": "9x"}),
            json!({"synonym": "syn"}),
            json!({"default": 3}),
            json!([]),
        ] {
            assert_eq!(
                RuleSpec::parse(&bad).unwrap_err().code(),
                "InvalidParameter",
                "{bad}"
            );
        }
    }
}
