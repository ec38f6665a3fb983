//! The built-in function catalogue: which model types each function offers and the create and usage parameters
//! that its trainer and its server honour (GetFunctionCurrentVersion / GetFunctionVersion, spec §4.4 and §9).
//!
//! The catalogue is the contract between an instance and the trainer of its function: every parameter listed here
//! is validated at create/update time and read by the trainer or the server; a trainer reads parameters only through
//! [`EffectiveParameters`], which refuses names that are not listed (DESIGN invariant 7).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::function::Function;
use crate::resource::ResourceType;

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

const fn p(
    name: &'static str,
    default: &'static str,
    kind: ParamKind,
    description: &'static str,
) -> ParameterSpec {
    ParameterSpec {
        name,
        required: false,
        default,
        kind,
        description,
    }
}

const fn required(name: &'static str, kind: ParamKind, description: &'static str) -> ParameterSpec {
    ParameterSpec {
        name,
        required: true,
        default: "",
        kind,
        description,
    }
}

const WINDOW_DAYS: ParamKind = ParamKind::Int { min: 1, max: 365 };
const HOLDOUT_DAYS: ParamKind = ParamKind::Int { min: 1, max: 30 };
const RAW_FILE: ParamKind = ParamKind::Resource(ResourceType::RawFile);
const SHARE: ParamKind = ParamKind::Float { min: 0.0, max: 1.0 };

const CTR_CREATE: &[ParameterSpec] = &[
    required(
        "id_field",
        ParamKind::Field,
        "item attribute holding the item id",
    ),
    required(
        "title_field",
        ParamKind::Field,
        "item attribute holding the item title",
    ),
    p(
        "category_field",
        "category",
        ParamKind::Field,
        "item attribute holding the '>'-separated category path",
    ),
    p(
        "tags_field",
        "",
        ParamKind::Field,
        "item attribute holding comma-separated tags (empty: unused)",
    ),
    p(
        "description_field",
        "",
        ParamKind::Field,
        "item attribute holding a description (empty: unused)",
    ),
    p(
        "positive_behaviors",
        "click,cart,buy",
        ParamKind::BehaviourList,
        "behaviour types that label an exposure as clicked",
    ),
    p(
        "attribution_window_minutes",
        "30",
        ParamKind::Int { min: 1, max: 10080 },
        "how long after an exposure a click still counts",
    ),
    p(
        "min_count",
        "5",
        ParamKind::Int { min: 1, max: 1000 },
        "feature values seen fewer times fall into the out-of-vocabulary bucket",
    ),
    p(
        "model",
        "auto",
        ParamKind::Choice(&["auto", "ffm", "deep", "lr"]),
        "auto: choose among configurations of every model on the validation examples; ffm: field-aware \
         factorization machine; deep: embeddings, pairwise interactions and a perceptron; lr: logistic \
         regression with crosses",
    ),
    p(
        "tuning_budget_seconds",
        "60",
        ParamKind::Int { min: 1, max: 3600 },
        "model=auto: planned time of the comparison; beyond it candidates are compared on a sample of the pages",
    ),
    p(
        "latent_dim",
        "4",
        ParamKind::Int { min: 1, max: 16 },
        "model=ffm: length of the field-aware factor vectors",
    ),
    p(
        "max_epochs",
        "30",
        ParamKind::Int { min: 1, max: 100 },
        "passes over the training examples at most; training stops earlier when the validation loss rises",
    ),
    p(
        "learning_rate",
        "0.05",
        ParamKind::Float {
            min: 0.0001,
            max: 1.0,
        },
        "model=ffm or lr: AdaGrad step size",
    ),
    p(
        "l2",
        "0.00002",
        ParamKind::Float { min: 0.0, max: 1.0 },
        "model=ffm or lr: L2 regularisation of the weights",
    ),
    p(
        "embedding_dim",
        "16",
        ParamKind::Int { min: 1, max: 64 },
        "model=deep: length of each feature value's embedding",
    ),
    p(
        "hidden_units",
        "256",
        ParamKind::Int { min: 0, max: 1024 },
        "model=deep: width of the first hidden layer; the second has half of it (0: no perceptron)",
    ),
    p(
        "deep_learning_rate",
        "0.003",
        ParamKind::Float {
            min: 0.00001,
            max: 0.1,
        },
        "model=deep: Adam step size (a tenth of it after the first validation plateau)",
    ),
    p(
        "batch_size",
        "256",
        ParamKind::Int {
            min: 16,
            max: 16384,
        },
        "model=deep: examples per minibatch",
    ),
    p(
        "embedding_l2",
        "0.001",
        ParamKind::Float { min: 0.0, max: 1.0 },
        "model=deep: L2 on the whole embedding table at every step",
    ),
    p(
        "threads",
        "2",
        ParamKind::Int { min: 1, max: 64 },
        "training threads; the same data, seed and threads give the same model",
    ),
    p(
        "validation_share",
        "0.1",
        ParamKind::Float {
            min: 0.01,
            max: 0.5,
        },
        "most recent share of the training examples used for early stopping (not trained on)",
    ),
    p(
        "seed",
        "1",
        ParamKind::Int {
            min: 0,
            max: 2_147_483_647,
        },
        "seed of the initial weights and of the example order: the same data and seed give the same model",
    ),
    p(
        "train_window_days",
        "14",
        WINDOW_DAYS,
        "days of behaviour read for training",
    ),
    p(
        "holdout_days",
        "1",
        HOLDOUT_DAYS,
        "most recent days held out for evaluation, never trained on",
    ),
    p(
        "available_threshold",
        "0.55",
        SHARE,
        "held-out AUC a generation needs to become the serving generation",
    ),
];

