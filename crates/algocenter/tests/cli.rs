//! The command-line client of instances and tasks against a live server: table and `--json` output, a watched
//! task, and exit codes scripts can rely on (0 done, 1 refused or failed, 2 bad usage, 3 unreachable).

mod support;

use serde_json::Value;
use support::{BINARY, Process, admin_env, temp_data_dir};

fn run(base: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = admin_env(&mut std::process::Command::new(BINARY))
        .arg("--endpoint")
        .arg(base)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn instances_and_tasks_from_the_command_line() {
    let (tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    let base = server.base.as_str();
    let generated = tmp.path().join("generated");
    let made = std::process::Command::new(BINARY)
        .args(["generate", "--events", "30000", "--days", "10", "--out"])
        .arg(&generated)
        .output()
        .unwrap();
    assert!(made.status.success());
    for app in ["shop", "empty"] {
        assert_eq!(run(base, &["app", "create", app]).0, Some(0));
    }
    let behaviour = generated.join("behavior.jsonl");
    let pushed = run(
        base,
        &[
            "push",
            "--app",
            "shop",
            "--type",
            "behavior",
            behaviour.to_str().unwrap(),
        ],
    );
    assert_eq!(pushed.0, Some(0), "{}", pushed.2);

    let pop = ["--app", "shop", "--function", "pop"];
    let create = |name: &str, extra: &[&str]| {
        let mut args = vec!["instance", "create"];
        args.extend_from_slice(&pop);
        args.extend_from_slice(&[name, "--model-type", "pop"]);
        args.extend_from_slice(extra);
        run(base, &args)
    };
    let (code, stdout, stderr) = create(
        "p1",
        &[
            "--usage",
            "default_score=0.01",
            "--description",
            "from the cli",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("created pop instance p1"), "{stdout}");
    assert_eq!(create("p1", &[]).0, Some(1), "duplicate name");
    assert_eq!(
        create("p2", &["--param", "no-equals-sign"]).0,
        Some(2),
        "bad usage"
    );

    let (_, listed, _) = run(
        base,
        &[
            "--json",
            "instance",
            "list",
            "--app",
            "shop",
            "--function",
            "pop",
        ],
    );
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["InstanceName"], "p1");
    let (_, table, _) = run(
        base,
        &["instance", "list", "--app", "shop", "--function", "pop"],
    );
    assert!(table.starts_with("NAME") && table.contains("p1"), "{table}");

    // A watched run: progress bar on a terminal, then the metrics; exit 0 on success.
    let (code, stdout, stderr) = run(
        base,
        &[
            "task",
            "start",
            "--app",
            "shop",
            "--function",
            "pop",
            "p1",
            "--watch",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("status:     success"), "{stdout}");
    assert!(stdout.contains("spearman:"), "metrics printed: {stdout}");
    let (_, shown, _) = run(
        base,
        &[
            "--json",
            "task",
            "show",
            "--app",
            "shop",
            "--function",
            "pop",
            "p1",
            "1",
        ],
    );
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        (shown["Status"].as_str(), shown["Progress"].as_u64()),
        (Some("success"), Some(100))
    );
    let (_, tasks, _) = run(
        base,
        &["task", "list", "--app", "shop", "--function", "pop", "p1"],
    );
    assert!(
        tasks
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("1 ") && l.contains("success")),
        "{tasks}"
    );
    // Watching the newest task of an instance that has one returns at once.
    assert_eq!(
        run(
            base,
            &["task", "watch", "--app", "shop", "--function", "pop", "p1"]
        )
        .0,
        Some(0)
    );

    assert_eq!(
        run(
            base,
            &[
                "instance",
                "update",
                "--app",
                "shop",
                "--function",
                "pop",
                "p1",
                "--cron",
                "0 3 * * *"
            ]
        )
        .0,
        Some(0)
    );
    let (_, detail, _) = run(
        base,
        &[
            "instance",
            "show",
            "--app",
            "shop",
            "--function",
            "pop",
            "p1",
        ],
    );
    assert!(
        detail.contains("0 3 * * *") && detail.contains("status:      available"),
        "{detail}"
    );
    assert!(
        detail.contains("default_score=0.01") && detail.contains("serving:     generation 1"),
        "{detail}"
    );

    // A task that fails (no data in this app group): exit 1, the reason printed.
    let empty = ["--app", "empty", "--function", "pop"];
    let mut args = vec!["instance", "create"];
    args.extend_from_slice(&empty);
    args.extend_from_slice(&["e1", "--model-type", "pop"]);
    assert_eq!(run(base, &args).0, Some(0));
    let (code, stdout, _) = run(
        base,
        &[
            "task",
            "start",
            "--app",
            "empty",
            "--function",
            "pop",
            "e1",
            "--watch",
        ],
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("status:     failed") && stdout.contains("error: insufficient data"),
        "{stdout}"
    );
    // Refusals exit 1 with the API's code.
    let (code, _, stderr) = run(
        base,
        &[
            "task",
            "show",
            "--app",
            "shop",
            "--function",
            "pop",
            "p1",
            "9",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("Task.NotExist"), "{stderr}");

    assert_eq!(
        run(
            base,
            &[
                "instance",
                "delete",
                "--app",
                "shop",
                "--function",
                "pop",
                "p1"
            ]
        )
        .0,
        Some(0)
    );
    let (code, _, stderr) = run(
        base,
        &[
            "instance",
            "show",
            "--app",
            "shop",
            "--function",
            "pop",
            "p1",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("Instance.NotExist"), "{stderr}");
    let unreachable = run(
        "http://127.0.0.1:9",
        &["task", "list", "--app", "a", "--function", "pop", "x"],
    );
    assert_eq!(unreachable.0, Some(3));
}

#[tokio::test]
async fn the_demo_trains_every_function_and_shows_what_each_serves() {
    let (_tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    let (code, stdout, stderr) = run(&server.base, &["demo", "--events", "40000"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}\n{}", server.log());
    for shown in [
        "created app group demo",
        "ctr reranks 20 items for the query",
        "hot: today's top searches",
        "suggest completes",
        "category predicts:",
    ] {
        assert!(stdout.contains(shown), "{shown}: {stdout}");
    }
    let dashboard = format!("{}/ui/apps/demo", server.base);
    assert!(stdout.contains(&dashboard), "where to look: {stdout}");
    // Six instances trained, each the default instance of its function.
    for (function, instance) in [
        ("pop", "popular"),
        ("ctr", "rank"),
        ("hot", "top"),
        ("hint", "hints"),
        ("suggest", "complete"),
        ("category", "categories"),
    ] {
        let (_, shown, _) = run(
            &server.base,
            &[
                "--json",
                "task",
                "show",
                "--app",
                "demo",
                "--function",
                function,
                instance,
                "1",
            ],
        );
        let task: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(task["Status"], "success", "{function}: {task}");
    }
    // A second demo into the same app group is refused with the API's code.
    let (code, _, stderr) = run(&server.base, &["demo", "--events", "20000"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("App.Duplicated"), "{stderr}");
}
