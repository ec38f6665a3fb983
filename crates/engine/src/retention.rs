//! Deletes behaviour events older than the retention period, at start-up and then every `retention_every`.

use std::sync::Arc;

use algocenter_domain::data::DAY_MS;
use algocenter_domain::now_ms;

use crate::Engine;

pub(crate) async fn run(engine: Arc<Engine>) {
    loop {
        let cutoff = now_ms() - i64::from(engine.config.event_retention_days) * DAY_MS;
        match engine.store.delete_events_before(cutoff).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(
                events = deleted,
                "deleted behaviour events past their retention"
            ),
            Err(e) => tracing::error!(error = %e, "event retention failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(engine.config.retention_every) => {}
            _ = engine.shutting_down() => break,
        }
    }
}
