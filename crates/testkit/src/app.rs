//! `spawn_app`: the production server on a random loopback port with a data directory of its own.

use std::sync::Arc;
use std::time::Duration;

use algocenter_api::Limits;
use algocenter_api::gate::GateConfig;
use algocenter_auth::client::Credentials;
use algocenter_engine::EngineConfig;
use algocenter_functions::Trainers;
use algocenter_server::{Access, Database, MasterKeySource, RunningServer, ServerConfig};
use algocenter_service::Services;
use algocenter_store::Store;
use algocenter_store::sqlite::Synchronous;

/// What a test server differs in from `algocenter serve`'s defaults.
pub struct AppOptions {
    /// None by default: a task then fails with "no trainer" (tests of the API alone need none).
    pub trainers: Trainers,
    /// One worker and a 50 ms heartbeat by default, so that progress shows quickly.
    pub engine: EngineConfig,
    pub limits: Limits,
    /// Requests are checked with these settings, and the admin key [`admin`] exists; with `None` (the default)
    /// nothing is checked (`--insecure-no-auth`), for tests of other concerns.
    pub checked: Option<GateConfig>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            trainers: Trainers::default(),
            engine: EngineConfig {
                workers: 1,
                heartbeat: Duration::from_millis(50),
                ..EngineConfig::default()
            },
            limits: Limits::default(),
            checked: None,
        }
    }
}

impl AppOptions {
    /// The default options with these trainers and workers.
    pub fn training(trainers: Trainers, workers: usize) -> Self {
        let mut options = AppOptions {
            trainers,
            ..AppOptions::default()
        };
        options.engine.workers = workers;
        options
    }

    /// The default options, checking requests with `gate` (and no workers: such tests train nothing).
    pub fn checked(gate: GateConfig) -> Self {
        let mut options = AppOptions {
            checked: Some(gate),
            ..AppOptions::default()
        };
        options.engine.workers = 0;
        options
    }
}

/// The first admin key of servers that check requests.
pub fn admin() -> Credentials {
    Credentials {
        key_id: "admin-key".into(),
        secret: "admin-secret-0123456789".into(),
    }
}

/// A running server and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Requests are signed with these when set (servers that check requests).
    pub credentials: Option<Credentials>,
    pub(crate) client: reqwest::Client,
    server: Option<RunningServer>,
    services: Arc<Services>,
    /// The data directory, removed when the app is dropped (after the server).
    pub dir: tempfile::TempDir,
}

/// Starts the server as `algocenter serve` does (store, artifacts, engine, services, API and dashboard, listener)
/// on `127.0.0.1:0` with a fresh data directory.
pub async fn spawn_app(options: AppOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary data directory");
    let (access, credentials) = match options.checked {
        None => (Access::Unchecked, None),
        Some(gate) => {
            let admin = admin();
            let access = Access::Checked {
                master: MasterKeySource::File(dir.path().join("master.key")),
                bootstrap_key: Some((admin.key_id.clone(), admin.secret.clone())),
                gate,
            };
            (access, Some(admin))
        }
    };
    let config = ServerConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: dir.path().to_path_buf(),
        database: Database::Sqlite {
            synchronous: Synchronous::Normal,
        },
        s3: None,
        engine: options.engine,
        limits: options.limits,
        access,
        tls: None,
        header_timeout: Duration::from_secs(10),
    };
    let server = algocenter_server::start(config, options.trainers)
        .await
        .unwrap_or_else(|e| panic!("the test server did not start: {e}"));
    TestApp {
        base: server.base_url(),
        credentials,
        client: reqwest::Client::new(),
        services: Arc::clone(server.services()),
        server: Some(server),
        dir,
    }
}

impl TestApp {
    /// What the API and the dashboard act through: to look behind the API, or to set up what it cannot.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.services.store()
    }

    /// `host:port`, as signatures cover it.
    pub fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Shuts the server down as SIGTERM does (connections drained, running tasks given their grace).
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}
