//! The HTTP client of the command line: talks to a running server as the SDK does.
//!
//! Exit codes: 0 success, 1 the server refused the request or some records (its `Code` and `Message` are
//! printed), 2 bad usage, 3 the server could not be reached or answered something that is not algocenter's API.

use std::process::ExitCode;

use serde_json::{Value, json};

use algocenter_auth::client::{Credentials, acs3_headers};

use crate::cli::{AppCommand, ClientArgs};
use crate::retry::{self, Attempt, Replay};

const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";

pub enum Failure {
    /// The API answered with an error.
    Api(String),
    /// No usable answer, or a local problem (unreadable file).
    Transport(String),
    /// The command line itself is wrong.
    Usage(String),
}

impl Failure {
    pub fn exit(self) -> ExitCode {
        match self {
            Failure::Api(message) => {
                eprintln!("error: {message}");
                ExitCode::from(1)
            }
            Failure::Transport(message) => {
                eprintln!("error: {message}");
                ExitCode::from(3)
            }
            Failure::Usage(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        }
    }
}

/// What a client configuration file may set (`--client-config`).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    endpoint: Option<String>,
    access_key_id: Option<String>,
    access_key_secret: Option<String>,
}

impl ClientArgs {
    /// Fills what flags and environment left unset from the client configuration file: the one named, or the
    /// default one when it exists. A named file that is missing or invalid is an error.
    pub fn with_config_file(mut self) -> Result<Self, Failure> {
        let path = match &self.client_config {
            Some(path) => path.clone(),
            None => match default_client_config() {
                Some(path) if path.exists() => path,
                _ => return Ok(self),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Failure::Usage(format!(
                "cannot read the client configuration {}: {e}",
                path.display()
            ))
        })?;
        let file: ClientFile = toml::from_str(&text).map_err(|e| {
            Failure::Usage(format!(
                "invalid client configuration {}: {e}",
                path.display()
            ))
        })?;
        warn_if_readable_by_others(&path, file.access_key_secret.is_some());
        self.endpoint = self.endpoint.or(file.endpoint);
        // A key id from the flags or the environment comes with its own secret: never mix the two sources.
        if self.access_key_id.is_none() {
            self.access_key_id = file.access_key_id;
            self.access_key_secret = self.access_key_secret.or(file.access_key_secret);
        }
        Ok(self)
    }
}

fn default_client_config() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("algocenter").join("client.toml"))
}

/// A secret in a file others can read is a leaked secret: say so (the command still runs).
fn warn_if_readable_by_others(path: &std::path::Path, has_secret: bool) {
    use std::os::unix::fs::PermissionsExt;
    if has_secret
        && let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: {} holds an access key secret and is readable by others; chmod 600 it",
            path.display()
        );
    }
}

pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    /// Requests are signed with these when given (a server that checks requests needs them).
    credentials: Option<Credentials>,
    pub json: bool,
    /// How many times one request is sent again after an answer worth retrying (see [`retry`]).
    retries: u32,
}

