//! Serve configuration: flags over environment (both handled by clap) over the TOML file over defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{LogFormat, ServeArgs, SyncMode};

/// The TOML file: the same options as the flags, all optional. Unknown keys are refused so that a typo is not
/// silently ignored.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    workers: Option<usize>,
    keep_generations: Option<u32>,
    lease_secs: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    max_body_bytes: Option<usize>,
    max_push_bytes: Option<usize>,
    event_retention_days: Option<u32>,
    sqlite_synchronous: Option<SyncMode>,
    database_url: Option<String>,
    database_max_connections: Option<usize>,
    artifact_store: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    log_format: Option<LogFormat>,
    log: Option<String>,
    insecure_no_auth: Option<bool>,
    auth_window_secs: Option<u64>,
    nonce_capacity: Option<usize>,
    rate_limit: Option<u32>,
    rate_burst: Option<u32>,
    open_metrics: Option<bool>,
    master_key_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    header_timeout_secs: Option<u64>,
}

#[derive(Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub workers: usize,
    pub keep_generations: u32,
    pub lease: Duration,
    pub shutdown_grace: Duration,
    pub max_body_bytes: usize,
    pub max_push_bytes: usize,
    pub event_retention_days: u32,
    pub sqlite_synchronous: SyncMode,
    /// PostgreSQL instead of the embedded SQLite file.
    pub database_url: Option<String>,
    pub database_max_connections: usize,
    /// S3-compatible object storage for artifacts instead of `DATA_DIR/artifacts`.
    pub s3: Option<algocenter_store::s3_artifacts::S3Settings>,
    pub log_format: LogFormat,
    pub log: String,
    pub insecure_no_auth: bool,
    pub auth_window: Duration,
    pub nonce_capacity: usize,
    /// Requests per second and burst per key; `None` for no limit.
    pub rate_limit: Option<(u32, u32)>,
    /// `/metrics` without a signature.
    pub open_metrics: bool,
    pub master_key_file: PathBuf,
    /// Certificate chain and key files: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub header_timeout: Duration,
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("invalid configuration file {}: {e}", path.display()))
}

