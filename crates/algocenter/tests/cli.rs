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
        "query analysis of",
        "  rewritten: ",
    ] {
        assert!(stdout.contains(shown), "{shown}: {stdout}");
    }
    let dashboard = format!("{}/ui/apps/demo", server.base);
    assert!(stdout.contains(&dashboard), "where to look: {stdout}");
    // Eight instances trained, each the default instance of its function.
    for (function, instance) in [
        ("pop", "popular"),
        ("ctr", "rank"),
        ("hot", "top"),
        ("hint", "hints"),
        ("suggest", "complete"),
        ("category", "categories"),
        ("analyzer", "words"),
        ("termweight", "weights"),
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
    predict_and_pin_on_the_demo(&server.base);
    client_configuration_file(&server.base);
    // A second demo into the same app group is refused with the API's code.
    let (code, _, stderr) = run(&server.base, &["demo", "--events", "20000"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("App.Duplicated"), "{stderr}");
}

/// `algocenter predict` for each function of the trained demo, as a table and as JSON, and `instance pin|unpin`.
fn predict_and_pin_on_the_demo(base: &str) {
    let predict = |function: &str, extra: &[&str]| {
        let mut args = vec!["predict", "--app", "demo", "--function", function];
        args.extend_from_slice(extra);
        run(base, &args)
    };
    let (code, table, stderr) = predict(
        "ctr",
        &["--items", "i1,i2,i3", "--query", "牛仔裤", "--user", "u1"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        table.starts_with("instance rank generation 1\nRANK"),
        "{table}"
    );
    assert_eq!(
        table.lines().count(),
        5,
        "a header and three ranked items: {table}"
    );
    let (_, json, _) = run(
        base,
        &[
            "--json",
            "predict",
            "--app",
            "demo",
            "--function",
            "pop",
            "--instance",
            "popular",
            "--items",
            "i1,nope",
        ],
    );
    let result: Value = serde_json::from_str(&json).unwrap();
    let items = result["Scores"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{result}");
    assert!(
        items
            .iter()
            .any(|i| i["ItemId"] == "nope" && i["Known"] == false),
        "{result}"
    );
    let (code, hot, _) = predict("hot", &["--hit", "3"]);
    assert_eq!((code, hot.lines().count()), (Some(0), 5), "{hot}");
    let (code, completions, _) = predict("suggest", &["--query", "牛"]);
    assert_eq!(code, Some(0));
    assert!(
        completions.lines().skip(1).all(|l| l.starts_with('牛')),
        "{completions}"
    );
    let (code, categories, _) = predict("category", &["--text", "牛仔裤", "--text", "lamp"]);
    assert_eq!(code, Some(0));
    assert!(
        categories.contains("牛仔裤 → ") && categories.contains("lamp → "),
        "{categories}"
    );
    // Bad usage is exit 2; an unknown instance is the server's refusal, exit 1.
    assert_eq!(predict("ctr", &[]).0, Some(2));
    assert_eq!(predict("sideways", &[]).0, Some(2));
    assert_eq!(
        predict("pop", &["--instance", "nope", "--items", "i1"]).0,
        Some(1)
    );

    let instance = ["--app", "demo", "--function", "pop", "popular"];
    let pin = |extra: &[&str]| {
        let mut args = vec!["instance"];
        args.extend_from_slice(extra);
        run(base, &args)
    };
    let (code, pinned, stderr) = pin(&[&["pin"][..], &instance[..], &["1"][..]].concat());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(pinned.contains("generation 1 pinned"), "{pinned}");
    let (_, shown, _) = pin(&[&["show"][..], &instance[..]].concat());
    assert!(
        shown.contains("serving:     generation 1 (pinned to 1)"),
        "{shown}"
    );
    let (code, _, stderr) = pin(&[&["pin"][..], &instance[..], &["7"][..]].concat());
    assert_eq!(code, Some(1));
    assert!(stderr.contains("Task.NotExist"), "{stderr}");
    let (code, unpinned, _) = pin(&[&["unpin"][..], &instance[..]].concat());
    assert_eq!(code, Some(0));
    assert!(
        unpinned.contains("unpinned; generation 1 serves"),
        "{unpinned}"
    );
}

/// Endpoint and key from a client configuration file when neither flags nor environment give them.
fn client_configuration_file(base: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("client.toml");
    std::fs::write(
        &file,
        format!(
            "endpoint = \"{base}\"\naccess_key_id = \"{}\"\naccess_key_secret = \"{}\"\n",
            support::ADMIN_ID,
            support::ADMIN_SECRET
        ),
    )
    .unwrap();
    let run_with = |file: &std::path::Path| {
        std::process::Command::new(BINARY)
            .env_remove("ALGOCENTER_ACCESS_KEY_ID")
            .env_remove("ALGOCENTER_ACCESS_KEY_SECRET")
            .env_remove("ALGOCENTER_ENDPOINT")
            .arg("--client-config")
            .arg(file)
            .args(["app", "list"])
            .output()
            .unwrap()
    };
    let listed = run_with(&file);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("demo"));
    let missing = run_with(&dir.path().join("nope.toml"));
    assert_eq!(missing.status.code(), Some(2));
    std::fs::write(&file, "endpoint = 3\n").unwrap();
    let invalid = run_with(&file);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("invalid client configuration"));
}

#[tokio::test]
async fn feature_generator_resources_from_a_file() {
    let (tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    let base = server.base.as_str();
    assert_eq!(run(base, &["app", "create", "shop"]).0, Some(0));
    let good = tmp.path().join("generators.json");
    std::fs::write(
        &good,
        r#"[{"generator": "combo", "input": {"features": [{"name": "system_raw_q_ultra", "type": "user"},
            {"name": "system_item_id", "type": "item"}]}, "output": "comb_q_nid"},
            {"generator": "overlap", "input": {"features": [{"name": "terms", "type": "query"},
            {"name": "title", "type": "item"}]}, "output": "title_match", "method": "is_contain"}]"#,
    )
    .unwrap();
    let target = ["--app", "shop", "--function", "rank"];
    let create = |name: &str, file: &std::path::Path| {
        let mut args = vec!["resource", "create"];
        args.extend_from_slice(&target);
        args.extend_from_slice(&[name, "--generators", file.to_str().unwrap()]);
        run(base, &args)
    };
    let (code, stdout, stderr) = create("fg", &good);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("created feature_generator resource fg"),
        "{stdout}"
    );
    let (code, stdout, _) = run(
        base,
        &[
            "resource",
            "show",
            "--app",
            "shop",
            "--function",
            "rank",
            "fg",
        ],
    );
    assert_eq!(code, Some(0));
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        shown["Data"]["Generators"][1]["Options"]["method"],
        "is_contain"
    );

    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"generator": "raw", "input": {"features": [{"name": "system_item_id", "type": "item"}]}, "output": "x"}]"#,
    )
    .unwrap();
    let (code, _, stderr) = create("bad", &bad);
    assert_eq!(code, Some(1), "refused by the server");
    assert!(
        stderr.contains("Data.Generators[0].Input.Features[0]"),
        "{stderr}"
    );
    let missing = tmp.path().join("nothing.json");
    assert_eq!(create("gone", &missing).0, Some(3), "an unreadable file");
    let (code, stdout, _) = run(
        base,
        &["resource", "list", "--app", "shop", "--function", "rank"],
    );
    assert_eq!(code, Some(0));
    assert!(stdout.contains("fg  feature_generator"), "{stdout}");
}
