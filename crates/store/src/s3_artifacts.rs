//! Artifacts in S3-compatible object storage (AWS S3, MinIO, Ceph, moto, …), so that processes on several
//! machines share trained models without a shared file system.
//!
//! An object is written by one PUT, which S3 makes visible whole or not at all: a task turns `success` only after
//! its artifact's PUT was acknowledged (DESIGN invariant 5), as with the local backend's rename.

use std::sync::Arc;
use std::time::Duration;

use algocenter_domain::{Error, Result};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use crate::artifacts::{ArtifactKey, ArtifactStore};

/// Where and how to reach the bucket. Credentials not given here come from the standard `AWS_*` environment
/// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, …).
#[derive(Clone, Debug, Default)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix inside the bucket (several deployments may share one bucket), without leading `/`.
    pub prefix: String,
    /// `http(s)://host:port` of an S3-compatible server; AWS itself when `None`.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl S3Settings {
    /// Parses `s3://bucket[/prefix]`.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::invalid(format_args!(
                "artifact store '{url}' is not s3://bucket[/prefix]"
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::invalid(format_args!(
                "artifact store '{url}' names no bucket"
            )));
        }
        Ok(S3Settings {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            region: "us-east-1".into(),
            ..S3Settings::default()
        })
    }
}

pub struct S3Artifacts {
    store: Arc<dyn ObjectStore>,
    /// `prefix/` or empty.
    prefix: String,
    description: String,
    explicit_credentials: bool,
}

fn s3_error(what: &str, e: object_store::Error) -> Error {
    if is_out_of_space(&e) {
        return Error::StorageFull(format!("object store: cannot {what}: {e}"));
    }
    if is_transient(&e) {
        return Error::Unavailable(format!("object store: cannot {what}: {e}"));
    }
    Error::internal(format_args!("object store: cannot {what}: {e}"))
}

/// What an unreachable or overloaded object store looks like once `object_store` has spent its own retries: no
/// connection, a timeout, or a 5xx answer that says "later" (502, 503 `SlowDown`, 504).
const TRANSIENT: [&str; 9] = [
    "error sending request",
    "connection refused",
    "Connection refused",
    "timed out",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway Timeout",
    "SlowDown",
    "ServiceUnavailable",
];

/// Whether the object store could not be reached or asked to come back later (recognised in the text, as
/// [`is_out_of_space`] does, for the same reason).
fn is_transient(e: &object_store::Error) -> bool {
    let text = error_text(e);
    TRANSIENT.iter().any(|marker| text.contains(marker))
}

/// An error and its causes, as one text.
fn error_text(e: &object_store::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What S3-compatible servers answer when they have no room: 507 Insufficient Storage (MinIO's full disks), or an
/// error code for a full disk or an exceeded quota (MinIO, Ceph RGW).
const OUT_OF_SPACE: [&str; 5] = [
    "507 Insufficient Storage",
    "InsufficientStorage",
    "XMinioStorageFull",
    "QuotaExceeded",
    "XMinioAdminBucketQuotaExceeded",
];

/// Whether the server refused for lack of space. `object_store` keeps the HTTP status behind private types, so the
/// answer is recognised in the error's text, which carries the status and the server's error body.
fn is_out_of_space(e: &object_store::Error) -> bool {
    let text = error_text(e);
    OUT_OF_SPACE.iter().any(|marker| text.contains(marker))
}

impl S3Artifacts {
    pub fn open(settings: &S3Settings) -> Result<Self> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            // Fail within seconds rather than minutes: a task whose artifact cannot be stored fails with the
            // reason, and readiness reports the store as down.
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(Duration::from_secs(60))
                    .with_connect_timeout(Duration::from_secs(5)),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|e| Error::invalid(format_args!("object store settings: {e}")))?;
        let prefix = if settings.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", settings.prefix)
        };
        Ok(S3Artifacts {
            explicit_credentials: settings.access_key_id.is_some(),
            store: Arc::new(store),
            description: format!(
                "s3://{}/{prefix} at {}",
                settings.bucket,
                settings.endpoint.as_deref().unwrap_or("AWS")
            ),
            prefix,
        })
    }

    fn path(&self, key: &ArtifactKey) -> ObjectPath {
        ObjectPath::from(format!("{}{}.bin", self.prefix, key.as_str()))
    }

    /// Where the artifacts are, for logs.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

#[async_trait]
impl ArtifactStore for S3Artifacts {
    async fn put(&self, key: &ArtifactKey, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.path(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| s3_error("store an artifact", e))
    }

    async fn get(&self, key: &ArtifactKey) -> Result<Vec<u8>> {
        let object = self
            .store
            .get(&self.path(key))
            .await
            .map_err(|e| s3_error("read an artifact", e))?;
        let bytes = object
            .bytes()
            .await
            .map_err(|e| s3_error("read an artifact", e))?;
        Ok(bytes.to_vec())
    }