/// Text of a JSON field, empty when absent.
pub fn field(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

impl Client {
    /// The server's base URL, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn new(args: &ClientArgs) -> Self {
        let endpoint = args
            .endpoint
            .clone()
            .unwrap_or_else(|| DEFAULT_ENDPOINT.into());
        let credentials = match (&args.access_key_id, &args.access_key_secret) {
            (Some(key_id), Some(secret)) => Some(Credentials {
                key_id: key_id.clone(),
                secret: secret.clone(),
            }),
            _ => None,
        };
        Client {
            http: reqwest::Client::new(),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            credentials,
            json: args.json,
            retries: args.retries,
        }
    }

    /// A request with the signature headers of the SDKs' ACS3 scheme when credentials are set.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &[u8],
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let url = format!("{}{path}", self.endpoint);
        let mut request = self.http.request(method.clone(), &url);
        let headers = match &self.credentials {
            Some(credentials) => {
                let host = self
                    .endpoint
                    .split_once("://")
                    .map_or(self.endpoint.as_str(), |(_, rest)| rest);
                // These include accept and content-type: each header is sent once, as signed.
                acs3_headers(
                    method.as_str(),
                    host,
                    path,
                    body,
                    "algocenter-cli",
                    credentials,
                )
                .map_err(|e| Failure::Transport(format!("cannot sign the request: {e}")))?
            }
            None => {
                let mut headers = vec![("accept".to_string(), "application/json".to_string())];
                if !body.is_empty() {
                    headers.push((
                        "content-type".into(),
                        "application/json; charset=utf-8".into(),
                    ));
                }
                headers
            }
        };
        for (name, value) in headers {
            request = request.header(name, value);
        }
        Ok(request)
    }

    /// Sends a request; answers the HTTP status and the JSON body, whatever the status. Unavailable or
    /// throttled answers and unreachable servers are retried (see [`retry`]), each retry said on stderr.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Value), Failure> {
        let replay = Replay::of_method(&method);
        self.send_with(method, path, body, replay, &|notice| {
            eprintln!("warning: {notice}")
        })
        .await
    }

    /// [`Client::send`] with the caller's say on replays and on where retry notices go.
    pub async fn send_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        replay: Replay,
        notice: &(dyn Fn(&str) + Sync),
    ) -> Result<(u16, Value), Failure> {
        let body = body.unwrap_or_default();
        let mut retry = 0;
        loop {
            let outcome = self.attempt(method.clone(), path, &body).await?;
            let (wait, why) = match &outcome {
                Sent::Answered {
                    status, headers, ..
                } => (
                    retry::retryable(
                        &Attempt::Answered {
                            status: *status,
                            headers,
                        },
                        replay,
                    ),
                    format!("HTTP {status}"),
                ),
                Sent::Lost { connected, error } => (
                    retry::retryable(
                        &Attempt::Lost {
                            connected: *connected,
                        },
                        replay,
                    ),
                    error.clone(),
                ),
            };
            match (wait, outcome) {
                (Some(hint), _) if retry < self.retries => {
                    let delay = retry::delay(retry, hint);
                    retry += 1;
                    notice(&format!(
                        "{why}; retry {retry} of {} in {:.1} s",
                        self.retries,
                        delay.as_secs_f64()
                    ));
                    tokio::time::sleep(delay).await;
                }
                (_, Sent::Answered { status, text, .. }) => {
                    let value = serde_json::from_str(&text).map_err(|_| {
                        Failure::Transport(format!(
                            "{}{path} answered HTTP {status} with a non-JSON body",
                            self.endpoint
                        ))
                    })?;
                    return Ok((status, value));
                }
                (_, Sent::Lost { error, .. }) => {
                    let tried = if retry > 0 {
                        format!(" (after {retry} retries)")
                    } else {
                        String::new()
                    };
                    return Err(Failure::Transport(format!("{error}{tried}")));
                }
            }
        }
    }

    /// One try, signed afresh (each signature carries its own date and nonce, so a retry is never a replay).
    async fn attempt(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &[u8],
    ) -> Result<Sent, Failure> {
        let mut request = self.request(method, path, body)?;
        if !body.is_empty() {
            request = request.body(body.to_vec());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Ok(Sent::Lost {
                    connected: !e.is_connect(),
                    error: format!("cannot reach {}: {e}", self.endpoint),
                });
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        match response.text().await {
            Ok(text) => Ok(Sent::Answered {
                status,
                headers,
                text,
            }),
            Err(e) => Ok(Sent::Lost {
                connected: true,
                error: format!("broken response from {}: {e}", self.endpoint),
            }),
        }
    }

    /// Starts a GET whose body the caller streams. Retried like [`Client::send`] until an answer starts coming
    /// (a stream broken midway is not resumed: the caller says so).
    pub async fn get_stream(&self, path: &str) -> Result<reqwest::Response, Failure> {
        let mut retry = 0;
        loop {
            let sent = self.request(reqwest::Method::GET, path, b"")?.send().await;
            let wait = match &sent {
                Ok(response) => retry::retryable(
                    &Attempt::Answered {
                        status: response.status().as_u16(),
                        headers: response.headers(),
                    },
                    Replay::Safe,
                ),
                Err(e) => retry::retryable(
                    &Attempt::Lost {
                        connected: !e.is_connect(),
                    },
                    Replay::Safe,
                ),
            };
            match (wait, sent) {
                (Some(hint), sent) if retry < self.retries => {
                    let delay = retry::delay(retry, hint);
                    retry += 1;
                    let why = match sent {
                        Ok(response) => format!("HTTP {}", response.status().as_u16()),
                        Err(e) => format!("cannot reach {}: {e}", self.endpoint),
                    };
                    eprintln!(
                        "warning: {why}; retry {retry} of {} in {:.1} s",
                        self.retries,
                        delay.as_secs_f64()
                    );
                    tokio::time::sleep(delay).await;
                }
                (_, sent) => {
                    return sent.map_err(|e| {
                        Failure::Transport(format!("cannot reach {}: {e}", self.endpoint))
                    });
                }
            }
        }
    }

    /// Sends a request and turns an error answer into a [`Failure`].
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let (status, value) = self
            .send(method, path, body.map(|b| b.to_string().into_bytes()))
            .await?;
        if status < 400 {
            return Ok(value);
        }
        Err(Failure::Api(error_text(status, &value)))
    }
}

