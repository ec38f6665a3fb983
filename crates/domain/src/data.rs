//! What trainers read: the behaviour events of a time window and the app group's documents, through
//! [`TrainingData`], and whether an app group has enough data to train a function ([`readiness`]).

use serde::Serialize;

use crate::behaviour::{BehaviourEvent, EventView};
use crate::document::{Document, DocumentKind};
use crate::error::Result;
use crate::function::Function;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day (days since the epoch) of an instant.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// `YYYY-MM-DD` of a UTC day.
pub fn day_label(day: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(day * DAY_MS)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Read access to one app group's data for a training run. Implemented by the store (streaming from disk) and
/// by in-memory data in tests. Callbacks may return an error (e.g. cancellation) to stop the scan.
pub trait TrainingData: Send {
    /// Calls `f` for every event with `from_ms <= bhv_time < to_ms`, in arrival order.
    fn for_each_event(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(&BehaviourEvent) -> Result<()>,
    ) -> Result<()>;

    /// About how many events [`Self::for_each_event`] will visit (for progress reports).
    fn estimate_events(&self, from_ms: i64, to_ms: i64) -> Result<u64>;

    /// Calls `f` for every document of the kind.
    fn for_each_document(
        &self,
        kind: DocumentKind,
        f: &mut dyn FnMut(&Document) -> Result<()>,
    ) -> Result<()>;

    /// The stored blocks of events whose newest event time is at or after `newest_from_ms`, without their
    /// events. Each event is in exactly one block, and a block's id never names another block while it is
    /// stored; but ids do not follow the order in which blocks become visible (concurrent pushes commit in any
    /// order), so a reader that follows new blocks keeps the ids it has read, not only the highest.
    fn recent_blocks(&self, newest_from_ms: i64) -> Result<Vec<BlockRef>>;

    /// Calls `f` for every event of block `id` of behaviour type `only` (every event when `None`), in arrival
    /// order (none if the block is gone), as views borrowed from the decoded block: a follower of new blocks reads
    /// every pushed event and keeps few of them, so it should not pay for owned copies of all, nor look at the
    /// text of events of other types.
    fn for_each_event_of_block(
        &self,
        id: i64,
        only: Option<&str>,
        f: &mut dyn FnMut(&EventView<'_>) -> Result<()>,
    ) -> Result<()>;
}

/// A stored block of events, as [`TrainingData::recent_blocks`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRef {
    pub id: i64,
    /// The `bhv_time` of its newest event.
    pub newest_ms: i64,
}

/// Data as plain vectors (tests, and small imports).
#[derive(Default)]
pub struct InMemoryData {
    pub events: Vec<BehaviourEvent>,
    pub items: Vec<Document>,
    pub users: Vec<Document>,
}

impl TrainingData for InMemoryData {
    fn for_each_event(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: &mut dyn FnMut(&BehaviourEvent) -> Result<()>,
    ) -> Result<()> {
        self.events
            .iter()
            .filter(|e| e.bhv_time_ms >= from_ms && e.bhv_time_ms < to_ms)
            .try_for_each(f)
    }

    fn estimate_events(&self, from_ms: i64, to_ms: i64) -> Result<u64> {
        Ok(self
            .events
            .iter()
            .filter(|e| e.bhv_time_ms >= from_ms && e.bhv_time_ms < to_ms)
            .count() as u64)
    }

    fn for_each_document(
        &self,
        kind: DocumentKind,
        f: &mut dyn FnMut(&Document) -> Result<()>,
    ) -> Result<()> {
        match kind {
            DocumentKind::Item => self.items.iter().try_for_each(f),
            DocumentKind::User => self.users.iter().try_for_each(f),
        }
    }

    /// Each event is a block of its own, its id its position.
    fn recent_blocks(&self, newest_from_ms: i64) -> Result<Vec<BlockRef>> {
        Ok(self
            .events
            .iter()
            .zip(0..)
            .filter(|(e, _)| e.bhv_time_ms >= newest_from_ms)
            .map(|(e, id)| BlockRef {
                id,
                newest_ms: e.bhv_time_ms,
            })
            .collect())
    }

    fn for_each_event_of_block(
        &self,
        id: i64,
        only: Option<&str>,
        f: &mut dyn FnMut(&EventView<'_>) -> Result<()>,
    ) -> Result<()> {
        match usize::try_from(id).ok().and_then(|i| self.events.get(i)) {
            Some(e) if only.is_none_or(|t| t == e.bhv_type) => f(&EventView::of(e)),
            _ => Ok(()),
        }
    }
}

/// Event counts of a window, by behaviour type, as the data status reports them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WindowCounts {
    pub searches: u64,
    pub exposures: u64,
    pub clicks: u64,
    /// Events of every type but `search` and `expose` (clicks, carts, purchases, likes, …).
    pub engagements: u64,
    pub distinct_items: u64,
}

/// Whether a function can be trained on a window's data, and if not, why.
#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    pub function: &'static str,
    pub ready: bool,
    pub reason: String,
}

/// Minimum data per function (documented in the README): below it a task fails with "insufficient data".
pub fn minimum(function: Function) -> &'static [(&'static str, u64)] {
    match function {
        Function::Pop => &[("engagements", 100), ("distinct_items", 10)],
        Function::Ctr => &[("exposures", 1000), ("clicks", 100)],
        Function::Category => &[("searches", 200), ("clicks", 100)],
        Function::Hot | Function::Hint | Function::Suggest | Function::Correction => {
            &[("searches", 100)]
        }
        // Useful without behaviour: the base analyzer and the dictionaries; items and searches teach it words.
        Function::Analyzer => &[],
        Function::Termweight | Function::Synonym => &[("searches", 200), ("clicks", 100)],
        Function::Rank => &[("exposures", 1000), ("clicks", 100)],
    }
}

fn value(counts: &WindowCounts, name: &str) -> u64 {
    match name {
        "searches" => counts.searches,
        "exposures" => counts.exposures,
        "clicks" => counts.clicks,
        "engagements" => counts.engagements,
        "distinct_items" => counts.distinct_items,
        _ => 0,
    }
}

/// Checks a window's counts against [`minimum`].
pub fn readiness(function: Function, counts: &WindowCounts) -> Readiness {
    let missing: Vec<String> = minimum(function)
        .iter()
        .filter(|(name, min)| value(counts, name) < *min)
        .map(|(name, min)| format!("{name}: {} of {min} needed", value(counts, name)))
        .collect();
    Readiness {
        function: function.as_str(),
        ready: missing.is_empty(),
        reason: if missing.is_empty() {
            "enough data".into()
        } else {
            missing.join("; ")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_calendar_days() {
        assert_eq!(day_label(day_of(1_600_000_000_000)), "2020-09-13");
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn readiness_names_what_is_missing() {
        let counts = WindowCounts {
            searches: 150,
            exposures: 10,
            clicks: 5,
            engagements: 300,
            distinct_items: 40,
        };
        assert!(readiness(Function::Pop, &counts).ready);
        assert!(readiness(Function::Hot, &counts).ready);
        let ctr = readiness(Function::Ctr, &counts);
        assert!(!ctr.ready);
        assert_eq!(
            ctr.reason,
            "exposures: 10 of 1000 needed; clicks: 5 of 100 needed"
        );
    }
}
