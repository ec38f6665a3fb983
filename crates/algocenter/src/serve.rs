//! `algocenter serve`: wires store, artifacts, engine and API together and runs until SIGTERM/SIGINT.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use algocenter_api::{ApiState, Limits};
use algocenter_engine::{Engine, EngineConfig};
use algocenter_functions::Trainers;
use algocenter_store::artifacts::LocalArtifacts;
use algocenter_store::sqlite::{SqliteStore, Synchronous};
use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, ServeArgs, SyncMode};
use crate::config::ServeConfig;

pub async fn run(args: ServeArgs) -> ExitCode {
    let config = match ServeConfig::resolve(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    match serve(config, Trainers::builtin()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Installs the log subscriber (once per process; later calls are ignored).
pub fn init_logging(config: &ServeConfig) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match config.log_format {
        LogFormat::Text => {
            let _ = builder.try_init();
        }
        LogFormat::Json => {
            let _ = builder.json().try_init();
        }
    }
}

/// Runs the server with the given trainers until SIGTERM/SIGINT.
pub async fn serve(config: ServeConfig, trainers: Trainers) -> Result<(), String> {
    let synchronous = match config.sqlite_synchronous {
        SyncMode::Normal => Synchronous::Normal,
        SyncMode::Full => Synchronous::Full,
    };
    let store =
        Arc::new(SqliteStore::open(&config.data_dir, 8, synchronous).map_err(|e| e.to_string())?);
    let artifacts =
        LocalArtifacts::open(config.data_dir.join("artifacts")).map_err(|e| e.to_string())?;
    let engine_config = EngineConfig {
        workers: config.workers,
        lease: config.lease,
        keep_generations: config.keep_generations,
        shutdown_grace: config.shutdown_grace,
        event_retention_days: config.event_retention_days,
        exclusive_store: true,
        ..EngineConfig::default()
    };
    let engine = Engine::new(
        Arc::clone(&store) as Arc<dyn algocenter_store::Store>,
        Arc::new(artifacts),
        trainers,
        engine_config,
    );
    let engine_handle = engine
        .start()
        .await
        .map_err(|e| format!("start-up recovery failed: {e}"))?;
    let limits = Limits {
        max_body_bytes: config.max_body_bytes,
        max_push_bytes: config.max_push_bytes,
    };
    let state = Arc::new(ApiState::new(
        Arc::clone(&engine),
        limits,
        config.event_retention_days,
    ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(data_dir = %config.data_dir.display(), workers = config.workers, "listening on {address}");

    let stopping = Arc::clone(&engine);
    axum::serve(listener, algocenter_api::router(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!(
                "shutting down: no new requests or tasks; running tasks get their grace period"
            );
            stopping.begin_shutdown();
        })
        .await
        .map_err(|e| format!("server error: {e}"))?;
    engine_handle.shutdown().await;
    if let Err(e) = store.checkpoint().await {
        tracing::warn!(error = %e, "could not checkpoint the database at shutdown");
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
