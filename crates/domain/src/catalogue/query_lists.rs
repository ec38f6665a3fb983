//! `hot` (top searches) and `hint` (search-box hints): ranked lists of queries from the query log.

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;

const HOT_CREATE: &[ParameterSpec] = &[
    p(
        "train_window_days",
        "14",
        WINDOW_DAYS,
        "days of search behaviour counted",
    ),
    p(
        "holdout_days",
        "1",
        HOLDOUT_DAYS,
        "most recent days held out for evaluation (the served list is then refit on the whole window)",
    ),
    p(
        "sort_type",
        "pv",
        ParamKind::Choice(&["pv", "uv"]),
        "rank queries by searches (pv) or distinct users (uv) when a request says sort_type=default",
    ),
    USER_QUERY_CAP,
    DROP_NO_RESULT,
    DROP_NO_CLICK,
    p(
        "rising_ratio",
        "2",
        ParamKind::Float {
            min: 1.0,
            max: 1000.0,
        },
        "growth over the previous window from which a query is tagged rising (2)",
    ),
    p(
        "blacklist",
        "",
        RAW_FILE,
        "raw_file resource: queries never shown, one per line",
    ),
    p(
        "whitelist",
        "",
        RAW_FILE,
        "raw_file resource: queries always shown first, in file order, one per line",
    ),
];

const HINT_CREATE: &[ParameterSpec] = &[
    p(
        "train_window_days",
        "14",
        WINDOW_DAYS,
        "days of search behaviour counted",
    ),
    p(
        "holdout_days",
        "1",
        HOLDOUT_DAYS,
        "most recent days held out for evaluation (the served hints are then refit on the whole window)",
    ),
    p(
        "half_life_days",
        "3",
        HALF_LIFE_DAYS,
        "age at which a search counts half: hints favour fresh queries",
    ),
    USER_QUERY_CAP,
    DROP_NO_RESULT,
    DROP_NO_CLICK,
    p(
        "category_field",
        "category",
        ParamKind::Field,
        "item attribute holding the '>'-separated category path (personalised hints)",
    ),
    p(
        "blacklist",
        "",
        RAW_FILE,
        "raw_file resource: queries never shown, one per line",
    ),
    p(
        "whitelist",
        "",
        RAW_FILE,
        "raw_file resource: queries always shown first, in file order, one per line",
    ),
];

pub(super) const VERSIONS: &[FunctionVersion] = &[
    FunctionVersion {
        function: Function::Hot,
        version_id: 401,
        version_name: "v1",
        function_type: "PAAS",
        model_type: "offline_inference",
        create_parameters: HOT_CREATE,
        usage_parameters: &[],
        depends: &[QUERY_DEP],
    },
    FunctionVersion {
        function: Function::Hot,
        version_id: 402,
        version_name: "v1-near-realtime",
        function_type: "PAAS",
        model_type: "near_realtime",
        create_parameters: HOT_CREATE,
        usage_parameters: &[],
        depends: &[QUERY_DEP],
    },
    FunctionVersion {
        function: Function::Hint,
        version_id: 501,
        version_name: "v1",
        function_type: "PAAS",
        model_type: "offline_inference",
        create_parameters: HINT_CREATE,
        usage_parameters: &[],
        depends: &[QUERY_DEP],
    },
    FunctionVersion {
        function: Function::Hint,
        version_id: 502,
        version_name: "v1-near-realtime",
        function_type: "PAAS",
        model_type: "near_realtime",
        create_parameters: HINT_CREATE,
        usage_parameters: &[],
        depends: &[QUERY_DEP],
    },
];
