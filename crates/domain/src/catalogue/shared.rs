//! Parameter kinds, parameters and data dependencies that several function families list.

use super::{Dependency, ParamKind, ParameterSpec};
use crate::resource::ResourceType;

pub(super) const fn p(
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

pub(super) const fn required(
    name: &'static str,
    kind: ParamKind,
    description: &'static str,
) -> ParameterSpec {
    ParameterSpec {
        name,
        required: true,
        default: "",
        kind,
        description,
    }
}

pub(super) const WINDOW_DAYS: ParamKind = ParamKind::Int { min: 1, max: 365 };
pub(super) const HOLDOUT_DAYS: ParamKind = ParamKind::Int { min: 1, max: 30 };
pub(super) const RAW_FILE: ParamKind = ParamKind::Resource(ResourceType::RawFile);
pub(super) const SHARE: ParamKind = ParamKind::Float { min: 0.0, max: 1.0 };

pub(super) const USER_QUERY_CAP: ParameterSpec = p(
    "user_query_cap",
    "3",
    ParamKind::Int { min: 1, max: 1000 },
    "most searches (and clicks) one user counts for one query per day (anti-spam)",
);
pub(super) const DROP_NO_RESULT: ParameterSpec = p(
    "drop_no_result",
    "true",
    BOOLEAN,
    "ignore searches that returned no results (hits=0)",
);
pub(super) const DROP_NO_CLICK: ParameterSpec = p(
    "drop_no_click",
    "false",
    BOOLEAN,
    "ignore searches not followed by a click (joined by rn)",
);
pub(super) const BOOLEAN: ParamKind = ParamKind::Choice(&["true", "false"]);
pub(super) const HALF_LIFE_DAYS: ParamKind = ParamKind::Float {
    min: 0.1,
    max: 365.0,
};

pub(super) const BEHAVIOUR_DEP: Dependency = Dependency {
    dependency: "behavior",
    condition: "events pushed to the app group's behavior data collection",
    description: "training reads the behaviour events of the training window",
};
pub(super) const QUERY_DEP: Dependency = Dependency {
    dependency: "behavior.search",
    condition: "bhv_type=search events carrying raw_query",
    description: "query functions learn from searches and the clicks joined to them by rn",
};
pub(super) const ITEM_DEP: Dependency = Dependency {
    dependency: "item_info",
    condition: "items pushed to the app group's item_info data collection",
    description: "item attributes (title, category) are read through the field parameters",
};
