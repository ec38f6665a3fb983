//! Query analysis: `analyzer` (a tokenizer that knows the app's own words) and `termweight` (how much each word
//! of a query matters). A query-analysis rule combines them with `category` into one analysed query.

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;

/// The base analyzers an instance can start from.
pub const BASE_ANALYZERS: &[&str] = &["chinese_general", "english", "whitespace"];

const BASE_ANALYZER: ParameterSpec = p(
    "base_analyzer",
    "chinese_general",
    ParamKind::Choice(BASE_ANALYZERS),
    "chinese_general: a dictionary segmenter (jieba) for Chinese, words for other scripts; english: lower case \
     and Snowball stemming; whitespace: lower-cased words between spaces",
);
const TEXT_FIELDS: ParameterSpec = p(
    "text_fields",
    "title",
    ParamKind::FieldList,
    "comma-separated item attributes whose text is read (with the searches) to learn words",
);
const ENTITY_FIELDS: ParameterSpec = p(
    "entity_fields",
    "brand",
    ParamKind::FieldList,
    "comma-separated item attributes whose values become typed entities (the type is the attribute's name)",
);
const CATEGORY_FIELD: ParameterSpec = p(
    "category_field",
    "category",
    ParamKind::Field,
    "item attribute with the '>'-separated category path: each level's name becomes a 'category' entity; \
     empty for none",
);

const ANALYZER_CREATE: &[ParameterSpec] = &[
    p(
        "train_window_days",
        "30",
        WINDOW_DAYS,
        "days of searches read to learn words",
    ),
    p(
        "holdout_days",
        "1",
        HOLDOUT_DAYS,
        "most recent days whose queries measure the learned words (the served dictionary is then learned on the \
         whole window)",
    ),
    BASE_ANALYZER,
    TEXT_FIELDS,
    ENTITY_FIELDS,
    CATEGORY_FIELD,
    p(
        "min_count",
        "5",
        ParamKind::Int {
            min: 1,
            max: 1_000_000,
        },
        "occurrences (item texts plus searches after the anti-spam cap) a word needs to be learned",
    ),
    p(
        "min_cohesion",
        "2.5",
        ParamKind::Float {
            min: 0.0,
            max: 30.0,
        },
        "least cohesion of a learned word: the pointwise mutual information (natural log) of its weakest split",
    ),
    p(
        "min_boundary_entropy",
        "1.0",
        ParamKind::Float {
            min: 0.0,
            max: 20.0,
        },
        "least entropy (natural log) of the characters or words seen before and after a learned word",
    ),
    p(
        "learn_phrases",
        "true",
        BOOLEAN,
        "also learn names of several words (brands, product lines) and keep each as one token",
    ),
    USER_QUERY_CAP,
    p(
        "intervention_dict",
        "",
        RAW_FILE,
        "raw_file resource: 'word' (never split), 'word<TAB>type' (never split, an entity of that type) or \
         'phrase => sub phrase' (split so) per line",
    ),
];

const TERMWEIGHT_CREATE: &[ParameterSpec] = &[
    p(
        "train_window_days",
        "30",
        WINDOW_DAYS,
        "days of searches and clicks read for training",
    ),
    p(
        "holdout_days",
        "1",
        HOLDOUT_DAYS,
        "most recent days held out for evaluation (the served model is then refit on the whole window)",
    ),
    BASE_ANALYZER,
    TEXT_FIELDS,
    ENTITY_FIELDS,
    CATEGORY_FIELD,
    USER_QUERY_CAP,
    p(
        "learn_stop_words",
        "true",
        BOOLEAN,
        "terms that carry no weight anywhere (searched in at least 20 clicked searches, almost never in the \
         clicked items) become stop words",
    ),
    p(
        "stop_words",
        "",
        RAW_FILE,
        "raw_file resource: stop words, one per line",
    ),
    p(
        "intervention_dict",
        "",
        RAW_FILE,
        "raw_file resource: 'term<TAB>high|mid|low' per line, overriding the learned level",
    ),
];

const TERMWEIGHT_USAGE: &[ParameterSpec] = &[
    p(
        "high_weight",
        "0.6",
        SHARE,
        "least weight of a high-level term",
    ),
    p(
        "low_weight",
        "0.3",
        SHARE,
        "weights below this are low-level terms (optional in a rewritten query)",
    ),
];

pub(super) const VERSIONS: &[FunctionVersion] = &[
    FunctionVersion {
        function: Function::Analyzer,
        version_id: 701,
        version_name: "v1",
        function_type: "PAAS",
        model_type: "text",
        create_parameters: ANALYZER_CREATE,
        usage_parameters: &[],
        depends: &[ITEM_DEP, QUERY_DEP],
    },
    FunctionVersion {
        function: Function::Termweight,
        version_id: 801,
        version_name: "v1",
        function_type: "PAAS",
        model_type: "tf_checkpoint",
        create_parameters: TERMWEIGHT_CREATE,
        usage_parameters: TERMWEIGHT_USAGE,
        depends: &[QUERY_DEP, ITEM_DEP],
    },
];
