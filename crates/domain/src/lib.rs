//! algocenter's domain: the vocabulary shared by every other crate (app groups, functions, instances, tasks and
//! generations, resources), their validation rules, the built-in function catalogue and the error codes.
//! It depends on no other algocenter crate.

pub mod access_key;
pub mod app_group;
pub mod behaviour;
pub mod catalogue;
pub mod data;
pub mod document;
pub mod error;
pub mod function;
pub mod instance;
pub mod names;
pub mod paging;
pub mod push;
pub mod query_rule;
pub mod resource;
pub mod schedule;
pub mod sketch;
pub mod task;

pub use error::{Error, Result};
pub use function::Function;

/// Milliseconds since the Unix epoch, the time unit of every API field.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
