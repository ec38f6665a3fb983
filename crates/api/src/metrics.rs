//! `GET /metrics` in the Prometheus text format.
//!
//! Counted as requests arrive: requests by operation and outcome (`ok` or the error code) and their latency by
//! operation (serving is the `Predict`, `GetHotQueries`, `GetHints` and `GetSuggestions` operations), the time of
//! each stage of a query analysis, and the records of data pushes (stored, duplicates, refused). Read from the
//! store when scraped: task records by function and state, the run times of the successful ones, and the behaviour
//! events stored.

use std::time::Duration;

use algocenter_domain::Result;
use algocenter_serving::query_analysis::{STAGES, StageTime};
use algocenter_store::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: &'static str,
}

/// Bounds of the query-analysis stage histogram (seconds): a stage takes microseconds and its bar is 1 ms, so
/// 100 µs steps from 0.1 to 1 ms (a p99 read from the buckets is within 0.1 ms there), coarser around them.
const STAGE_BUCKETS: [f64; 25] = [
    0.000_005, 0.000_01, 0.000_02, 0.000_03, 0.000_05, 0.000_075, 0.000_1, 0.000_15, 0.000_2,
    0.000_3, 0.000_4, 0.000_5, 0.000_6, 0.000_7, 0.000_8, 0.000_9, 0.001, 0.001_25, 0.001_5, 0.002,
    0.003, 0.005, 0.01, 0.025, 0.1,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    function: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabels {
    function: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabels {
    result: &'static str,
}

/// The counters of one running server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabels, Histogram>,
    stage_times: Family<StageLabels, Histogram>,
    /// The histograms of [`STAGES`], taken out of the family once, so that a request's observations skip the
    /// family's map (its lock and hashing): the histograms share their counts with the family.
    stages: [(&'static str, Histogram); STAGES.len()],
    pushed: Family<RecordLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("algocenter");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by operation and outcome (ok, or the error code)",
            requests.clone(),
        );
        // 50 µs to ~1.6 s: serving answers in well under a millisecond, writes in a few.
        let latency = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        registry.register(
            "request_duration_seconds",
            "Time from routing to the answer, by operation",
            latency.clone(),
        );
        let stage_times = Family::<StageLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(STAGE_BUCKETS)
        });
        registry.register(
            "query_analysis_stage_seconds",
            "Time of each stage of a query analysis that ran (its instance look-up included), by stage",
            stage_times.clone(),
        );
        let stages = STAGES.map(|stage| {
            let histogram = stage_times.get_or_create(&StageLabels { stage }).clone();
            (stage, histogram)
        });
        let pushed = Family::<RecordLabels, Counter>::default();
        registry.register(
            "pushed_records",
            "Records of data pushes: stored, duplicate (already stored) or refused",
            pushed.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            stage_times,
            stages,
            pushed,
        }
    }
}

impl Metrics {
    /// One answered request of a routed operation.
    pub fn observe(&self, operation: &'static str, outcome: &'static str, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels { operation, outcome })
            .inc();
        self.latency
            .get_or_create(&OperationLabels { operation })
            .observe(took.as_secs_f64());
    }

    /// The stage times of one query analysis.
    pub fn query_analysis(&self, timings: &[StageTime]) {
        for t in timings {
            let seconds = t.took.as_secs_f64();
            match self.stages.iter().find(|(stage, _)| *stage == t.stage) {
                Some((_, histogram)) => histogram.observe(seconds),
                None => self
                    .stage_times
                    .get_or_create(&StageLabels { stage: t.stage })
                    .observe(seconds),
            }
        }
    }

    /// The outcome of one data push.
    pub fn pushed(&self, stored: u64, duplicates: u64, refused: u64) {
        for (result, n) in [
            ("stored", stored),
            ("duplicate", duplicates),
            ("refused", refused),
        ] {
            self.pushed
                .get_or_create(&RecordLabels { result })
                .inc_by(n);
        }
    }

    /// The text exposition: the live counters, then what the store holds now.
    pub async fn render(&self, store: &dyn Store) -> Result<String> {
        let counts = store.task_counts().await?;
        let times = store.training_times().await?;
        let events = store.events_stored().await?;

        let mut stored = Registry::with_prefix("algocenter");
        let tasks = Family::<TaskLabels, Gauge>::default();
        for c in &counts {
            tasks
                .get_or_create(&TaskLabels {
                    function: c.function.clone(),
                    state: c.state.clone(),
                })
                .set(c.tasks as i64);
        }
        stored.register(
            "tasks",
            "Task records by function and state (deleted records are not counted)",
            tasks,
        );
        // 0.1 s to ~55 min: a small instance trains in a second, 10 M events in under a minute.
        let training = Family::<FunctionLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.1, 2.0, 16))
        });
        for (function, ms) in &times {
            training
                .get_or_create(&FunctionLabels {
                    function: function.clone(),
                })
                .observe(*ms as f64 / 1000.0);
        }
        stored.register(
            "training_duration_seconds",
            "Run time of the stored successful tasks, by function",
            training,
        );
        let events_gauge = Gauge::<i64>::default();
        events_gauge.set(events as i64);
        stored.register(
            "events_stored",
            "Behaviour events in the store, all app groups",
            events_gauge,
        );

        let mut out = String::new();
        let failed = |e: std::fmt::Error| algocenter_domain::Error::internal(e.to_string());
        encode(&mut out, &self.registry).map_err(failed)?;
        // Each encoding ends with `# EOF`; one exposition has one.
        if let Some(body) = out.strip_suffix("# EOF\n") {
            out.truncate(body.len());
        }
        encode(&mut out, &stored).map_err(failed)?;
        Ok(out)
    }
}