/// What one try of a request came to.
enum Sent {
    Answered {
        status: u16,
        headers: reqwest::header::HeaderMap,
        text: String,
    },
    /// No complete answer; `connected` is false when nothing reached the server.
    Lost { connected: bool, error: String },
}

/// `Code (HTTP n): Message [request id]` of either envelope (function API or v3 data plane).
pub fn error_text(status: u16, value: &Value) -> String {
    let (code, message, request_id) = match value.get("errors").and_then(|e| e.get(0)) {
        Some(first) if value.get("Code").is_none() => (
            field(first, "code"),
            field(first, "message"),
            field(value, "request_id"),
        ),
        _ => (
            field(value, "Code"),
            field(value, "Message"),
            field(value, "RequestId"),
        ),
    };
    format!("{code} (HTTP {status}): {message} [request id {request_id}]")
}

/// Percent-encodes one path segment.
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn app(args: ClientArgs, command: AppCommand) -> ExitCode {
    let client = Client::new(&args);
    let outcome = match command {
        AppCommand::Create {
            name,
            app_type,
            description,
        } => {
            let mut body = json!({"name": name, "type": app_type});
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            client
                .call(reqwest::Method::POST, "/v4/openapi/app-groups", Some(body))
                .await
                .map(|v| {
                    let result = v.get("result").cloned().unwrap_or(Value::Null);
                    if client.json {
                        println!("{result}");
                    } else {
                        println!(
                            "created app group {} (id {})",
                            field(&result, "name"),
                            field(&result, "id")
                        );
                    }
                })
        }
        AppCommand::List { page, page_size } => {
            let path = format!("/v4/openapi/app-groups?pageNumber={page}&pageSize={page_size}");
            client
                .call(reqwest::Method::GET, &path, None)
                .await
                .map(|v| {
                    let groups = v
                        .get("result")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    if client.json {
                        println!("{}", Value::Array(groups));
                    } else {
                        print_app_groups(
                            &groups,
                            v.get("totalCount").and_then(Value::as_u64).unwrap_or(0),
                        );
                    }
                })
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}

fn print_app_groups(groups: &[Value], total: u64) {
    println!("{:<12} {:<32} {:<10} DESCRIPTION", "ID", "NAME", "TYPE");
    for g in groups {
        println!(
            "{:<12} {:<32} {:<10} {}",
            field(g, "id"),
            field(g, "name"),
            field(g, "type"),
            field(g, "description")
        );
    }
    println!("({} of {total} app groups)", groups.len());
}

/// `algocenter call`: one signed request; prints the answer as is. Exit code 1 for an HTTP error status.
pub async fn raw_call(
    args: ClientArgs,
    method: String,
    path: String,
    body: Option<String>,
) -> ExitCode {
    let client = Client::new(&args);
    let Ok(method) = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
        eprintln!("error: '{method}' is not an HTTP method");
        return ExitCode::from(2);
    };
    if !path.starts_with('/') {
        eprintln!("error: the path must start with '/'");
        return ExitCode::from(2);
    }
    match client
        .send(method, &path, body.map(String::into_bytes))
        .await
    {
        Ok((status, answer)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&answer).unwrap_or_default()
            );
            if status < 400 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(failure) => failure.exit(),
    }
}
