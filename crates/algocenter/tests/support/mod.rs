//! Running algocenter as a separate process: the real binary, or this test binary re-executed as a server with
//! a slow trainer that exists only in the tests (for killing a process in the middle of a training run).

#![allow(dead_code)]

pub mod slow_worker;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use algocenter_auth::client::{Credentials, acs3_headers};
use serde_json::Value;

pub const BINARY: &str = env!("CARGO_BIN_EXE_algocenter");

/// What a server logs when it answers (followed by its address).
const LISTENING: &str = "listening on ";
/// What a worker logs when it takes tasks.
pub const WORKER_READY: &str = "worker started";

/// A server process and everything it logged.
pub struct Process {
    pub child: Child,
    pub base: String,
    pub log: Arc<Mutex<String>>,
    /// Copies the process's standard error into `log`; ends when the process has exited and its last line is in.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Process {
    /// Starts the real binary: `algocenter serve --listen 127.0.0.1:0 --data-dir DIR <extra>`.
    pub fn serve(data_dir: &Path, extra: &[&str]) -> Process {
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra);
        Process::spawn(command)
    }

    /// Re-executes this test binary's `child_server` test, which serves `data_dir` with the slow test trainer.
    pub fn child_server(data_dir: &Path, grace_secs: u64) -> Process {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "child_server",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ALGOCENTER_TEST_CHILD_DATA_DIR", data_dir)
            .env("ALGOCENTER_TEST_CHILD_GRACE", grace_secs.to_string());
        Process::spawn(command)
    }

    /// The real binary serving `data_dir` on a given address (`127.0.0.1:PORT`), for a server that must come back
    /// where its clients expect it.
    pub fn serve_on(data_dir: &Path, listen: &str) -> Process {
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir);
        Process::spawn(command)
    }

    /// [`Process::serve`] with extra environment variables.
    pub fn serve_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Process {
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .envs(env.iter().copied());
        Process::spawn(command)
    }

    /// Starts the real binary as a worker: `algocenter worker --data-dir DIR <extra>`.
    pub fn worker(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Process {
        let mut command = Command::new(BINARY);
        command
            .args(["worker", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .envs(env.iter().copied());
        Process::spawn_until(command, WORKER_READY)
    }

    /// Re-executes this test binary's test `name` as a child process with `env` (helpers that run a server or
    /// worker with test-only trainers); waits for `ready` in its log.
    pub fn child(name: &str, env: &[(&str, &str)], ready: &'static str) -> Process {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ]);
        for (key, value) in env {
            command.env(key, value);
        }
        Process::spawn_until(command, ready)
    }

    fn spawn(command: Command) -> Process {
        Process::spawn_until(command, LISTENING)
    }

    fn spawn_until(mut command: Command, ready: &'static str) -> Process {
        command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("ALGOCENTER_LISTEN")
            .env_remove("ALGOCENTER_INSECURE_NO_AUTH")
            .env(
                "ALGOCENTER_BOOTSTRAP_KEY",
                format!("{ADMIN_ID}:{ADMIN_SECRET}"),
            );
        let mut child = command.spawn().expect("start server process");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(rest) = line.split(ready).nth(1) {
                    let address = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(address);
                }
            }
        });
        let address = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!("process did not log '{ready}': {}", log.lock().unwrap());
            }
        };
        Process {
            child,
            base: format!("http://{address}"),
            log,
            reader: Some(reader),
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `kill -9`.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn terminate(mut self, within: Duration) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The process is gone, so its standard error ends: the reader has taken the last lines once it
                // ends too.
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return (status, self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not stop within {within:?}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first admin key every test server starts with (`ALGOCENTER_BOOTSTRAP_KEY`).
pub const ADMIN_ID: &str = "test-admin";
pub const ADMIN_SECRET: &str = "test-admin-secret-0123456789";

/// Environment that makes the CLI sign with the admin key.
pub fn admin_env(command: &mut Command) -> &mut Command {
    command
        .env("ALGOCENTER_ACCESS_KEY_ID", ADMIN_ID)
        .env("ALGOCENTER_ACCESS_KEY_SECRET", ADMIN_SECRET)
}

/// A request signed with the admin key, ready to send.
pub fn signed(base: &str, method: &str, path: &str, body: Option<&str>) -> reqwest::RequestBuilder {
    let mut request = reqwest::Client::new().request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{base}{path}"),
    );
    let credentials = Credentials {
        key_id: ADMIN_ID.into(),
        secret: ADMIN_SECRET.into(),
    };
    let host = base.trim_start_matches("http://");
    let body_bytes = body.unwrap_or_default().as_bytes();
    for (name, value) in acs3_headers(method, host, path, body_bytes, "Test", &credentials).unwrap()
    {
        request = request.header(name, value);
    }
    match body {
        Some(body) => request.body(body.to_string()),
        None => request,
    }
}

/// One HTTP call signed with the admin key; returns (status, JSON body).
pub async fn call(base: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let response = signed(base, method, path, body).send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

pub fn temp_data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    (dir, data)
}
