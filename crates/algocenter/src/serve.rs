//! `algocenter serve`: wires store, artifacts, engine and API together and runs until SIGTERM/SIGINT.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use algocenter_api::gate::GateConfig;
use algocenter_api::{ApiState, Limits};
use algocenter_auth::sealing::{MasterKey, generate_key};
use algocenter_domain::access_key::{AccessKey, Scope, validate_key_id, validate_secret};
use algocenter_engine::{Engine, EngineConfig};
use algocenter_functions::Trainers;
use algocenter_service::Services;
use algocenter_store::artifacts::LocalArtifacts;
use algocenter_store::postgres::PostgresStore;
use algocenter_store::s3_artifacts::S3Artifacts;
use algocenter_store::sqlite::{SqliteStore, Synchronous};
use algocenter_store::{ArtifactStore, Store};
use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, ServeArgs, SyncMode};
use crate::config::ServeConfig;
use crate::listener;

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

/// What a process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The API (and dashboard), with `workers` embedded training workers (0 for an API-only node).
    Serve,
    /// Training workers only, on a shared PostgreSQL database.
    Worker,
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
    serve_as(config, trainers, Role::Serve).await
}

/// Runs training workers only (on a shared database) with the given trainers until SIGTERM/SIGINT.
pub async fn work(config: ServeConfig, trainers: Trainers) -> Result<(), String> {
    serve_as(config, trainers, Role::Worker).await
}

