//! algocenter as an operator runs it: a separate process on a data directory, stopped politely or killed.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use algocenter::config::ServeConfig;
use algocenter_domain::Function;
use algocenter_functions::{Progress, TrainError, TrainedModel, Trainer, Trainers, TrainingJob};
use algocenter_testkit::Deadline;
use serde_json::{Map, Value};
use support::{BINARY, Process, admin_env, call, temp_data_dir};

const POP: &str = "/v4/openapi/app-groups/shop/functions/pop";

/// Ten seconds of "training" in 1 % steps; stops when cancelled.
struct SlowTrainer;

impl Trainer for SlowTrainer {
    fn train(
        &self,
        _: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        for p in 1..=100 {
            // Taking time is the point: the tests stop or kill the process while it runs.
            std::thread::sleep(Duration::from_millis(100));
            progress.report("fitting", p)?;
        }
        Ok(TrainedModel {
            artifact: b"slow".to_vec(),
            metrics: Map::new(),
            passed_quality_gate: true,
        })
    }
}

/// Not a test: the server process that other tests start (see `support::Process::child_server`).
#[test]
#[ignore = "helper run as a child process by other tests"]
fn child_server() {
    let Ok(data_dir) = std::env::var("ALGOCENTER_TEST_CHILD_DATA_DIR") else {
        return;
    };
    let grace: u64 = std::env::var("ALGOCENTER_TEST_CHILD_GRACE")
        .unwrap()
        .parse()
        .unwrap();
    let args = algocenter::cli::ServeArgs {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(data_dir.into()),
        shutdown_grace_secs: Some(grace),
        ..Default::default()
    };
    let config = ServeConfig::resolve(args).unwrap();
    algocenter::serve::init_logging(&config);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let trainers = Trainers::default().with(Function::Pop, Arc::new(SlowTrainer));
    runtime
        .block_on(algocenter::serve::serve(config, trainers))
        .unwrap();
    runtime.shutdown_timeout(Duration::from_secs(1));
}