    async fn delete(&self, key: &ArtifactKey) -> Result<()> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(s3_error("remove an artifact", e)),
        }
    }

    async fn list(&self) -> Result<Vec<ArtifactKey>> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let objects: Vec<object_store::ObjectMeta> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|e| s3_error("list artifacts", e))?;
        Ok(objects
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.as_ref().strip_prefix(self.prefix.as_str())?;
                name.strip_suffix(".bin")
                    .map(|key| ArtifactKey::from_stored(key.to_string()))
            })
            .collect())
    }

    async fn check(&self) -> Result<()> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        self.store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| {
                let hint = if std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
                    && !self.explicit_credentials
                {
                    " (no credentials given: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                } else {
                    ""
                };
                s3_error(&format!("reach {}{hint}", self.description), e)
            })
    }
}

/// Tests against a real S3-compatible server: the moto server that `scripts/test` starts
/// (`ALGOCENTER_TEST_S3_ENDPOINT`).
#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) async fn test_bucket() -> (String, String) {
        let endpoint = std::env::var("ALGOCENTER_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
            panic!("ALGOCENTER_TEST_S3_ENDPOINT is not set: scripts/test starts a moto server for these tests")
        });
        let bucket = format!("t{}-{}", std::process::id(), algocenter_domain::now_ms());
        // moto creates buckets on an unsigned PUT.
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{}", created.status());
        (endpoint, bucket)
    }

    fn settings(endpoint: &str, bucket: &str, prefix: &str) -> S3Settings {
        S3Settings {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: Some(endpoint.into()),
            region: "us-east-1".into(),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
        }
    }

    #[tokio::test]
    async fn put_get_list_delete_round_trip_under_a_prefix() {
        let (endpoint, bucket) = test_bucket().await;
        let store = S3Artifacts::open(&settings(&endpoint, &bucket, "prod")).unwrap();
        let other = S3Artifacts::open(&settings(&endpoint, &bucket, "staging")).unwrap();
        store.check().await.unwrap();
        let (a, b) = (ArtifactKey::new(7, 3), ArtifactKey::new(7, 4));
        store.put(&a, b"model three".to_vec()).await.unwrap();
        store.put(&b, vec![0u8; 3 * 1024 * 1024]).await.unwrap();
        other.put(&a, b"not ours".to_vec()).await.unwrap();
        assert_eq!(store.get(&a).await.unwrap(), b"model three");
        assert_eq!(store.get(&b).await.unwrap().len(), 3 * 1024 * 1024);
        let mut listed = store.list().await.unwrap();
        listed.sort();
        assert_eq!(listed, vec![a.clone(), b.clone()]);
        store.delete(&a).await.unwrap();
        store.delete(&a).await.unwrap();
        assert!(store.get(&a).await.is_err());
        assert_eq!(store.list().await.unwrap(), vec![b]);
        assert_eq!(other.get(&a).await.unwrap(), b"not ours");
    }

    #[tokio::test]
    async fn an_unreachable_store_fails_its_check_quickly() {
        let store = S3Artifacts::open(&settings("http://127.0.0.1:9", "none", "")).unwrap();
        let started = std::time::Instant::now();
        match store.check().await {
            Err(Error::Unavailable(message)) => {
                assert!(message.contains("object store"), "{message}")
            }
            other => panic!("an unreachable store is a passing outage (503): {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(60));
    }

    /// An S3-compatible server on loopback whose disks are full: every request answers 507 with MinIO's error.
    fn full_server() -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                // The whole request (head and body), so that closing the connection does not reset it.
                let mut request = Vec::new();
                let mut buffer = [0u8; 8192];
                let body_length = loop {
                    let Ok(n) = stream.read(&mut buffer) else {
                        break None;
                    };
                    if n == 0 {
                        break None;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break Some((end + 4, length));
                    }
                };
                if let Some((head, length)) = body_length {
                    while request.len() < head + length {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                }
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>XMinioStorageFull</Code>\
                            <Message>Storage backend has reached its minimum free drive threshold.</Message></Error>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 507 Insufficient Storage\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn a_full_object_store_is_storage_full() {
        let store = S3Artifacts::open(&settings(&full_server(), "models", "")).unwrap();
        match store.put(&ArtifactKey::new(1, 1), b"model".to_vec()).await {
            Err(Error::StorageFull(message)) => {
                assert!(message.contains("store an artifact"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        let s = S3Settings::from_url("s3://models/algocenter/prod/").unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.prefix.as_str()),
            ("models", "algocenter/prod")
        );
        assert_eq!(S3Settings::from_url("s3://models").unwrap().prefix, "");
        assert!(S3Settings::from_url("s3:///x").is_err());
        assert!(S3Settings::from_url("file:///x").is_err());
    }
}
