//! A real server on a random loopback port with a fresh data directory, and a small HTTP client for it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use algocenter_api::gate::GateConfig;
use algocenter_api::{ApiState, Limits};
use algocenter_auth::client::{Credentials, acs3_headers};
use algocenter_auth::sealing::MasterKey;
use algocenter_domain::access_key::{AccessKey, Scope};
use algocenter_engine::{Engine, EngineConfig, EngineHandle};
use algocenter_functions::Trainers;
use algocenter_service::Services;
use algocenter_store::Store;
use algocenter_store::artifacts::LocalArtifacts;
use algocenter_store::sqlite::{SqliteStore, Synchronous};
use serde_json::Value;

pub struct TestServer {
    pub base: String,
    client: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub engine: Option<EngineHandle>,
    /// Requests are signed with these when set (servers started by [`start_secured`]).
    pub credentials: Option<Credentials>,
    pub store: Arc<dyn Store>,
}

/// The admin key of [`start_secured`] servers.
pub fn admin() -> Credentials {
    Credentials {
        key_id: "admin-key".into(),
        secret: "admin-secret-0123456789".into(),
    }
}

/// Master key of the test servers.
pub fn master() -> MasterKey {
    MasterKey::parse(&"42".repeat(32)).unwrap()
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub request_id_header: Option<String>,
    pub retry_after: Option<String>,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["Code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["Message"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        &self.body
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        assert_eq!(self.body["Status"], "FAIL");
        assert_eq!(self.body["HttpCode"], status);
        assert!(!self.message().is_empty());
        assert!(
            self.body["RequestId"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
        );
    }
}

pub async fn start(trainers: Trainers, workers: usize) -> TestServer {
    start_with(
        trainers,
        EngineConfig {
            workers,
            heartbeat: Duration::from_millis(50),
            ..EngineConfig::default()
        },
        Limits::default(),
    )
    .await
}

/// A server without request checking (the API's behaviour is tested apart from authentication).
pub async fn start_with(trainers: Trainers, config: EngineConfig, limits: Limits) -> TestServer {
    launch(trainers, config, limits, None).await
}

/// A server that checks every request, with one admin key ([`admin`]) already created.
pub async fn start_secured(gate: GateConfig) -> TestServer {
    let config = EngineConfig {
        workers: 0,
        ..EngineConfig::default()
    };
    launch(Trainers::default(), config, Limits::default(), Some(gate)).await
}

async fn launch(
    trainers: Trainers,
    config: EngineConfig,
    limits: Limits,
    gate: Option<GateConfig>,
) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path(), 4, Synchronous::Normal).unwrap());
    let artifacts = LocalArtifacts::open(dir.path().join("artifacts")).unwrap();
    let engine = Engine::new(Arc::clone(&store), Arc::new(artifacts), trainers, config);
    let handle = engine.start().await.unwrap();
    let (master, gate, credentials) = match gate {
        None => (None, GateConfig::default(), None),
        Some(config) => {
            let admin = admin();
            let key = AccessKey {
                id: admin.key_id.clone(),
                scope: Scope::Admin,
                apps: vec![],
                description: "test admin".into(),
                created_ms: 0,
                revoked_ms: None,
            };
            store
                .create_key(key, master().seal(&admin.key_id, &admin.secret).unwrap())
                .await
                .unwrap();
            (Some(master()), config, Some(admin))
        }
    };
    let services = Arc::new(Services::new(engine, master));
    let router = algocenter_api::router(Arc::new(ApiState::new(services, gate, limits)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    TestServer {
        base,
        client: reqwest::Client::new(),
        dir,
        engine: Some(handle),
        credentials,
        store,
    }
}

impl TestServer {
    pub async fn call(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        self.raw(method, path, body.map(|b| b.as_bytes().to_vec()))
            .await
    }

    pub async fn raw(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Answer {
        self.signed(method, path, body, self.credentials.as_ref())
            .await
    }

    /// A request signed with `credentials` (unsigned for `None`).
    pub async fn signed(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        credentials: Option<&Credentials>,
    ) -> Answer {
        let headers = match credentials {
            Some(c) => {
                let host = self.base.trim_start_matches("http://");
                acs3_headers(
                    method,
                    host,
                    path,
                    body.as_deref().unwrap_or_default(),
                    "Test",
                    c,
                )
                .unwrap()
            }
            None => Vec::new(),
        };
        self.send(method, path, body, &headers).await
    }

    /// A GET whose answer is not JSON: status, content type and text; signed with the server's key when it
    /// checks requests and `sign` is set.
    pub async fn get_text(&self, path: &str, sign: bool) -> (u16, String, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let (true, Some(c)) = (sign, self.credentials.as_ref()) {
            let host = self.base.trim_start_matches("http://");
            for (name, value) in acs3_headers("GET", host, path, b"", "Test", c).unwrap() {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    /// A request with exactly these extra headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(String, String)],
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            if !headers.iter().any(|(n, _)| n == "content-type") {
                request = request.header("content-type", "application/json; charset=utf-8");
            }
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let request_id_header = response
            .headers()
            .get("x-acs-request-id")
            .map(|v| v.to_str().unwrap().to_string());
        let retry_after = response
            .headers()
            .get("x-acs-retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON answer ({e}): {text}"));
        Answer {
            status,
            body,
            request_id_header,
            retry_after,
        }
    }

    pub async fn create_app(&self, name: &str) {
        self.call(
            "POST",
            "/v4/openapi/app-groups",
            Some(&format!(r#"{{"name":"{name}"}}"#)),
        )
        .await;
    }

    pub async fn create_instance(&self, app: &str, function: &str, body: &str) -> Answer {
        self.call(
            "POST",
            &format!("/v4/openapi/app-groups/{app}/functions/{function}/instances"),
            Some(body),
        )
        .await
    }

    /// Polls GetFunctionTask until the task is no longer running.
    pub async fn wait_task(
        &self,
        app: &str,
        function: &str,
        instance: &str,
        generation: &str,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        let path = format!(
            "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/tasks/{generation}"
        );
        loop {
            let answer = self.call("GET", &path, None).await;
            let task = answer.assert_ok()["Result"].clone();
            if task["Status"] != "running" {
                return task;
            }
            assert!(Instant::now() < deadline, "task still running: {task}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