impl ServeConfig {
    pub fn resolve(args: ServeArgs) -> Result<Self, String> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen.parse().map_err(|_| {
            format!("listen address '{listen}' is not IP:PORT (e.g. 127.0.0.1:8080)")
        })?;
        let keep_generations = args.keep_generations.or(file.keep_generations).unwrap_or(3);
        if keep_generations == 0 {
            return Err("keep-generations must be at least 1".into());
        }
        let lease_secs = args.lease_secs.or(file.lease_secs).unwrap_or(30);
        if lease_secs < 3 {
            return Err(
                "lease-secs must be at least 3 (the lease is renewed every third of it)".into(),
            );
        }
        let max_body_bytes = args
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(8 * 1024 * 1024);
        if max_body_bytes < 1024 {
            return Err("max-body-bytes must be at least 1024".into());
        }
        let max_push_bytes = args
            .max_push_bytes
            .or(file.max_push_bytes)
            .unwrap_or(16 * 1024 * 1024);
        if max_push_bytes < 1024 {
            return Err("max-push-bytes must be at least 1024".into());
        }
        let event_retention_days = args
            .event_retention_days
            .or(file.event_retention_days)
            .unwrap_or(30);
        if !(1..=3650).contains(&event_retention_days) {
            return Err("event-retention-days must be between 1 and 3650".into());
        }
        let insecure_no_auth = args.insecure_no_auth || file.insecure_no_auth.unwrap_or(false);
        if insecure_no_auth && !listen.ip().is_loopback() {
            return Err(format!(
                "--insecure-no-auth is refused on {listen}: request checking may only be turned off on a loopback address"
            ));
        }
        let auth_window_secs = args
            .auth_window_secs
            .or(file.auth_window_secs)
            .unwrap_or(900);
        if !(30..=86_400).contains(&auth_window_secs) {
            return Err("auth-window-secs must be between 30 and 86400".into());
        }
        let nonce_capacity = args
            .nonce_capacity
            .or(file.nonce_capacity)
            .unwrap_or(4_000_000);
        if nonce_capacity < 1000 {
            return Err("nonce-capacity must be at least 1000".into());
        }
        let rate = args.rate_limit.or(file.rate_limit).unwrap_or(0);
        let burst = args
            .rate_burst
            .or(file.rate_burst)
            .unwrap_or(rate.saturating_mul(2))
            .max(1);
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("algocenter-data"));
        let master_key_file = args
            .master_key_file
            .or(file.master_key_file)
            .unwrap_or_else(|| data_dir.join("master.key"));
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("tls-cert and tls-key go together".into()),
        };
        let header_timeout_secs = args
            .header_timeout_secs
            .or(file.header_timeout_secs)
            .unwrap_or(10);
        if !(1..=300).contains(&header_timeout_secs) {
            return Err("header-timeout-secs must be between 1 and 300".into());
        }
        let database_url = args.database_url.or(file.database_url);
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err("database-url must be a postgres:// URL".into());
        }
        let database_max_connections = args
            .database_max_connections
            .or(file.database_max_connections)
            .unwrap_or(16);
        if !(1..=1000).contains(&database_max_connections) {
            return Err("database-max-connections must be between 1 and 1000".into());
        }
        let s3 = match args.artifact_store.or(file.artifact_store) {
            None => None,
            Some(url) => {
                let mut settings = algocenter_store::s3_artifacts::S3Settings::from_url(&url)
                    .map_err(|e| e.to_string())?;
                settings.endpoint = args.s3_endpoint.or(file.s3_endpoint);
                if let Some(region) = args.s3_region.or(file.s3_region) {
                    settings.region = region;
                }
                Some(settings)
            }
        };
        Ok(ServeConfig {
            listen,
            data_dir,
            workers: args.workers.or(file.workers).unwrap_or(1),
            keep_generations,
            lease: Duration::from_secs(lease_secs),
            shutdown_grace: Duration::from_secs(
                args.shutdown_grace_secs
                    .or(file.shutdown_grace_secs)
                    .unwrap_or(30),
            ),
            max_body_bytes,
            max_push_bytes,
            event_retention_days,
            sqlite_synchronous: args
                .sqlite_synchronous
                .or(file.sqlite_synchronous)
                .unwrap_or(SyncMode::Normal),
            database_url,
            database_max_connections,
            s3,
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            insecure_no_auth,
            auth_window: Duration::from_secs(auth_window_secs),
            nonce_capacity,
            rate_limit: (rate > 0).then_some((rate, burst)),
            open_metrics: args.open_metrics || file.open_metrics.unwrap_or(false),
            master_key_file,
            tls,
            header_timeout: Duration::from_secs(header_timeout_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_without_flags_or_file() {
        let config = ServeConfig::resolve(ServeArgs::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("algocenter-data"));
        assert_eq!((config.workers, config.keep_generations), (1, 3));
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("algocenter.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nworkers = 2\nlog_format = \"json\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            workers: Some(4),
            ..Default::default()
        };
        let config = ServeConfig::resolve(args).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(config.workers, 4);
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "listn = \"x\"\n").unwrap();
        let err = ServeConfig::resolve(ServeArgs {
            config: Some(file),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("listn"), "{err}");
        let err = ServeConfig::resolve(ServeArgs {
            listen: Some("nowhere".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("nowhere"), "{err}");
        assert!(
            ServeConfig::resolve(ServeArgs {
                keep_generations: Some(0),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn checking_can_only_be_turned_off_on_loopback() {
        let open = |listen: &str| {
            ServeConfig::resolve(ServeArgs {
                listen: Some(listen.into()),
                insecure_no_auth: true,
                ..Default::default()
            })
        };
        assert!(open("127.0.0.1:8080").unwrap().insecure_no_auth);
        assert!(open("[::1]:8080").is_ok());
        assert!(open("0.0.0.0:8080").unwrap_err().contains("loopback"));
        let secured = ServeConfig::resolve(ServeArgs::default()).unwrap();
        assert!(!secured.insecure_no_auth);
        assert_eq!(
            secured.master_key_file,
            PathBuf::from("algocenter-data/master.key")
        );
        assert_eq!(secured.rate_limit, None);
    }
}
