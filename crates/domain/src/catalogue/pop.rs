//! `pop`: a popularity score per item from its weighted, decayed behaviour.

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;

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

pub(super) const VERSIONS: &[FunctionVersion] = &[FunctionVersion {
    function: Function::Pop,
    version_id: 201,
    version_name: "v1",
    function_type: "PAAS",
    model_type: "pop",
    create_parameters: POP_CREATE,
    usage_parameters: POP_USAGE,
    depends: &[BEHAVIOUR_DEP],
}];
