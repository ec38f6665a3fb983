//! `algocenter serve` and `algocenter worker`: the resolved configuration turned into the server's (with the
//! environment's master and bootstrap keys), logging, and the server run until SIGTERM/SIGINT. The wiring itself
//! is `algocenter-server`'s, which the in-process tests start too.

use std::io::IsTerminal;
use std::process::ExitCode;

use algocenter_api::Limits;
use algocenter_api::gate::GateConfig;
use algocenter_auth::sealing::MasterKey;
use algocenter_engine::EngineConfig;
use algocenter_functions::Trainers;
use algocenter_server::{Access, Database, MasterKeySource, ServerConfig};
use algocenter_store::sqlite::Synchronous;
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

/// `algocenter worker`: the task engine without the API, on the database other processes share.
pub async fn run_worker(args: ServeArgs) -> ExitCode {
    let config = match ServeConfig::resolve(args) {
        Ok(config) if config.database_url.is_none() => {
            eprintln!(
                "error: a worker needs --database-url: the embedded SQLite file belongs to one serve process"
            );
            return ExitCode::from(2);
        }
        Ok(config) if config.workers == 0 => {
            eprintln!("error: a worker needs --workers 1 or more");
            return ExitCode::from(2);
        }
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    match work(config, Trainers::builtin()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Runs the server with the given trainers until SIGTERM/SIGINT.
pub async fn serve(config: ServeConfig, trainers: Trainers) -> Result<(), String> {
    let server = algocenter_server::start(server_config(config)?, trainers).await?;
    shutdown_signal().await;
    tracing::info!("shutting down: no new requests or tasks; running tasks get their grace period");
    server.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs training workers only (on a shared database) with the given trainers until SIGTERM/SIGINT.
pub async fn work(config: ServeConfig, trainers: Trainers) -> Result<(), String> {
    let worker = algocenter_server::start_worker(server_config(config)?, trainers).await?;
    shutdown_signal().await;
    tracing::info!("shutting down: no new tasks; running tasks get their grace period");
    worker.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// The server's configuration: the resolved options, with the master key of `ALGOCENTER_MASTER_KEY` (else the
/// key file) and the first admin key of `ALGOCENTER_BOOTSTRAP_KEY=ID:SECRET` (else a new one, printed once).
fn server_config(config: ServeConfig) -> Result<ServerConfig, String> {
    let database = match config.database_url {
        Some(url) => Database::Postgres {
            url,
            max_connections: config.database_max_connections,
        },
        None => Database::Sqlite {
            synchronous: match config.sqlite_synchronous {
                SyncMode::Normal => Synchronous::Normal,
                SyncMode::Full => Synchronous::Full,
            },
        },
    };
    let access = if config.insecure_no_auth {
        Access::Unchecked
    } else {
        let master = match std::env::var("ALGOCENTER_MASTER_KEY") {
            Ok(text) => MasterKeySource::Given(
                MasterKey::parse(&text).map_err(|e| format!("ALGOCENTER_MASTER_KEY: {e}"))?,
            ),
            Err(_) => MasterKeySource::File(config.master_key_file),
        };
        let bootstrap_key = match std::env::var("ALGOCENTER_BOOTSTRAP_KEY") {
            Ok(given) => {
                let (id, secret) = given
                    .split_once(':')
                    .ok_or("ALGOCENTER_BOOTSTRAP_KEY must be ACCESS_KEY_ID:ACCESS_KEY_SECRET")?;
                Some((id.to_string(), secret.to_string()))
            }
            Err(_) => None,
        };
        Access::Checked {
            master,
            bootstrap_key,
            gate: GateConfig {
                window: config.auth_window,
                nonce_capacity: config.nonce_capacity,
                rate_limit: config.rate_limit,
                open_metrics: config.open_metrics,
            },
        }
    };
    Ok(ServerConfig {
        listen: config.listen,
        data_dir: config.data_dir,
        database,
        s3: config.s3,
        engine: EngineConfig {
            workers: config.workers,
            lease: config.lease,
            keep_generations: config.keep_generations,
            shutdown_grace: config.shutdown_grace,
            event_retention_days: config.event_retention_days,
            ..EngineConfig::default()
        },
        limits: Limits {
            max_body_bytes: config.max_body_bytes,
            max_push_bytes: config.max_push_bytes,
        },
        access,
        tls: config.tls,
        header_timeout: config.header_timeout,
    })
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
