//! Parameter lists against the catalogue: validation at create and update time, and the effective values
//! (the instance's values over the defaults) that trainers and servers read.

use std::collections::BTreeMap;

use super::{FunctionVersion, MAX_PARAMETER_VALUE_LEN, MAX_PARAMETERS, ParamKind, ParameterSpec};
use crate::error::{Error, Result};
use crate::function::Function;

/// One `{name, value}` pair of `createParameters` / `usageParameters`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Parameter {
    pub name: String,
    pub value: String,
}

/// Which parameter list is being checked, for messages.
#[derive(Clone, Copy, Debug)]
pub enum ParameterList {
    Create,
    Usage,
}

impl ParameterList {
    fn wire_name(self) -> &'static str {
        match self {
            ParameterList::Create => "createParameters",
            ParameterList::Usage => "usageParameters",
        }
    }
}

impl FunctionVersion {
    fn specs(&self, list: ParameterList) -> &'static [ParameterSpec] {
        match list {
            ParameterList::Create => self.create_parameters,
            ParameterList::Usage => self.usage_parameters,
        }
    }

    /// Checks a parameter list against this version: known names, no duplicates, required ones present, values of
    /// the right kind. Returns the resource names the list refers to, as `(parameter, resource)` pairs.
    pub fn validate_parameters(
        &self,
        list: ParameterList,
        parameters: &[Parameter],
    ) -> Result<Vec<(String, String)>> {
        let wire = list.wire_name();
        let specs = self.specs(list);
        if parameters.len() > MAX_PARAMETERS {
            return Err(Error::invalid(format_args!(
                "{wire}: at most {MAX_PARAMETERS} parameters are accepted."
            )));
        }
        let mut seen = BTreeMap::new();
        let mut resources = Vec::new();
        for parameter in parameters {
            let Some(spec) = specs.iter().find(|s| s.name == parameter.name) else {
                let known: Vec<_> = specs.iter().map(|s| s.name).collect();
                return Err(Error::invalid(format_args!(
                    "{wire}: unknown parameter '{}' for {}/{}; known: {}.",
                    parameter.name,
                    self.function,
                    self.model_type,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            if seen.insert(spec.name, ()).is_some() {
                return Err(Error::invalid(format_args!(
                    "{wire}: parameter '{}' is given twice.",
                    spec.name
                )));
            }
            check_value(spec, &parameter.value).map_err(|why| {
                Error::invalid(format_args!("{wire}: parameter '{}' {why}", spec.name))
            })?;
            if let ParamKind::Resource(_) = spec.kind
                && !parameter.value.is_empty()
            {
                resources.push((spec.name.to_string(), parameter.value.clone()));
            }
        }
        if let Some(missing) = specs
            .iter()
            .find(|s| s.required && !seen.contains_key(s.name))
        {
            return Err(Error::invalid(format_args!(
                "{wire}: missing required parameter '{}'.",
                missing.name
            )));
        }
        Ok(resources)
    }

    /// The values a trainer or server sees: the instance's values over the catalogue defaults.
    pub fn effective(&self, list: ParameterList, parameters: &[Parameter]) -> EffectiveParameters {
        let specs = self.specs(list);
        let mut values: BTreeMap<&'static str, String> = specs
            .iter()
            .map(|s| (s.name, s.default.to_string()))
            .collect();
        for parameter in parameters {
            if let Some(spec) = specs.iter().find(|s| s.name == parameter.name) {
                values.insert(spec.name, parameter.value.clone());
            }
        }
        EffectiveParameters {
            function: self.function,
            values,
        }
    }
}

/// Why a value does not fit its kind (completes "parameter 'x' …").
pub(super) fn check_value(spec: &ParameterSpec, value: &str) -> std::result::Result<(), String> {
    if value.len() > MAX_PARAMETER_VALUE_LEN {
        return Err(format!("is longer than {MAX_PARAMETER_VALUE_LEN} bytes."));
    }
    match spec.kind {
        ParamKind::Int { min, max } => match value.trim().parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(()),
            _ => Err(format!(
                "must be an integer in [{min}, {max}], got '{value}'."
            )),
        },
        ParamKind::Float { min, max } => match value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= min && v <= max => Ok(()),
            _ => Err(format!(
                "must be a number in [{min}, {max}], got '{value}'."
            )),
        },
        ParamKind::Choice(choices) if choices.contains(&value) => Ok(()),
        ParamKind::Choice(choices) => Err(format!(
            "must be one of {}, got '{value}'.",
            choices.join(", ")
        )),
        ParamKind::Field if value.is_empty() && !spec.required => Ok(()),
        ParamKind::Field if is_identifier(value) => Ok(()),
        ParamKind::Field => Err(format!(
            "must be an attribute name ([A-Za-z_][A-Za-z0-9_]*), got '{value}'."
        )),
        ParamKind::FieldList if value.trim().is_empty() && !spec.required => Ok(()),
        ParamKind::FieldList if value.split(',').map(str::trim).all(is_identifier) => Ok(()),
        ParamKind::FieldList => Err(format!(
            "must be comma-separated attribute names ([A-Za-z_][A-Za-z0-9_]*), got '{value}'."
        )),
        ParamKind::Resource(_) if value.is_empty() => Ok(()),
        ParamKind::Resource(_) => crate::names::validate_resource_name(value)
            .map_err(|_| format!("must name a resource, got '{value}'.")),
        ParamKind::BehaviourList => {
            let items: Vec<&str> = value.split(',').map(str::trim).collect();
            if items.iter().all(|b| is_identifier(b)) {
                Ok(())
            } else {
                Err(format!(
                    "must be a comma-separated list of behaviour types, got '{value}'."
                ))
            }
        }
        ParamKind::BehaviourWeights => parse_behaviour_weights(value).map(|_| ()),
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses `click:1,buy:5` into pairs; weights must be finite and non-negative.
pub fn parse_behaviour_weights(value: &str) -> std::result::Result<Vec<(String, f64)>, String> {
    let mut out = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = pair
            .split_once(':')
            .and_then(|(b, w)| Some((b.trim(), w.trim().parse::<f64>().ok()?)))
            .filter(|(b, w)| is_identifier(b) && w.is_finite() && *w >= 0.0);
        match parsed {
            Some((b, w)) => out.push((b.to_string(), w)),
            None => {
                return Err(format!(
                    "must be 'behaviour:weight' pairs with weights ≥ 0, got '{pair}'."
                ));
            }
        }
    }
    if out.is_empty() {
        return Err("must list at least one 'behaviour:weight' pair.".to_string());
    }
    Ok(out)
}

/// Parameter values as a trainer or server reads them. Asking for a name the catalogue does not list is a bug
/// in the trainer, reported as an internal error rather than silently defaulted.
#[derive(Clone, Debug)]
pub struct EffectiveParameters {
    function: Function,
    values: BTreeMap<&'static str, String>,
}

impl EffectiveParameters {
    pub fn get(&self, name: &str) -> Result<&str> {
        self.values.get(name).map(String::as_str).ok_or_else(|| {
            Error::internal(format_args!(
                "parameter '{name}' is not in the catalogue of function '{}'",
                self.function
            ))
        })
    }

    pub fn int(&self, name: &str) -> Result<i64> {
        let v = self.get(name)?;
        v.trim().parse().map_err(|_| {
            Error::invalid(format_args!("parameter '{name}' is not an integer: '{v}'"))
        })
    }

    /// A [`ParamKind::FieldList`] value as its names (none when empty).
    pub fn list(&self, name: &str) -> Result<Vec<&str>> {
        Ok(self
            .get(name)?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect())
    }

    pub fn float(&self, name: &str) -> Result<f64> {
        let v = self.get(name)?;
        v.trim()
            .parse()
            .map_err(|_| Error::invalid(format_args!("parameter '{name}' is not a number: '{v}'")))
    }

    /// All values, for reporting.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::version_for_model_type;

    fn param(name: &str, value: &str) -> Parameter {
        Parameter {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn unknown_missing_duplicate_and_badly_typed_parameters_are_named() {
        let ctr = version_for_model_type(Function::Ctr, "tf_checkpoint").unwrap();
        let ok = [param("id_field", "item_id"), param("title_field", "title")];
        assert!(ctr.validate_parameters(ParameterList::Create, &ok).is_ok());

        let missing = ctr
            .validate_parameters(ParameterList::Create, &ok[..1])
            .unwrap_err();
        assert!(missing.to_string().contains("title_field"), "{missing}");

        let unknown = [ok[0].clone(), ok[1].clone(), param("params1", "x")];
        let err = ctr
            .validate_parameters(ParameterList::Create, &unknown)
            .unwrap_err();
        assert!(err.to_string().contains("params1"), "{err}");

        let twice = [ok[0].clone(), ok[1].clone(), ok[1].clone()];
        assert!(
            ctr.validate_parameters(ParameterList::Create, &twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );

        let bad = [
            ok[0].clone(),
            ok[1].clone(),
            param("available_threshold", "1.5"),
        ];
        let err = ctr
            .validate_parameters(ParameterList::Create, &bad)
            .unwrap_err();
        assert!(err.to_string().contains("available_threshold"), "{err}");
        assert_eq!(err.code(), "InvalidParameter");
    }

    #[test]
    fn resource_parameters_are_reported_as_references() {
        let hot = version_for_model_type(Function::Hot, "offline_inference").unwrap();
        let refs = hot
            .validate_parameters(
                ParameterList::Create,
                &[param("blacklist", "bad_words"), param("whitelist", "")],
            )
            .unwrap();
        assert_eq!(
            refs,
            vec![("blacklist".to_string(), "bad_words".to_string())]
        );
    }

    #[test]
    fn effective_parameters_use_defaults_and_refuse_unlisted_names() {
        let pop = version_for_model_type(Function::Pop, "pop").unwrap();
        let eff = pop.effective(ParameterList::Create, &[param("half_life_days", "3.5")]);
        assert_eq!(eff.float("half_life_days").unwrap(), 3.5);
        assert_eq!(eff.int("train_window_days").unwrap(), 30);
        assert_eq!(eff.get("nonsense").unwrap_err().code(), "InternalError");
    }

    #[test]
    fn behaviour_weights_parse() {
        assert_eq!(
            parse_behaviour_weights("click:1, buy:5").unwrap(),
            vec![("click".to_string(), 1.0), ("buy".to_string(), 5.0)]
        );
        assert!(parse_behaviour_weights("click:-1").is_err());
        assert!(parse_behaviour_weights("click").is_err());
        assert!(parse_behaviour_weights("").is_err());
    }
}
