//! What a server is built from: resolved settings, no command-line or file syntax (the binary's `config` module
//! turns flags, environment and the TOML file into this).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use algocenter_api::Limits;
use algocenter_api::gate::GateConfig;
use algocenter_auth::sealing::MasterKey;
use algocenter_engine::EngineConfig;
use algocenter_store::s3_artifacts::S3Settings;
use algocenter_store::sqlite::Synchronous;

pub struct ServerConfig {
    /// Port 0 picks a free port ([`crate::RunningServer::address`] says which).
    pub listen: SocketAddr,
    /// The embedded database, local artifacts and the master key file live here.
    pub data_dir: PathBuf,
    pub database: Database,
    /// S3-compatible object storage for artifacts instead of `DATA_DIR/artifacts`.
    pub s3: Option<S3Settings>,
    /// Workers, lease, grace, retention…; whether the store is exclusive follows from [`ServerConfig::database`].
    pub engine: EngineConfig,
    pub limits: Limits,
    pub access: Access,
    /// Certificate chain and key files: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
}

pub enum Database {
    /// The embedded file in the data directory, owned by this process alone.
    Sqlite { synchronous: Synchronous },
    /// A database other `serve` and `worker` processes may share.
    Postgres { url: String, max_connections: usize },
}

/// Whether and how requests are checked.
pub enum Access {
    /// No checking at all (`--insecure-no-auth`): every request acts as an admin.
    Unchecked,
    Checked {
        master: MasterKeySource,
        /// The first admin key of a store without keys; `None` generates one and prints it once.
        bootstrap_key: Option<(String, String)>,
        gate: GateConfig,
    },
}

/// Where the master key sealing access keys comes from.
pub enum MasterKeySource {
    /// Read from this file, created with a new key when missing.
    File(PathBuf),
    Given(MasterKey),
}