const CTR_USAGE: &[ParameterSpec] = &[p(
    "serving_position",
    "1",
    ParamKind::Int { min: 1, max: 100 },
    "the result position every candidate is scored at, so that the ranking is not the old order's",
)];

const POP_CREATE: &[ParameterSpec] = &[
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
        "most recent days held out for evaluation, never trained on",
    ),
    p(
        "half_life_days",
        "14",
        ParamKind::Float {
            min: 0.1,
            max: 365.0,
        },
        "age at which a behaviour counts half",
    ),
    p(
        "behavior_weights",
        "expose:0.05,click:1,collect:1,like:1,comment:1,cart:2,buy:3",
        ParamKind::BehaviourWeights,
        "weight of each behaviour type in the popularity count",
    ),
    p(
        "min_evidence",
        "5",
        ParamKind::Int {
            min: 0,
            max: 100000,
        },
        "items with fewer weighted events get no score (served the default_score)",
    ),
    p(
        "smoothing",
        "20",
        ParamKind::Float {
            min: 0.0,
            max: 100000.0,
        },
        "pseudo-count pulling click-through and conversion rates to the category mean",
    ),
    p(
        "category_field",
        "category",
        ParamKind::Field,
        "item attribute holding the category whose rates the smoothing pulls towards",
    ),
];

const POP_USAGE: &[ParameterSpec] = &[p(
    "default_score",
    "0",
    SHARE,
    "score served for items without popularity data",
)];

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

const USER_QUERY_CAP: ParameterSpec = p(
    "user_query_cap",
    "3",
    ParamKind::Int { min: 1, max: 1000 },
    "most searches (and clicks) one user counts for one query per day (anti-spam)",
);
const DROP_NO_RESULT: ParameterSpec = p(
    "drop_no_result",
    "true",
    BOOLEAN,
    "ignore searches that returned no results (hits=0)",
);
const DROP_NO_CLICK: ParameterSpec = p(
    "drop_no_click",
    "false",
    BOOLEAN,
    "ignore searches not followed by a click (joined by rn)",
);
const BOOLEAN: ParamKind = ParamKind::Choice(&["true", "false"]);
const HALF_LIFE_DAYS: ParamKind = ParamKind::Float {
    min: 0.1,
    max: 365.0,
};

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

const BEHAVIOUR_DEP: Dependency = Dependency {
    dependency: "behavior",
    condition: "events pushed to the app group's behavior data collection",
    description: "training reads the behaviour events of the training window",
};
const QUERY_DEP: Dependency = Dependency {
    dependency: "behavior.search",
    condition: "bhv_type=search events carrying raw_query",
    description: "query functions learn from searches and the clicks joined to them by rn",
};
const ITEM_DEP: Dependency = Dependency {
    dependency: "item_info",
    condition: "items pushed to the app group's item_info data collection",
    description: "item attributes (title, category) are read through the field parameters",
};

static VERSIONS: &[FunctionVersion] = &[
    FunctionVersion {
        function: Function::Ctr,
        version_id: 101,
        version_name: "v1",
        function_type: "PAAS",
        model_type: "tf_checkpoint",
        create_parameters: CTR_CREATE,
        usage_parameters: CTR_USAGE,
        depends: &[BEHAVIOUR_DEP, ITEM_DEP],
    },
    FunctionVersion {
        function: Function::Pop,
        version_id: 201,
        version_name: "v1",
        function_type: "PAAS",
        model_type: "pop",
        create_parameters: POP_CREATE,
        usage_parameters: POP_USAGE,
        depends: &[BEHAVIOUR_DEP],
    },
    FunctionVersion {
        function: Function::Category,
        version_id: 301,
        version_name: "v1",
        function_type: "PAAS",
        model_type: "offline_inference",
        create_parameters: CATEGORY_CREATE,
        usage_parameters: CATEGORY_USAGE,
        depends: &[QUERY_DEP, ITEM_DEP],
    },
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
];

/// All catalogue entries.
pub fn versions() -> &'static [FunctionVersion] {
    VERSIONS
}

/// Model types a function offers, for error messages.
pub fn model_types(function: Function) -> Vec<&'static str> {
    VERSIONS
        .iter()
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
    VERSIONS
        .iter()
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
    VERSIONS
        .iter()
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
    VERSIONS
        .iter()
        .find(|v| v.function == function && v.version_id == id)
        .ok_or_else(|| {
            Error::VersionNotExist(format!(
                "function '{function}' has no version '{version_id}'"
            ))
        })
}

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
fn check_value(spec: &ParameterSpec, value: &str) -> std::result::Result<(), String> {
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

    fn param(name: &str, value: &str) -> Parameter {
        Parameter {
            name: name.into(),
            value: value.into(),
        }
    }

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
        let mut ids: Vec<_> = versions().iter().map(|v| v.version_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), versions().len());
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
