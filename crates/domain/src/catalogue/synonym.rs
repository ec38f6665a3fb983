//! `synonym`: pairs of terms and phrases that mean the same, for query expansion.

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;

const SYNONYM_CREATE: &[ParameterSpec] = &[
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
        "most recent days held out for evaluation (the served pairs are then mined on the whole window)",
    ),
    p(
        "title_field",
        "title",
        ParamKind::Field,
        "item attribute holding the item title: its words cut Chinese queries and align pairs of titles",
    ),
    p(
        "session_minutes",
        "5",
        ParamKind::Int { min: 1, max: 120 },
        "a search followed within this many minutes by another search of the same user, which gets a click, is a reformulation",
    ),
    p(
        "min_clicks",
        "5",
        ParamKind::Int {
            min: 1,
            max: 100000,
        },
        "clicks a query needs before its clicks are compared with other queries'",
    ),
    p(
        "min_similarity",
        "0.6",
        SHARE,
        "co-click similarity (1 = clicks drawn from the same items, corrected for how few clicks were seen) a pair needs",
    ),
    p(
        "min_reformulations",
        "3",
        ParamKind::Int { min: 1, max: 10000 },
        "distinct users reformulating one query into the other that make a pair without enough co-clicks (one-way)",
    ),
    p(
        "max_synonyms",
        "8",
        ParamKind::Int { min: 1, max: 100 },
        "synonyms kept per term, best first",
    ),
    USER_QUERY_CAP,
    p(
        "intervention_dict",
        "",
        RAW_FILE,
        "raw_file resource with lines 'term<TAB>synonym<TAB>enabled|blocked': enabled pairs are always served, blocked never",
    ),
];

const SYNONYM_USAGE: &[ParameterSpec] = &[
    p(
        "max_expansions",
        "5",
        ParamKind::Int { min: 1, max: 100 },
        "synonyms returned per term of a query, best first",
    ),
    p(
        "min_score",
        "0",
        SHARE,
        "pairs scored below this are not served (intervened pairs always are)",
    ),
    p(
        "boost",
        "0.5",
        ParamKind::Float {
            min: 0.01,
            max: 1.0,
        },
        "weight of a synonym against the word typed in the query-analysis rewrite",
    ),
];

pub(super) const VERSIONS: &[FunctionVersion] = &[FunctionVersion {
    function: Function::Synonym,
    version_id: 901,
    version_name: "v1",
    function_type: "PAAS",
    model_type: "offline_inference",
    create_parameters: SYNONYM_CREATE,
    usage_parameters: SYNONYM_USAGE,
    depends: &[QUERY_DEP, ITEM_DEP],
}];
