//! The secure default as an operator meets it: the first admin key, access keys from the CLI, audit lines,
//! `--insecure-no-auth` only on loopback, HTTPS.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{ADMIN_ID, BINARY, Process, admin_env, call, temp_data_dir};

fn cli_as(base: &str, id: &str, secret: &str, args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .env("ALGOCENTER_ACCESS_KEY_ID", id)
        .env("ALGOCENTER_ACCESS_KEY_SECRET", secret)
        .arg("--endpoint")
        .arg(base)
        .args(args)
        .output()
        .unwrap()
}

/// Starts the binary without a bootstrap key; answers the child, its address and its standard output lines.
fn start_fresh(data: &std::path::Path) -> (std::process::Child, String, Vec<String>) {
    let mut child = Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env_remove("ALGOCENTER_BOOTSTRAP_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
    let line = lines.find(|l| l.contains("listening on")).unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    let address = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    (child, format!("http://{address}"), Vec::new())
}

fn stop(mut child: std::process::Child) -> String {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
    }
    out
}

#[test]
fn a_fresh_data_directory_prints_its_first_admin_key_once() {
    let (_tmp, data) = temp_data_dir();
    let (child, base, _) = start_fresh(&data);
    // Nothing gets in unsigned.
    let unsigned = Command::new(BINARY)
        .args(["--endpoint", &base, "app", "list"])
        .output()
        .unwrap();
    assert_eq!(unsigned.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("IncompleteSignature"));
    let printed = stop(child);
    let value = |label: &str| {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{label} not printed: {printed}"))
    };
    let (id, secret) = (value("AccessKeyId:"), value("AccessKeySecret:"));
    assert_eq!(secret.len(), 32);
    let master = std::fs::metadata(data.join("master.key")).unwrap();
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&master.permissions()) & 0o777,
        0o600
    );
    let database = std::fs::read(data.join("algocenter.db")).unwrap();
    assert!(
        !database
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()),
        "the secret is not stored in clear"
    );

    let (child, base, _) = start_fresh(&data);
    let listed = cli_as(&base, &id, &secret, &["app", "list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let again = stop(child);
    assert!(
        !again.contains("AccessKeySecret"),
        "the key is printed on the first start only"
    );
}

#[tokio::test]
async fn keys_from_the_cli_scope_what_they_can_do_and_writes_are_audited() {
    let (_tmp, data) = temp_data_dir();
    let server = Process::serve(&data, &[]);
    call(
        &server.base,
        "POST",
        "/v4/openapi/app-groups",
        Some(r#"{"name":"shop"}"#),
    )
    .await;
    let admin_cli = |args: &[&str]| {
        admin_env(&mut Command::new(BINARY))
            .arg("--endpoint")
            .arg(&server.base)
            .args(args)
            .output()
            .unwrap()
    };
    let created = admin_cli(&[
        "--json",
        "key",
        "create",
        "--scope",
        "read",
        "--apps",
        "shop",
        "--description",
        "dashboard",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let key: Value = serde_json::from_slice(&created.stdout).unwrap();
    let (id, secret) = (
        key["AccessKeyId"].as_str().unwrap(),
        key["AccessKeySecret"].as_str().unwrap(),
    );
    assert_eq!(key["Apps"], serde_json::json!(["shop"]));

    let listed = String::from_utf8_lossy(&admin_cli(&["key", "list"]).stdout).to_string();
    assert!(
        listed.contains(id) && listed.contains("dashboard") && !listed.contains(secret),
        "{listed}"
    );

    assert!(
        cli_as(
            &server.base,
            id,
            secret,
            &["data", "status", "--app", "shop"]
        )
        .status
        .success()
    );
    let refused = cli_as(&server.base, id, secret, &["app", "create", "news"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Forbidden.RAM"));

    // `algocenter call`: any path, signed.
    let described = admin_cli(&["call", "GET", "/v4/openapi/app-groups/shop"]);
    assert!(
        described.status.success()
            && String::from_utf8_lossy(&described.stdout).contains("\"name\": \"shop\"")
    );
    let body = r#"{"instanceName":"p1","modelType":"pop"}"#;
    let write = cli_as(
        &server.base,
        id,
        secret,
        &[
            "call",
            "POST",
            "/v4/openapi/app-groups/shop/functions/pop/instances",
            "--body",
            body,
        ],
    );
    assert_eq!(write.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&write.stdout).contains("Forbidden.RAM"));

    assert!(admin_cli(&["key", "revoke", id]).status.success());
    let revoked = cli_as(
        &server.base,
        id,
        secret,
        &["data", "status", "--app", "shop"],
    );
    assert!(String::from_utf8_lossy(&revoked.stderr).contains("InvalidAccessKeyId.NotFound"));
    let last = admin_cli(&["key", "revoke", ADMIN_ID]);
    assert!(String::from_utf8_lossy(&last.stderr).contains("AccessKey.LastAdmin"));

    let log = server.log();
    let audit: Vec<&str> = log.lines().filter(|l| l.contains("audit")).collect();
    assert!(
        audit.iter().any(|l| l.contains("action=\"CreateAppGroup\"")
            && l.contains(&format!("key_id=\"{ADMIN_ID}\""))
            && l.contains("outcome=\"ok\"")),
        "{log}"
    );
    assert!(
        audit
            .iter()
            .any(|l| l.contains(&format!("key_id=\"{id}\""))
                && l.contains("outcome=\"Forbidden.RAM\"")),
        "{log}"
    );
    assert!(!log.contains(secret), "secrets never reach the log");
}

#[test]
fn checking_can_be_turned_off_only_on_loopback_and_says_so() {
    let (_tmp, data) = temp_data_dir();
    let refused = Command::new(BINARY)
        .args([
            "serve",
            "--insecure-no-auth",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loopback"));

    let server = Process::serve(&data, &["--insecure-no-auth"]);
    assert!(server.log().contains("REQUEST CHECKING IS OFF"));
    let unsigned = Command::new(BINARY)
        .args(["--endpoint", &server.base, "app", "create", "shop"])
        .output()
        .unwrap();
    assert!(
        unsigned.status.success(),
        "{}",
        String::from_utf8_lossy(&unsigned.stderr)
    );
}

#[test]
fn https_with_the_given_certificate() {
    let (tmp, data) = temp_data_dir();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let server = Process::serve(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.log().contains("scheme=\"https\"") || server.log().contains("scheme=https"),
        "{}",
        server.log()
    );
    let url = server.base.replace("http://", "https://") + "/v4/openapi/app-groups";
    let answer = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&cert)
        .arg(&url)
        .output()
        .unwrap();
    let body: Value = serde_json::from_slice(&answer.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&answer.stderr)));
    assert_eq!(
        body["Code"], "IncompleteSignature",
        "an HTTPS answer of the API"
    );
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("{}/v4/openapi/app-groups", server.base))
        .output()
        .unwrap();
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "400",
        "plain HTTP is not served on the TLS port"
    );
}
