//! How the connection to PostgreSQL is made: the URL as libpq reads it, including `sslmode` and `sslrootcert`
//! (which tokio-postgres leaves to the TLS connector), and TLS with rustls.
//!
//! * `sslmode=disable`: plain TCP.
//! * `prefer` (the default, as in libpq): TLS when the server offers it, plain otherwise; the certificate is not
//!   checked.
//! * `require`: TLS or no connection; the certificate is not checked (encryption against eavesdropping only) —
//!   unless `sslrootcert` is given, which makes it `verify-ca`, as in libpq.
//! * `verify-ca`: the certificate must chain to a root of `sslrootcert`.
//! * `verify-full`: `verify-ca`, and the certificate must name the host of the URL (name or IP address).
//!
//! `sslrootcert=FILE` is a PEM file of root certificates; `sslrootcert=system` the system's bundle (`SSL_CERT_FILE`,
//! else `/etc/ssl/certs/ca-certificates.crt`); without it, the checking modes read `~/.postgresql/root.crt` as libpq
//! does. Handshake signatures are always checked, with the `ring` provider the HTTPS listener uses too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use algocenter_domain::{Error, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::invalid(format_args!(
                    "database URL: sslmode '{other}' is not one of disable, prefer, require, verify-ca, verify-full"
                )));
            }
        })
    }
}

/// A parsed database URL: what tokio-postgres connects with, and the TLS connector for its `sslmode`.
#[derive(Clone)]
pub struct ConnectSettings {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub mode: SslMode,
}

impl ConnectSettings {
    /// Reads `postgres://user:password@host:port/db?sslmode=…&sslrootcert=…` (or libpq's `key=value` form).
    pub fn parse(url: &str) -> Result<Self> {
        let (rest, mode, root) = split_ssl_options(url)?;
        let mut config: tokio_postgres::Config = rest.parse().map_err(|e| {
            Error::invalid(format_args!("database URL is not a PostgreSQL URL: {e}"))
        })?;
        // A root file given to `require` asks for the chain to be checked, as libpq does.
        let mode = match (mode, root.is_some()) {
            (Some(SslMode::Require), true) => SslMode::VerifyCa,
            (Some(mode), _) => mode,
            (None, _) => SslMode::Prefer,
        };
        config.ssl_mode(match mode {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
        });
        let tls = connector(mode, root)?;
        Ok(ConnectSettings { config, tls, mode })
    }
}

