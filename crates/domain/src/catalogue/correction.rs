//! `correction`: spelling correction of queries (OpenSearch offers it inside query analysis only).

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;

const CORRECTION_CREATE: &[ParameterSpec] = &[
    p(
        "train_window_days",
        "30",
        WINDOW_DAYS,
        "days of search behaviour read for training",
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
        "item attribute holding the item title: its words are correction targets too",
    ),
    p(
        "min_target_users",
        "2",
        ParamKind::Int { min: 1, max: 10000 },
        "distinct users who searched a query and clicked that make it a correction target (and never corrected)",
    ),
    p(
        "max_edit_distance",
        "2",
        ParamKind::Int { min: 1, max: 2 },
        "most edits between a misspelled word and its correction (keyboard neighbours and swapped letters weigh less)",
    ),
    p(
        "session_minutes",
        "5",
        ParamKind::Int { min: 1, max: 120 },
        "a search without a click followed within this many minutes by a similar one of the same user that gets a click is a correction users made",
    ),
    p(
        "min_reformulations",
        "2",
        ParamKind::Int { min: 1, max: 10000 },
        "distinct users who made one correction that make it a confident rewrite on its own",
    ),
    p(
        "pinyin",
        "true",
        BOOLEAN,
        "also correct Chinese homophones and queries typed as pinyin",
    ),
    USER_QUERY_CAP,
    p(
        "intervention_dict",
        "",
        RAW_FILE,
        "raw_file resource with lines 'wrong<TAB>right' (always rewritten) and 'never<TAB>query' (never corrected)",
    ),
];

const CORRECTION_USAGE: &[ParameterSpec] = &[p(
    "did_you_mean",
    "true",
    BOOLEAN,
    "also answer less certain corrections as suggestions (level 2); false answers rewrites (level 1) only",
)];

pub(super) const VERSIONS: &[FunctionVersion] = &[FunctionVersion {
    function: Function::Correction,
    version_id: 1001,
    version_name: "v1",
    function_type: "PAAS",
    model_type: "offline_inference",
    create_parameters: CORRECTION_CREATE,
    usage_parameters: CORRECTION_USAGE,
    depends: &[QUERY_DEP, ITEM_DEP],
}];
