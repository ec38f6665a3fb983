//! `category`: the item categories a query is about.

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;

const CATEGORY_CREATE: &[ParameterSpec] = &[
    p(
        "train_window_days",
        "30",
        WINDOW_DAYS,
        "days of behaviour read for training",
    ),
    p(
        "holdout_days",
        "1",
        HOLDOUT_DAYS,
        "most recent days held out for evaluation (the served model is then refit on the whole window)",
    ),
    p(
        "title_field",
        "title",
        ParamKind::Field,
        "item attribute holding the item title (text model)",
    ),
    p(
        "category_field",
        "category",
        ParamKind::Field,
        "item attribute holding the '>'-separated category path",
    ),
    p(
        "min_evidence",
        "3",
        ParamKind::Int {
            min: 1,
            max: 100000,
        },
        "clicks a query needs before its click distribution is used (else the text model answers)",
    ),
    p(
        "smoothing",
        "2",
        ParamKind::Float {
            min: 0.0,
            max: 10000.0,
        },
        "pseudo-clicks of the text model's prediction mixed into a query's click distribution",
    ),
    USER_QUERY_CAP,
    p(
        "intervention_dict",
        "",
        RAW_FILE,
        "raw_file resource with lines 'query<TAB>category<TAB>0|1|2' (none/weak/strong)",
    ),
];

const CATEGORY_USAGE: &[ParameterSpec] = &[p(
    "top_k",
    "3",
    ParamKind::Int { min: 1, max: 20 },
    "categories returned per query",
)];

pub(super) const VERSIONS: &[FunctionVersion] = &[FunctionVersion {
    function: Function::Category,
    version_id: 301,
    version_name: "v1",
    function_type: "PAAS",
    model_type: "offline_inference",
    create_parameters: CATEGORY_CREATE,
    usage_parameters: CATEGORY_USAGE,
    depends: &[QUERY_DEP, ITEM_DEP],
}];