/// The URL without `sslmode` and `sslrootcert` (tokio-postgres refuses the modes it does not implement itself),
/// and their values.
fn split_ssl_options(url: &str) -> Result<(String, Option<SslMode>, Option<String>)> {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: String| -> Result<bool> {
        match key {
            "sslmode" => mode = Some(SslMode::parse(&value)?),
            "sslrootcert" => root = Some(value),
            _ => return Ok(false),
        }
        Ok(true)
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((head, query)) = url.split_once('?') else {
            return Ok((url.to_string(), None, None));
        };
        let mut kept = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if !take(&key, value.to_string())? {
                kept.append_pair(&key, &value);
            }
        }
        let kept = kept.finish();
        let rest = if kept.is_empty() {
            head.to_string()
        } else {
            format!("{head}?{kept}")
        };
        return Ok((rest, mode, root));
    }
    // key=value pairs separated by spaces (values with spaces would need quotes; not supported here).
    let mut kept = Vec::new();
    for pair in url.split_whitespace() {
        match pair.split_once('=') {
            Some((key, value)) if take(key, value.to_string())? => {}
            _ => kept.push(pair),
        }
    }
    Ok((kept.join(" "), mode, root))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn connector(mode: SslMode, root: Option<String>) -> Result<MakeRustlsConnect> {
    let provider = provider();
    let chain = match mode {
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = roots(root.as_deref())?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|e| Error::invalid(format_args!("database TLS roots: {e}")))?;
            Some(webpki)
        }
        SslMode::Disable | SslMode::Prefer | SslMode::Require => None,
    };
    let verifier = Verifier {
        chain,
        check_name: mode == SslMode::VerifyFull,
        provider: Arc::clone(&provider),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format_args!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The root certificates of `sslrootcert` (see the module doc for the defaults).
fn roots(root: Option<&str>) -> Result<RootCertStore> {
    let path: PathBuf = match root {
        Some("system") => std::env::var_os("SSL_CERT_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into()),
        Some(file) => file.into(),
        None => match std::env::var_os("HOME") {
            Some(home) => Path::new(&home).join(".postgresql/root.crt"),
            None => {
                return Err(Error::invalid(
                    "database URL: sslmode verify-ca and verify-full need sslrootcert=FILE (or system)",
                ));
            }
        },
    };
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
        .and_then(|certs| certs.collect())
        .map_err(|e| {
            Error::invalid(format_args!(
                "database URL: cannot read the root certificates {} (sslrootcert): {e}",
                path.display()
            ))
        })?;
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(Error::invalid(format_args!(
            "database URL: {} holds no usable root certificate (sslrootcert)",
            path.display()
        )));
    }
    Ok(store)
}

/// Checks the server's certificate as the mode asks (not at all for `prefer`/`require`, the chain for `verify-ca`,
/// the chain and the name for `verify-full`); the handshake's signatures always.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            // The name is checked after the chain: this error means the chain is good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_options_are_taken_out_of_both_url_forms() {
        let (rest, mode, root) = split_ssl_options(
            "postgres://u:p@db:5432/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@db:5432/app?application_name=x");
        assert_eq!(mode, Some(SslMode::VerifyFull));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (rest, mode, root) =
            split_ssl_options("host=db user=u sslmode=require dbname=app").unwrap();
        assert_eq!(rest, "host=db user=u dbname=app");
        assert_eq!((mode, root), (Some(SslMode::Require), None));
        assert_eq!(
            split_ssl_options("postgres://u@db/app").unwrap(),
            ("postgres://u@db/app".to_string(), None, None)
        );
        assert!(split_ssl_options("postgres://u@db/app?sslmode=allow-maybe").is_err());
    }

    #[test]
    fn the_mode_follows_libpq() {
        let mode = |url: &str| ConnectSettings::parse(url).map(|s| s.mode);
        assert_eq!(mode("postgres://u@db/app").unwrap(), SslMode::Prefer);
        assert_eq!(
            mode("postgres://u@db/app?sslmode=disable").unwrap(),
            SslMode::Disable
        );
        assert_eq!(
            mode("postgres://u@db/app?sslmode=require").unwrap(),
            SslMode::Require
        );
        // require with a root file checks the chain; a missing file is a configuration error, said at once.
        let missing = mode("postgres://u@db/app?sslmode=require&sslrootcert=/nonexistent/ca.pem");
        assert!(
            matches!(&missing, Err(Error::InvalidParameter(m)) if m.contains("/nonexistent/ca.pem")),
            "{missing:?}"
        );
        let system = mode("postgres://u@db/app?sslmode=verify-full&sslrootcert=system");
        assert_eq!(system.unwrap(), SslMode::VerifyFull);
    }

    use crate::postgres::{PostgresStore, testing};

    /// Whether the store's connections are encrypted, as the server sees them.
    async fn encrypted(url: &str) -> Result<bool> {
        let store = PostgresStore::connect(url, 1).await?;
        let client = store.client().await?;
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .map_err(Error::internal)?;
        Ok(row.get(0))
    }

    /// Against the test cluster, whose certificate names IP 127.0.0.1 and is signed by its throwaway CA.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_are_encrypted_and_checked_as_sslmode_says() {
        let url = testing::fresh_database().await;
        let ca = testing::test_ca();
        let other_ca = ca.with_file_name("other-ca.crt");
        let with = |options: &str| format!("{url}?{options}");
        let ca = ca.display();
        for (options, expected) in [
            (format!("sslmode=verify-full&sslrootcert={ca}"), true),
            (format!("sslmode=verify-ca&sslrootcert={ca}"), true),
            (format!("sslmode=require&sslrootcert={ca}"), true),
            ("sslmode=require".to_string(), true),
            (String::new(), true),
            ("sslmode=disable".to_string(), false),
        ] {
            let got = encrypted(&with(&options)).await;
            assert_eq!(got.ok(), Some(expected), "{options}");
        }
        // Another CA, or a name the certificate does not hold: refused, and as configuration (not a passing
        // outage a client should retry).
        let localhost = url.replacen("127.0.0.1", "localhost", 1);
        for bad in [
            with(&format!(
                "sslmode=verify-full&sslrootcert={}",
                other_ca.display()
            )),
            with(&format!(
                "sslmode=require&sslrootcert={}",
                other_ca.display()
            )),
            format!("{localhost}?sslmode=verify-full&sslrootcert={ca}"),
        ] {
            match encrypted(&bad).await {
                Err(Error::Internal(message)) => {
                    assert!(message.contains("certificate"), "{bad}: {message}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // verify-ca checks the chain only: the same name mismatch is accepted.
        let chain_only = format!("{localhost}?sslmode=verify-ca&sslrootcert={ca}");
        assert_eq!(encrypted(&chain_only).await.ok(), Some(true));
    }
}
