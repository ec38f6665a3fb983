//! Searches seen after a generation was trained (the live tail of `near_realtime` instances), as the query
//! functions read them: normalised, with the spelling the user typed.

use super::{is_usable, normalise};

/// A search the live tail saw after the generation was trained.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveSearch {
    pub normal: String,
    pub display: String,
    pub at_ms: i64,
}

impl LiveSearch {
    /// A live search of `raw_query`, `None` when the query is not one the query functions keep.
    pub fn new(raw_query: &str, at_ms: i64) -> Option<LiveSearch> {
        let normal = normalise(raw_query);
        is_usable(&normal).then(|| LiveSearch {
            normal,
            display: raw_query.split_whitespace().collect::<Vec<_>>().join(" "),
            at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_searches_are_normalised_and_unusable_ones_dropped() {
        let live = LiveSearch::new("  Nike   Shoes ", 5).unwrap();
        assert_eq!(
            (live.normal.as_str(), live.display.as_str()),
            ("nike shoes", "Nike Shoes")
        );
        assert!(LiveSearch::new("!!!", 5).is_none());
    }
}