async fn serve_as(config: ServeConfig, trainers: Trainers, role: Role) -> Result<(), String> {
    let synchronous = match config.sqlite_synchronous {
        SyncMode::Normal => Synchronous::Normal,
        SyncMode::Full => Synchronous::Full,
    };
    // The embedded file belongs to this process alone; a PostgreSQL database is shared with other processes.
    let (store, sqlite): (Arc<dyn Store>, Option<Arc<SqliteStore>>) = match &config.database_url {
        Some(url) => {
            let store = PostgresStore::connect(url, config.database_max_connections)
                .await
                .map_err(|e| format!("database: {e}"))?;
            tracing::info!(
                max_connections = config.database_max_connections,
                "using PostgreSQL"
            );
            (Arc::new(store), None)
        }
        None => {
            let sqlite = Arc::new(
                SqliteStore::open(&config.data_dir, 8, synchronous).map_err(|e| e.to_string())?,
            );
            (Arc::clone(&sqlite) as Arc<dyn Store>, Some(sqlite))
        }
    };
    let artifacts: Arc<dyn ArtifactStore> = match &config.s3 {
        Some(settings) => {
            let s3 = S3Artifacts::open(settings).map_err(|e| e.to_string())?;
            s3.check().await.map_err(|e| e.to_string())?;
            tracing::info!(artifacts = s3.describe(), "artifacts in object storage");
            Arc::new(s3)
        }
        None => Arc::new(
            LocalArtifacts::open(config.data_dir.join("artifacts")).map_err(|e| e.to_string())?,
        ),
    };
    let engine_config = EngineConfig {
        workers: config.workers,
        lease: config.lease,
        keep_generations: config.keep_generations,
        shutdown_grace: config.shutdown_grace,
        event_retention_days: config.event_retention_days,
        exclusive_store: sqlite.is_some(),
        ..EngineConfig::default()
    };
    let engine = Engine::new(Arc::clone(&store), artifacts, trainers, engine_config);
    let engine_handle = engine
        .start()
        .await
        .map_err(|e| format!("start-up recovery failed: {e}"))?;
    if role == Role::Worker {
        tracing::info!(
            workers = config.workers,
            "worker started: training tasks of the shared database"
        );
        shutdown_signal().await;
        tracing::info!("shutting down: no new tasks; running tasks get their grace period");
        engine.begin_shutdown();
        engine_handle.shutdown().await;
        tracing::info!("stopped");
        return Ok(());
    }
    let limits = Limits {
        max_body_bytes: config.max_body_bytes,
        max_push_bytes: config.max_push_bytes,
    };
    let master = master_key(&config, &*store).await?;
    let services = Arc::new(Services::new(Arc::clone(&engine), master));
    let gate = GateConfig {
        window: config.auth_window,
        nonce_capacity: config.nonce_capacity,
        rate_limit: config.rate_limit,
        open_metrics: config.open_metrics,
    };
    let state = Arc::new(ApiState::new(Arc::clone(&services), gate, limits));
    let tls = match &config.tls {
        Some((cert, key)) => Some(listener::tls_acceptor(cert, key)?),
        None => None,
    };
    let tcp = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = tcp.local_addr().map_err(|e| e.to_string())?;
    let https = tls.is_some();
    let scheme = if https { "https" } else { "http" };
    tracing::info!(data_dir = %config.data_dir.display(), workers = config.workers, scheme, "listening on {address}");

    let stopping = Arc::clone(&engine);
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!(
            "shutting down: no new requests or tasks; running tasks get their grace period"
        );
        stopping.begin_shutdown();
    };
    listener::run(
        tcp,
        tls,
        config.header_timeout,
        // The dashboard's pages have their own login (a session cookie), not the API's signatures.
        algocenter_api::router(state).merge(algocenter_dashboard::router(services, https)),
        shutdown,
    )
    .await;
    engine_handle.shutdown().await;
    if let Some(sqlite) = &sqlite
        && let Err(e) = sqlite.checkpoint().await
    {
        tracing::warn!(error = %e, "could not checkpoint the database at shutdown");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The master key sealing access keys, and a first admin key on a fresh data directory; `None` (request checking
/// off) only with `--insecure-no-auth` (on loopback, checked by the configuration).
async fn master_key(config: &ServeConfig, store: &dyn Store) -> Result<Option<MasterKey>, String> {
    if config.insecure_no_auth {
        tracing::warn!(
            "REQUEST CHECKING IS OFF (--insecure-no-auth): anyone who can reach {} can do anything; never use this \
             outside local experiments",
            config.listen
        );
        return Ok(None);
    }
    let master = match std::env::var("ALGOCENTER_MASTER_KEY") {
        Ok(text) => MasterKey::parse(&text).map_err(|e| format!("ALGOCENTER_MASTER_KEY: {e}"))?,
        Err(_) => MasterKey::load_or_create(&config.master_key_file).map_err(|e| e.to_string())?,
    };
    if !store.has_keys().await.map_err(|e| e.to_string())? {
        bootstrap_admin_key(store, &master).await?;
    }
    Ok(Some(master))
}

/// The first admin key of a fresh data directory: `ALGOCENTER_BOOTSTRAP_KEY=ID:SECRET` when set (automation),
/// otherwise a new one printed once on standard output.
async fn bootstrap_admin_key(store: &dyn Store, master: &MasterKey) -> Result<(), String> {
    let (id, secret, printed) = match std::env::var("ALGOCENTER_BOOTSTRAP_KEY") {
        Ok(given) => {
            let (id, secret) = given
                .split_once(':')
                .ok_or("ALGOCENTER_BOOTSTRAP_KEY must be ACCESS_KEY_ID:ACCESS_KEY_SECRET")?;
            validate_key_id(id).map_err(|e| format!("ALGOCENTER_BOOTSTRAP_KEY: {e}"))?;
            validate_secret(secret).map_err(|e| format!("ALGOCENTER_BOOTSTRAP_KEY: {e}"))?;
            if secret.len() < 16 {
                tracing::warn!(
                    "the bootstrap key's secret is shorter than 16 characters: use it for tests only"
                );
            }
            (id.to_string(), secret.to_string(), false)
        }
        Err(_) => {
            let (id, secret) = generate_key().map_err(|e| e.to_string())?;
            (id, secret, true)
        }
    };
    let sealed = master.seal(&id, &secret).map_err(|e| e.to_string())?;
    let key = AccessKey {
        id: id.clone(),
        scope: Scope::Admin,
        apps: Vec::new(),
        description: "first admin key".into(),
        created_ms: algocenter_domain::now_ms(),
        revoked_ms: None,
    };
    match store.create_key(key, sealed).await {
        Ok(()) => {}
        // Another process on the same shared database created it a moment ago.
        Err(algocenter_domain::Error::AccessKeyDuplicated(_)) if !printed => return Ok(()),
        Err(e) => return Err(e.to_string()),
    }
    if printed {
        println!("First start: created an admin access key for this data directory.");
        println!("  AccessKeyId:     {id}");
        println!("  AccessKeySecret: {secret}");
        println!(
            "Keep the secret now: it is not shown again. Create further keys with `algocenter key create`."
        );
    }
    tracing::info!(key_id = %id, "created the first admin access key");
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
