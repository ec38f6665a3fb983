//! Request parameters shared by the serving routes: the v3 data-plane paths read them from the query string, the
//! v4 `predict` bodies from JSON, and both check them the same way.

use algocenter_domain::Error;
use algocenter_serving::query_list::ListOrder;

use crate::envelope::ApiError;

/// Longest `query` (bytes) a serving request may send.
pub const MAX_QUERY_BYTES: usize = 256;
/// Longest `user_id` (bytes).
pub const MAX_USER_ID_BYTES: usize = 256;

/// `hit`, an integer in `1..=max`; `None` when absent (the function's default applies).
pub fn hit(raw: Option<&str>, max: usize) -> Result<Option<usize>, ApiError> {
    match raw {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError(Error::invalid(format_args!(
                "hit must be an integer from 1 to {max}, got '{raw}'."
            )))),
        },
    }
}

/// `sort_type`: `default` (the instance's `sort_type`), `pv` or `uv`.
pub fn list_order(raw: Option<&str>) -> Result<ListOrder, ApiError> {
    match raw {
        None | Some("default") => Ok(ListOrder::Default),
        Some("pv") => Ok(ListOrder::Pv),
        Some("uv") => Ok(ListOrder::Uv),
        Some(other) => Err(ApiError(Error::invalid(format_args!(
            "sort_type must be default, pv or uv, got '{other}'."
        )))),
    }
}

pub fn user_id(raw: Option<&str>) -> Result<Option<&str>, ApiError> {
    match raw {
        Some(u) if u.len() > MAX_USER_ID_BYTES => Err(ApiError(Error::invalid(format_args!(
            "user_id exceeds {MAX_USER_ID_BYTES} bytes."
        )))),
        other => Ok(other),
    }
}

pub fn typed_query(raw: &str) -> Result<&str, ApiError> {
    if raw.len() > MAX_QUERY_BYTES {
        return Err(ApiError(Error::invalid(format_args!(
            "query exceeds {MAX_QUERY_BYTES} bytes."
        ))));
    }
    Ok(raw)
}
