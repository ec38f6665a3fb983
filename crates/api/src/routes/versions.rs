//! GetFunctionCurrentVersion and GetFunctionVersion, answered from the built-in catalogue.

use algocenter_domain::Error;
use algocenter_domain::catalogue::{self, FUNCTION_TYPES};

use crate::envelope::{ApiResult, Reply};
use crate::extract::{Query, Segments, function};
use crate::wire;

pub async fn current(Segments(name): Segments<String>, query: Query) -> ApiResult {
    let function = function(&name)?;
    let model_type = query.non_empty("modelType").ok_or_else(|| {
        Error::invalid(format_args!(
            "modelType is required; function '{function}' offers: {}.",
            catalogue::model_types(function).join(", ")
        ))
    })?;
    let function_type = query.non_empty("functionType").unwrap_or("PAAS");
    if !FUNCTION_TYPES.contains(&function_type) && function_type != "SAAS" {
        return Err(Error::invalid(format_args!(
            "functionType '{function_type}' is invalid; valid: PAAS, SAAS."
        ))
        .into());
    }
    // `category` narrows the edition of a domain; the trainers are the same for all, so it is accepted as is.
    let domain = query.get("domain").unwrap_or("");
    let version = catalogue::current_version(function, model_type, function_type, domain)?;
    Ok(Reply::result(wire::version(version)))
}

pub async fn by_id(Segments((name, version)): Segments<(String, String)>) -> ApiResult {
    let function = function(&name)?;
    Ok(Reply::result(wire::version(catalogue::version_by_id(
        function, &version,
    )?)))
}
