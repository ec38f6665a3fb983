//! The built-in function catalogue: which model types each function offers and the create and usage parameters
//! that its trainer and its server honour (GetFunctionCurrentVersion / GetFunctionVersion, spec §4.4 and §9).
//!
//! The catalogue is the contract between an instance and the trainer of its function: every parameter listed here
//! is validated at create/update time and read by the trainer or the server; a trainer reads parameters only through
//! [`EffectiveParameters`], which refuses names that are not listed (DESIGN invariant 7).
//!
//! The tables are one file per function family (`ctr`, `pop`, `category`, `query_lists`, `suggest`,
//! `query_analysis`);
//! `parameters` checks an instance's parameter lists against them and gives trainers their effective values.

mod category;
mod ctr;
mod parameters;
mod pop;
mod query_analysis;
mod query_lists;
mod shared;
mod suggest;

use crate::error::{Error, Result};
use crate::function::Function;
use crate::resource::ResourceType;

pub use parameters::{EffectiveParameters, Parameter, ParameterList, parse_behaviour_weights};

/// Longest parameter value accepted (a behaviour-weight list is the longest legitimate value).
pub const MAX_PARAMETER_VALUE_LEN: usize = 1024;
/// Most parameters accepted in one list.
pub const MAX_PARAMETERS: usize = 64;

/// What values a parameter takes. Checked at create and update time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// An integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// A number in `min..=max`.
    Float { min: f64, max: f64 },
    /// One of the listed words.
    Choice(&'static [&'static str]),
    /// The name of an item attribute (`[A-Za-z_][A-Za-z0-9_]*`), empty when `required` is false.
    Field,
    /// Comma-separated item attribute names (`title,description`); empty when `required` is false.
    FieldList,
    /// The name of a function resource of this type in the same app group and function; empty means none.
    Resource(ResourceType),
    /// Comma-separated behaviour types, e.g. `click,cart,buy`.
    BehaviourList,
    /// Comma-separated `behaviour:weight` pairs with non-negative weights, e.g. `click:1,buy:5`.
    BehaviourWeights,
}

#[derive(Clone, Copy, Debug)]
pub struct ParameterSpec {
    pub name: &'static str,
    pub required: bool,
    /// Value used when the instance does not set the parameter (ignored when `required`).
    pub default: &'static str,
    pub kind: ParamKind,
    pub description: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub struct Dependency {
    pub dependency: &'static str,
    pub condition: &'static str,
    pub description: &'static str,
}

/// A catalogue entry: one function, one model type.
#[derive(Debug)]
pub struct FunctionVersion {
    pub function: Function,
    pub version_id: i64,
    pub version_name: &'static str,
    pub function_type: &'static str,
    pub model_type: &'static str,
    pub create_parameters: &'static [ParameterSpec],
    pub usage_parameters: &'static [ParameterSpec],
    pub depends: &'static [Dependency],
}

/// Function types a version can be created with. algocenter trains every model itself, so only `PAAS` exists.
pub const FUNCTION_TYPES: [&str; 1] = ["PAAS"];
/// `domain` values accepted by GetFunctionCurrentVersion; the trainers are domain-agnostic, so all map to the same
/// version.
pub const DOMAINS: [&str; 5] = ["", "general", "education", "ecommerce", "community"];

/// Every function family's catalogue entries; a new function adds its file and a line here.
static FAMILIES: &[&[FunctionVersion]] = &[
    ctr::VERSIONS,
    pop::VERSIONS,
    category::VERSIONS,
    query_lists::VERSIONS,
    suggest::VERSIONS,
    query_analysis::VERSIONS,
];

/// All catalogue entries.
pub fn versions() -> impl Iterator<Item = &'static FunctionVersion> {
    FAMILIES.iter().flat_map(|family| family.iter())
}

/// Model types a function offers, for error messages.
pub fn model_types(function: Function) -> Vec<&'static str> {
    versions()
        .filter(|v| v.function == function)
        .map(|v| v.model_type)
        .collect()
}

