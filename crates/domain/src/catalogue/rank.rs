//! `rank`: a custom sort model, learnt to rank from graded behaviour over the features of a `feature_generator`
//! resource.

use super::shared::*;
use super::{FunctionVersion, ParamKind, ParameterSpec};
use crate::function::Function;
use crate::resource::ResourceType;

const RANK_CREATE: &[ParameterSpec] = &[
    p(
        "feature_generator",
        "",
        ParamKind::Resource(ResourceType::FeatureGenerator),
        "feature_generator resource of the rank function whose generators make the features (empty: the built-in set)",
    ),
    p(
        "title_field",
        "title",
        ParamKind::Field,
        "item attribute the built-in features compare the query with (empty: none)",
    ),
    p(
        "category_field",
        "category",
        ParamKind::Field,
        "item attribute the built-in features read the category from (empty: none)",
    ),
    p(
        "label_weights",
        "expose:0,click:1,cart:2,buy:3",
        ParamKind::BehaviourWeights,
        "grade of an exposure by the behaviour that followed it (the highest counts)",
    ),
    p(
        "attribution_window_minutes",
        "120",
        ParamKind::Int { min: 1, max: 10080 },
        "how long after an exposure a behaviour still grades it",
    ),
    p(
        "position_debiasing",
        "ipw",
        ParamKind::Choice(&["ipw", "none"]),
        "ipw: pairs are weighted by the inverse examination propensity of the better item's logged position, \
         estimated from the logs; none: no correction",
    ),
    p(
        "ctr_instance",
        "",
        ParamKind::Instance(Function::Ctr),
        "ctr instance whose serving model's score is one more feature (empty: none)",
    ),
    p(
        "ctr_folds",
        "2",
        ParamKind::Int { min: 2, max: 14 },
        "with ctr_instance: the training days are dealt into this many folds by day, and each fold's days get \
         their ctr score from a ctr model trained without them (the served instance's score is in-sample there)",
    ),
    p(
        "ctr_as",
        "start",
        ParamKind::Choice(&["start", "feature"]),
        "with ctr_instance: start: boosting starts from the logit of the ctr score (the trees learn what the ctr \
         model misses; with no tree that helps on validation the order is the ctr instance's), the score also a \
         feature; feature: the score is a feature only",
    ),
    p(
        "num_trees",
        "300",
        ParamKind::Int { min: 1, max: 3000 },
        "boosting rounds at most; training stops earlier when the validation NDCG@10 stops rising",
    ),
    p(
        "learning_rate",
        "0.1",
        ParamKind::Float {
            min: 0.001,
            max: 1.0,
        },
        "shrinkage of every tree",
    ),
    p(
        "num_leaves",
        "31",
        ParamKind::Int { min: 2, max: 255 },
        "leaves of each tree at most (trees grow best leaf first)",
    ),
    p(
        "min_data_in_leaf",
        "20",
        ParamKind::Int {
            min: 1,
            max: 100000,
        },
        "examples a leaf needs at least",
    ),
    p(
        "max_bins",
        "63",
        ParamKind::Int { min: 4, max: 255 },
        "histogram bins per feature",
    ),
    p(
        "l2",
        "1",
        ParamKind::Float {
            min: 0.0,
            max: 1000.0,
        },
        "L2 regularisation of the leaf values",
    ),
    p(
        "early_stopping_rounds",
        "20",
        ParamKind::Int { min: 1, max: 1000 },
        "rounds without a better validation NDCG@10 before training stops",
    ),
    p(
        "validation_share",
        "0.1",
        ParamKind::Float {
            min: 0.01,
            max: 0.5,
        },
        "most recent share of the training searches used for early stopping (not trained on)",
    ),
    p(
        "min_count",
        "5",
        ParamKind::Int { min: 1, max: 1000 },
        "id and combo values seen fewer times in training are unknown values",
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
        "0",
        SHARE,
        "held-out NDCG@10 a generation needs to become the serving generation",
    ),
];

const RANK_USAGE: &[ParameterSpec] = &[p(
    "explain_top",
    "5",
    ParamKind::Int { min: 1, max: 100 },
    "largest feature contributions listed per item when a request asks for explanations",
)];

pub(super) const VERSIONS: &[FunctionVersion] = &[FunctionVersion {
    function: Function::Rank,
    version_id: 1101,
    version_name: "v1",
    function_type: "PAAS",
    model_type: "tf_checkpoint",
    create_parameters: RANK_CREATE,
    usage_parameters: RANK_USAGE,
    depends: &[BEHAVIOUR_DEP, ITEM_DEP],
}];
