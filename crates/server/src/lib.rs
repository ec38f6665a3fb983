//! The assembled server, built from one [`ServerConfig`]: the store and artifact store, the task engine (started,
//! after recovering what the last process left), the application services, the API and dashboard routers behind
//! the HTTP(S) listener. `algocenter serve` and `algocenter worker` run it until a signal; every in-process test
//! starts it the same way (on port 0, with its own data directory: see `algocenter-testkit`), so what is tested
//! is what runs.

mod access;
pub mod config;
mod listener;
mod storage;

use std::net::SocketAddr;
use std::sync::Arc;

use algocenter_api::ApiState;
use algocenter_engine::{Engine, EngineConfig, EngineHandle};
use algocenter_functions::Trainers;
use algocenter_service::Services;
use algocenter_store::access_state::AccessState;
use algocenter_store::sqlite::SqliteStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::config::{Access, Database, MasterKeySource, ServerConfig};

/// A server answering on [`RunningServer::address`]; [`RunningServer::stop`] shuts it down politely.
pub struct RunningServer {
    address: SocketAddr,
    https: bool,
    services: Arc<Services>,
    stop: oneshot::Sender<()>,
    listener: JoinHandle<()>,
    engine: EngineHandle,
    sqlite: Option<Arc<SqliteStore>>,
}

/// Training workers without the API ([`start_worker`]).
pub struct RunningWorker {
    engine: EngineHandle,
}

/// The started engine of a configuration, with the embedded store (for its checkpoint at shutdown) or the state
/// API nodes share.
struct Started {
    engine: EngineHandle,
    sqlite: Option<Arc<SqliteStore>>,
    shared_access: Option<Arc<dyn AccessState>>,
}

/// The store, artifacts and started engine of a configuration.
async fn start_engine(config: &ServerConfig, trainers: Trainers) -> Result<Started, String> {
    let opened = storage::open(config).await?;
    let engine_config = EngineConfig {
        exclusive_store: opened.sqlite.is_some(),
        ..config.engine.clone()
    };
    let engine = Engine::new(opened.store, opened.artifacts, trainers, engine_config);
    let handle = engine
        .start()
        .await
        .map_err(|e| format!("start-up recovery failed: {e}"))?;
    Ok(Started {
        engine: handle,
        sqlite: opened.sqlite,
        shared_access: opened.shared_access,
    })
}

/// Starts the server: answers requests (and trains with the engine's workers) until [`RunningServer::stop`].
pub async fn start(config: ServerConfig, trainers: Trainers) -> Result<RunningServer, String> {
    let Started {
        engine,
        sqlite,
        shared_access,
    } = start_engine(&config, trainers).await?;
    let store = Arc::clone(engine.engine().store());
    let ServerConfig {
        listen,
        data_dir,
        limits,
        access,
        tls,
        header_timeout,
        ..
    } = config;
    let (master, gate) = access::checking(access, &*store, listen).await?;
    let services = Arc::new(Services::new(
        Arc::clone(engine.engine()),
        master,
        shared_access,
    ));
    let state = Arc::new(ApiState::new(Arc::clone(&services), gate, limits));
    let tls = match &tls {
        Some((cert, key)) => Some(listener::tls_acceptor(cert, key)?),
        None => None,
    };
    let tcp = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let address = tcp.local_addr().map_err(|e| e.to_string())?;
    let https = tls.is_some();
    let scheme = if https { "https" } else { "http" };
    tracing::info!(data_dir = %data_dir.display(), workers = engine.engine().config().workers, scheme, "listening on {address}");

    // The dashboard's pages have their own login (a session cookie), not the API's signatures.
    let router = algocenter_api::router(state)
        .merge(algocenter_dashboard::router(Arc::clone(&services), https));
    let (stop, stopped) = oneshot::channel();
    let stopping = Arc::clone(engine.engine());
    let shutdown = async move {
        // A dropped sender stops the server too.
        let _ = stopped.await;
        stopping.begin_shutdown();
    };
    let listener = tokio::spawn(listener::run(tcp, tls, header_timeout, router, shutdown));
    Ok(RunningServer {
        address,
        https,
        services,
        stop,
        listener,
        engine,
        sqlite,
    })
}

/// Starts training workers only, on a database other processes share (no API).
pub async fn start_worker(
    config: ServerConfig,
    trainers: Trainers,
) -> Result<RunningWorker, String> {
    let engine = start_engine(&config, trainers).await?.engine;
    tracing::info!(
        workers = config.engine.workers,
        "worker started: training tasks of the shared database"
    );
    Ok(RunningWorker { engine })
}

impl RunningServer {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://ADDRESS` or `https://ADDRESS`.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// What the API and the dashboard act through (the store, the engine, serving, the keys).
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Stops accepting requests and tasks, lets open connections finish (bounded), gives running tasks their
    /// grace period (then fails them), and checkpoints the embedded database.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.listener.await {
            tracing::warn!(error = %e, "the listener ended abnormally");
        }
        self.engine.shutdown().await;
        if let Some(sqlite) = &self.sqlite
            && let Err(e) = sqlite.checkpoint().await
        {
            tracing::warn!(error = %e, "could not checkpoint the database at shutdown");
        }
    }
}

impl RunningWorker {
    /// Stops claiming tasks; running ones get their grace period, then are failed.
    pub async fn stop(self) {
        self.engine.shutdown().await;
    }
}