/// The version an instance of `function` with `model_type` is created with (`InvalidParameter` when the function
/// has no such model type).
pub fn version_for_model_type(
    function: Function,
    model_type: &str,
) -> Result<&'static FunctionVersion> {
    versions()
        .find(|v| v.function == function && v.model_type == model_type)
        .ok_or_else(|| {
            Error::invalid(format_args!(
                "modelType '{model_type}' is not offered by function '{function}'; valid: {}.",
                model_types(function).join(", ")
            ))
        })
}

/// GetFunctionCurrentVersion: the current version for a model type, function type and domain.
pub fn current_version(
    function: Function,
    model_type: &str,
    function_type: &str,
    domain: &str,
) -> Result<&'static FunctionVersion> {
    if !DOMAINS.contains(&domain) {
        return Err(Error::invalid(format_args!(
            "domain '{domain}' is invalid; valid: empty, general, education, ecommerce, community."
        )));
    }
    versions()
        .find(|v| {
            v.function == function && v.model_type == model_type && v.function_type == function_type
        })
        .ok_or_else(|| {
            Error::VersionNotExist(format!(
                "function '{function}' has no {function_type} version for modelType '{model_type}'"
            ))
        })
}

/// GetFunctionVersion: a version by id.
pub fn version_by_id(function: Function, version_id: &str) -> Result<&'static FunctionVersion> {
    let id: i64 = version_id.parse().map_err(|_| {
        Error::VersionNotExist(format!(
            "function '{function}' has no version '{version_id}'"
        ))
    })?;
    versions()
        .find(|v| v.function == function && v.version_id == id)
        .ok_or_else(|| {
            Error::VersionNotExist(format!(
                "function '{function}' has no version '{version_id}'"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::parameters::check_value;
    use super::*;

    #[test]
    fn every_function_has_a_version_and_model_types_match_the_spec() {
        for f in Function::ALL {
            assert!(!model_types(f).is_empty(), "{f}");
        }
        assert_eq!(model_types(Function::Ctr), ["tf_checkpoint"]);
        assert_eq!(model_types(Function::Pop), ["pop"]);
        assert_eq!(
            model_types(Function::Hot),
            ["offline_inference", "near_realtime"]
        );
    }

    #[test]
    fn version_ids_are_unique() {
        let mut ids: Vec<_> = versions().map(|v| v.version_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), versions().count());
    }

    #[test]
    fn defaults_satisfy_their_own_kinds() {
        for v in versions() {
            for s in v.create_parameters.iter().chain(v.usage_parameters) {
                if !s.required {
                    assert!(
                        check_value(s, s.default).is_ok(),
                        "{} {}: default {:?}",
                        v.function,
                        s.name,
                        s.default
                    );
                }
            }
        }
    }

    #[test]
    fn current_version_lookup() {
        assert_eq!(
            current_version(Function::Ctr, "tf_checkpoint", "PAAS", "ecommerce")
                .unwrap()
                .version_id,
            101
        );
        assert_eq!(
            current_version(Function::Ctr, "pop", "PAAS", "")
                .unwrap_err()
                .code(),
            "Version.NotExist"
        );
        assert_eq!(
            current_version(Function::Ctr, "tf_checkpoint", "SAAS", "")
                .unwrap_err()
                .code(),
            "Version.NotExist"
        );
        assert_eq!(
            current_version(Function::Ctr, "tf_checkpoint", "PAAS", "mars")
                .unwrap_err()
                .code(),
            "InvalidParameter"
        );
        assert_eq!(
            version_by_id(Function::Ctr, "101").unwrap().model_type,
            "tf_checkpoint"
        );
        assert_eq!(
            version_by_id(Function::Ctr, "201").unwrap_err().code(),
            "Version.NotExist"
        );
        assert_eq!(
            version_by_id(Function::Ctr, "abc").unwrap_err().code(),
            "Version.NotExist"
        );
    }
}
