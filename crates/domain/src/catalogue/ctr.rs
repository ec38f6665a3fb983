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
        "model",
        "auto",
        ParamKind::Choice(&["auto", "ffm", "deep", "lr"]),
        "auto: choose among configurations of every model on the validation examples; ffm: field-aware \
         factorization machine; deep: embeddings, pairwise interactions and a perceptron; lr: logistic \
         regression with crosses",
    ),
    p(
        "position_terms",
        "separate",
        ParamKind::Choice(&["separate", "joint"]),
        "separate: the examination curve is estimated on its own, from the same query and item shown at \
         different positions, and held fixed while the model learns relevance; joint: position terms are \
         learned with the model (for logs without repeated query and item pairs)",
    ),
    p(
        "tuning_budget_seconds",
        "60",
        ParamKind::Int { min: 1, max: 3600 },
        "model=auto: time of the comparison. Planned (beyond the plan, candidates are compared on a sample of the pages) and a deadline (no epoch starts after it; the leader so far is chosen: cut_by_clock)",
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
        "user_history",
        "0",
        ParamKind::Int { min: 0, max: 200 },
        "most recent items each user clicked (in the trained days, before the example) that form a field of their own (0: none)",
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
