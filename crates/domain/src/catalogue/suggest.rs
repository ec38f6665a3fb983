//! `suggest`: drop-down completion from the queries users searched.

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;

const SUGGEST_CREATE: &[ParameterSpec] = &[
    p(
        "train_window_days",
        "30",
        WINDOW_DAYS,
        "days of search behaviour counted",
    ),
    p(
        "holdout_days",
        "1",
        HOLDOUT_DAYS,
        "most recent days held out for evaluation (the served index is then refit on the whole window)",
    ),
    p(
        "min_count",
        "2",
        ParamKind::Int {
            min: 1,
            max: 100000,
        },
        "searches (after the anti-spam cap) a query needs to be suggested",
    ),
    USER_QUERY_CAP,
    DROP_NO_RESULT,
    p(
        "half_life_days",
        "14",
        HALF_LIFE_DAYS,
        "age at which a search counts half",
    ),
    p(
        "click_weight",
        "0.3",
        ParamKind::Float { min: 0.0, max: 2.0 },
        "exponent of a query's smoothed click-through (relative to the average) in its weight; 0 ignores clicks",
    ),
    p(
        "pinyin",
        "true",
        BOOLEAN,
        "also complete Chinese queries from their pinyin and pinyin initials",
    ),
    p(
        "blacklist",
        "",
        RAW_FILE,
        "raw_file resource: queries never suggested, one per line",
    ),
];

pub(super) const VERSIONS: &[FunctionVersion] = &[FunctionVersion {
    function: Function::Suggest,
    version_id: 601,
    version_name: "v1",
    function_type: "PAAS",
    model_type: "offline_inference",
    create_parameters: SUGGEST_CREATE,
    usage_parameters: &[],
    depends: &[QUERY_DEP],
}];
