//! `ctr`: reranking by the predicted click-through of each item for a query, user and situation.

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;

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
        "latent_dim",
        "4",
        ParamKind::Int { min: 1, max: 16 },
        "length of the field-aware factor vectors",
    ),
    p(
        "max_epochs",
        "8",
        ParamKind::Int { min: 1, max: 50 },
        "passes over the training examples at most; training stops earlier when the validation loss rises",
    ),
    p(
        "learning_rate",
        "0.05",
        ParamKind::Float {
            min: 0.0001,
            max: 1.0,
        },
        "AdaGrad step size",
    ),
    p(
        "l2",
        "0.00002",
        ParamKind::Float { min: 0.0, max: 1.0 },
        "L2 regularisation of the weights",
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

pub(super) const VERSIONS: &[FunctionVersion] = &[FunctionVersion {
    function: Function::Ctr,
    version_id: 101,
    version_name: "v1",
    function_type: "PAAS",
    model_type: "tf_checkpoint",
    create_parameters: CTR_CREATE,
    usage_parameters: CTR_USAGE,
    depends: &[BEHAVIOUR_DEP, ITEM_DEP],
}];
