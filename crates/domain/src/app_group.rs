//! App groups: the applications that own instances, resources and data.

use serde_json::{Map, Value};

/// Request fields of CreateAppGroup that algocenter interprets. Everything else the SDK sends (`quota`, `tags`,
/// `resourceGroupId`, `chargeType`, unknown keys) is kept verbatim in [`AppGroup::extra`] and echoed back.
pub const INTERPRETED_FIELDS: [&str; 3] = ["name", "type", "description"];

/// App group types of the SDK; `enhanced` (Industry Algorithm Edition) is the default since it is the edition that
/// has the algorithm center.
pub const APP_GROUP_TYPES: [&str; 2] = ["enhanced", "standard"];

#[derive(Clone, Debug, PartialEq)]
pub struct AppGroup {
    pub id: i64,
    pub name: String,
    pub app_type: String,
    pub description: String,
    /// Accepted but uninterpreted request fields, echoed in responses.
    pub extra: Map<String, Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Clone, Debug)]
pub struct NewAppGroup {
    pub name: String,
    pub app_type: String,
    pub description: String,
    pub extra: Map<String, Value>,
}
