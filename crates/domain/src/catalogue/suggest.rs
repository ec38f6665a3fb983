//! `suggest`: drop-down completion from the queries users searched.

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;

const SUGGEST_CREATE: &[ParameterSpec] = &[
    p(
        "train_window_days",
        "90",
        WINDOW_DAYS,
        "days of search behaviour counted (people search again for what they searched months ago)",
    ),
    p(
        "holdout_days",
        "1",
        HOLDOUT_DAYS,
        "most recent days held out for evaluation (the served index is then refit on the whole window); the \
         weight search replays the same number of days before them",
    ),
    p(
        "min_count",
        "1",
        ParamKind::Int {
            min: 1,
            max: 100000,
        },
        "searches a query needs to be suggested to everyone (with min_users)",
    ),
    p(
        "min_users",
        "2",
        ParamKind::Int { min: 1, max: 1000 },
        "distinct users who must have searched a query for it to be suggested to everyone; a query below it is \
         suggested only to the users who typed it (1 turns this privacy rule off)",
    ),
    p(
        "user_query_cap",
        "0",
        ParamKind::Int { min: 0, max: 1000 },
        "most searches of one query one user counts per UTC day in the configured weighting; 0 counts them all \
         (bots, spotted by their rate, never count)",
    ),
    DROP_NO_RESULT,
    p(
        "half_life_days",
        "14",
        HALF_LIFE_DAYS,
        "age at which a search counts half in the configured weighting",
    ),
    p(
        "click_weight",
        "0.3",
        ParamKind::Float { min: 0.0, max: 2.0 },
        "exponent of a query's smoothed click-through (relative to the average) in the configured weighting; 0 \
         ignores clicks",
    ),
    p(
        "personal_weight",
        "1",
        ParamKind::Float {
            min: 0.0,
            max: 1_000_000.0,
        },
        "weight of a user's own searches against the global list in the configured blend (0 ignores them, \
         1000000 puts them first)",
    ),
    p(
        "personal_half_life_days",
        "30",
        HALF_LIFE_DAYS,
        "age at which a user's own search counts half in the configured blend",
    ),
    p(
        "weight_search",
        "held_out",
        ParamKind::Choice(&["held_out", "off"]),
        "held_out: choose the weighting and the blend among the configured ones and a small grid by MRR on the \
         app's own searches of the days before the held-out ones; off: use the configured ones",
    ),
    p(
        "history_per_user",
        "100",
        ParamKind::Int { min: 1, max: 1000 },
        "distinct queries kept per user for personal completions (the most searched, recency-weighted)",
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

pub(super) const VERSIONS: &[FunctionVersion] = &[
    FunctionVersion {
        function: Function::Suggest,
        version_id: 601,
        version_name: "v1",
        function_type: "PAAS",
        model_type: "offline_inference",
        create_parameters: SUGGEST_CREATE,
        usage_parameters: &[],
        depends: &[QUERY_DEP],
    },
    FunctionVersion {
        function: Function::Suggest,
        version_id: 602,
        version_name: "v1-near-realtime",
        function_type: "PAAS",
        model_type: "near_realtime",
        create_parameters: SUGGEST_CREATE,
        usage_parameters: &[],
        depends: &[QUERY_DEP],
    },
];
