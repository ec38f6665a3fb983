//! One module per family of operations.

pub mod app_groups;
pub mod data;
pub mod default_instance;
pub mod instances;
pub mod keys;
pub mod predict;
pub mod queries;
pub mod query_analysis;
pub mod resources;
mod serving_params;
pub mod tasks;
pub mod versions;

use std::sync::Arc;

use axum::extract::State;

use crate::ApiState;

pub type AppState = State<Arc<ApiState>>;