async fn setup_instance(base: &str) {
    let (status, body) = call(
        base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        base,
        "POST",
        &format!("{POP}/instances"),
        Some(r#"{"instanceName":"p","modelType":"pop"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn task(base: &str, generation: u32) -> Value {
    let (status, body) = call(
        base,
        "GET",
        &format!("{POP}/instances/p/tasks/{generation}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["Result"].clone()
}

async fn wait_for(base: &str, generation: u32, what: impl Fn(&Value) -> bool) -> Value {
    let deadline = Deadline::after(Duration::from_secs(30));
    loop {
        let t = task(base, generation).await;
        if what(&t) {
            return t;
        }
        deadline.again(format_args!("task is {t}")).await;
    }
}

fn errors(task: &Value) -> Vec<String> {
    let info: Value = serde_json::from_str(task["ExtendInfo"].as_str().unwrap()).unwrap();
    info["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn first_start_creates_the_data_directory_and_logs_the_address() {
    let (_tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    assert!(server.log().contains(&format!(
        "listening on {}",
        server.base.trim_start_matches("http://")
    )));
    setup_instance(&server.base).await;
    assert!(data.join("algocenter.db").is_file());
    assert!(
        data.join("algocenter.db-wal").is_file(),
        "SQLite runs in WAL mode"
    );
    assert!(data.join("artifacts").is_dir());
    // One process per data directory.
    let second = std::process::Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("in use by another algocenter process")
    );
}

#[tokio::test]
async fn instances_tasks_and_generations_survive_a_restart() {
    let (_tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    setup_instance(&server.base).await;
    for generation in 1..=2 {
        call(
            &server.base,
            "POST",
            &format!("{POP}/instances/p/tasks"),
            None,
        )
        .await;
        // No behaviour data was pushed: the run fails and says so.
        let t = wait_for(&server.base, generation, |t| t["Status"] == "failed").await;
        assert!(errors(&t)[0].starts_with("insufficient data"), "{t}");
    }
    call(
        &server.base,
        "DELETE",
        &format!("{POP}/instances/p/tasks/2"),
        None,
    )
    .await;
    let (status, log) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "SIGTERM exits cleanly: {log}");
    assert!(log.contains("stopped"));
    let wal = std::fs::metadata(data.join("algocenter.db-wal")).map_or(0, |m| m.len());
    assert_eq!(
        wal, 0,
        "a stopped data directory is checkpointed into one file"
    );
    let server = Process::serve(&data, &[]);
    let (_, instance) = call(
        &server.base,
        "GET",
        &format!("{POP}/instances/p?output=detail"),
        None,
    )
    .await;
    assert_eq!(instance["Result"]["Task"]["DagStatus"], "failed");
    assert_eq!(task(&server.base, 1).await["Status"], "failed");
    let (status, body) = call(
        &server.base,
        "POST",
        &format!("{POP}/instances/p/tasks"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["Result"]["Generation"].as_str()),
        (200, Some("3")),
        "generation 2 is never reused"
    );
}

#[tokio::test]
async fn kill_9_during_training_leaves_no_running_task_and_no_reused_generation() {
    let (_tmp, data) = temp_data_dir();
    let server = Process::child_server(&data, 30);
    setup_instance(&server.base).await;
    call(
        &server.base,
        "POST",
        &format!("{POP}/instances/p/tasks"),
        None,
    )
    .await;
    let running = wait_for(&server.base, 1, |t| {
        t["Progress"].as_i64().unwrap_or(0) >= 5
    })
    .await;
    assert_eq!(running["Status"], "running");
    server.kill();

    let server = Process::serve(&data, &[]);
    let t = task(&server.base, 1).await;
    assert_eq!(t["Status"], "failed", "{t}");
    assert!(errors(&t)[0].starts_with("worker lost"), "{t}");
    assert!(t["EndTime"].as_i64().unwrap() > 0);
    let (_, body) = call(
        &server.base,
        "POST",
        &format!("{POP}/instances/p/tasks"),
        None,
    )
    .await;
    assert_eq!(body["Result"]["Generation"], "2");
    let (_, instance) = call(&server.base, "GET", &format!("{POP}/instances/p"), None).await;
    assert_eq!(
        instance["Result"]["Status"], "unavailable",
        "the killed run never served"
    );
}

#[tokio::test]
async fn sigterm_gives_running_tasks_a_grace_period_then_fails_them() {
    let (_tmp, data) = temp_data_dir();
    let server = Process::child_server(&data, 1);
    setup_instance(&server.base).await;
    call(
        &server.base,
        "POST",
        &format!("{POP}/instances/p/tasks"),
        None,
    )
    .await;
    wait_for(&server.base, 1, |t| {
        t["Progress"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    let started = Instant::now();
    let (status, log) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{log}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the 1 s grace"
    );

    let server = Process::serve(&data, &[]);
    let t = task(&server.base, 1).await;
    assert_eq!(t["Status"], "failed");
    assert!(errors(&t)[0].starts_with("interrupted"), "{t}");
}

#[tokio::test]
async fn cli_creates_and_lists_app_groups_with_reliable_exit_codes() {
    let (_tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    let cli = |args: &[&str]| {
        admin_env(&mut std::process::Command::new(BINARY))
            .arg("--endpoint")
            .arg(&server.base)
            .args(args)
            .output()
            .unwrap()
    };
    let created = cli(&["app", "create", "shop", "--description", "main shop"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(String::from_utf8_lossy(&created.stdout).contains("created app group shop"));
    let duplicate = cli(&["app", "create", "shop"]);
    assert_eq!(duplicate.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("App.Duplicated"));
    let listed = cli(&["app", "list", "--json"]);
    let groups: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        (
            groups[0]["name"].as_str(),
            groups[0]["description"].as_str()
        ),
        (Some("shop"), Some("main shop"))
    );
    let table = String::from_utf8_lossy(&cli(&["app", "list"]).stdout).to_string();
    assert!(
        table.contains("shop") && table.contains("(1 of 1 app groups)"),
        "{table}"
    );

    let unreachable = std::process::Command::new(BINARY)
        .args(["--endpoint", "http://127.0.0.1:9", "app", "list"])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(3));
}

#[test]
fn help_documents_every_serve_option_and_bad_config_exits_2() {
    let help = std::process::Command::new(BINARY)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for option in [
        "--config",
        "--listen",
        "--data-dir",
        "--workers",
        "--keep-generations",
        "--lease-secs",
        "--shutdown-grace-secs",
        "--max-push-bytes",
        "--event-retention-days",
        "--insecure-no-auth",
        "--auth-window-secs",
        "--nonce-capacity",
        "--rate-limit",
        "--rate-burst",
        "--master-key-file",
        "--tls-cert",
        "--tls-key",
        "--header-timeout-secs",
        "--max-body-bytes",
        "--sqlite-synchronous",
        "--log-format",
        "--log",
        "ALGOCENTER_LISTEN",
        "ALGOCENTER_DATA_DIR",
        "127.0.0.1:8080",
        "./algocenter-data",
    ] {
        assert!(text.contains(option), "--help lacks {option}:\n{text}");
    }
    let bad = std::process::Command::new(BINARY)
        .args(["serve", "--listen", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test]
async fn the_toml_file_configures_the_server_and_flags_override_it() {
    let (tmp, data) = temp_data_dir();
    let file = tmp.path().join("algocenter.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\nworkers = 0\nlisten = \"127.0.0.1:1\"\n",
            data
        ),
    )
    .unwrap();
    // The flag's port 0 wins over the file's port 1; the data directory comes from the file.
    let mut command = std::process::Command::new(BINARY);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&file);
    let server = {
        use std::io::{BufRead, BufReader};
        let mut child = command
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let line = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("listening on"))
            .unwrap();
        (child, line)
    };
    let (mut child, line) = server;
    assert!(line.contains("workers=0"), "{line}");
    assert!(!line.contains("127.0.0.1:1 "), "{line}");
    assert!(data.join("algocenter.db").is_file());
    child.kill().unwrap();
    child.wait().unwrap();
}
