//! Server-side cost of checking one signed request, as the gate (`crates/api/src/gate.rs`) does it per request:
//! `parse_authorization` + `verify` + `request_time_ms` + `nonce` + `ReplayGuard::check` (a fresh nonce every
//! time). The key lookup (a cached `HashMap` read in the server), the header copy and the body read are not
//! included.
//!
//! `cargo bench -p algocenter-auth --bench verify [-- --quick]`
//!
//! Every request is signed before its timing starts (the client's cost is measured on its own, in the `sign`
//! lines); each one is checked once, timed alone with `Instant::now()` (~20 ns of it is the clock itself). The
//! replay guard is the server's (15 min window, 500,000 nonces). Two states of the guard are measured: `empty` (a
//! fresh server) and `full` (pre-filled with 500,000 nonces, as after ~17 s of 30,000 req/s: every check then
//! also evicts the oldest nonce, which is the steady state of a loaded server).

use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use algocenter_auth::client::{Credentials, acs3_headers};
use algocenter_auth::replay::ReplayGuard;
use algocenter_auth::sealing::generate_nonce;
use algocenter_auth::{
    RequestParts, content_md5, nonce, parse_authorization, request_time_ms, sign_opensearch,
    sign_roa, verify,
};

const KEY_ID: &str = "ACbench0123456789abcd";
const SECRET: &str = "benchSecret0123456789abcdefghijk";
const HOST: &str = "127.0.0.1:8080";
const WINDOW_MS: i64 = 15 * 60 * 1000;
const NONCE_CAPACITY: usize = 500_000;

const GET_PATH: &str = "/v4/openapi/app-groups/bench/functions/pop/instances/i0042/tasks/7";
const CREATE_PATH: &str = "/v4/openapi/app-groups/bench/functions/pop/instances";
const PUSH_PATH: &str = "/v3/openapi/app-groups/bench/data-collections/bench/data-collection-type/behavior/actions/bulk";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A request as the server sees it: path, query, headers (lower-case names, in the order a client sends them).
struct Signed {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: Vec<(String, String)>,
}

#[derive(Clone, Copy)]
enum Scheme {
    Acs3,
    Roa,
    OpenSearch,
}

struct Case {
    name: &'static str,
    scheme: Scheme,
    method: &'static str,
    path: &'static str,
    action: &'static str,
    body: Vec<u8>,
}

/// What the server receives for `case`, signed now with a fresh nonce; the headers the HTTP client adds itself
/// (`host`, `content-length`) are added as well.
fn sign(case: &Case, credentials: &Credentials) -> Signed {
    let mut headers = match case.scheme {
        Scheme::Acs3 => acs3_headers(
            case.method,
            HOST,
            case.path,
            &case.body,
            case.action,
            credentials,
        )
        .expect("sign"),
        Scheme::Roa => {
            let mut headers: Vec<(String, String)> = vec![
                ("accept".into(), "application/json".into()),
                (
                    "date".into(),
                    chrono::Utc::now()
                        .format("%a, %d %b %Y %H:%M:%S GMT")
                        .to_string(),
                ),
                ("x-acs-action".into(), case.action.into()),
                ("x-acs-signature-method".into(), "HMAC-SHA1".into()),
                (
                    "x-acs-signature-nonce".into(),
                    generate_nonce().expect("nonce"),
                ),
                ("x-acs-signature-version".into(), "1.0".into()),
                ("x-acs-version".into(), "2017-12-25".into()),
            ];
            let auth = sign_roa(case.method, case.path, &[], &headers, KEY_ID, SECRET);
            headers.push(("authorization".into(), auth));
            headers
        }
        Scheme::OpenSearch => {
            let mut headers: Vec<(String, String)> = Vec::new();
            if !case.body.is_empty() {
                headers.push(("content-md5".into(), content_md5(&case.body)));
                headers.push(("content-type".into(), "application/json".into()));
            }
            headers.push((
                "date".into(),
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ));
            headers.push((
                "x-opensearch-nonce".into(),
                generate_nonce().expect("nonce"),
            ));
            let auth = sign_opensearch(case.method, case.path, &[], &headers, KEY_ID, SECRET);
            headers.push(("authorization".into(), auth));
            headers
        }
    };
    headers.insert(0, ("host".into(), HOST.into()));
    if !case.body.is_empty() {
        headers.push(("content-length".into(), case.body.len().to_string()));
    }
    Signed {
        method: case.method,
        path: case.path,
        query: "",
        headers,
    }
}

/// Nanoseconds of each step of one check.
#[derive(Clone, Copy, Default)]
struct Sample {
    total: u64,
    parse: u64,
    verify: u64,
    date_nonce: u64,
    replay: u64,
}

/// The gate's per-request work, timed.
fn check(signed: &Signed, body: &[u8], guard: &ReplayGuard) -> Sample {
    let parts = RequestParts {
        method: signed.method,
        raw_path: signed.path,
        raw_query: signed.query,
        headers: &signed.headers,
        body,
    };
    let t0 = Instant::now();
    let claim = parse_authorization(&parts).expect("parse_authorization");
    let t1 = Instant::now();
    verify(&parts, &claim, SECRET.as_bytes()).expect("verify");
    let t2 = Instant::now();
    let signed_at = request_time_ms(&parts, claim.scheme).expect("request_time_ms");
    let nonce = nonce(&parts, claim.scheme).expect("nonce");
    let now = now_ms();
    let t3 = Instant::now();
    guard
        .check(&claim.key_id, nonce, signed_at, now)
        .expect("ReplayGuard::check");
    let t4 = Instant::now();
    black_box(&claim);
    let ns = |a: Instant, b: Instant| (b - a).as_nanos() as u64;
    Sample {
        total: ns(t0, t4),
        parse: ns(t0, t1),
        verify: ns(t1, t2),
        date_nonce: ns(t2, t3),
        replay: ns(t3, t4),
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn sorted(samples: &[Sample], f: impl Fn(&Sample) -> u64) -> Vec<u64> {
    let mut v: Vec<u64> = samples.iter().map(f).collect();
    v.sort_unstable();
    v
}

fn fmt_ns(ns: u64) -> String {
    if ns >= 100_000 {
        format!("{:.0} µs", ns as f64 / 1000.0)
    } else {
        format!("{:.2} µs", ns as f64 / 1000.0)
    }
}

/// A guard nearly full (95% of `NONCE_CAPACITY`), its nonces dated over the last 14 minutes: further checks
/// fill it and then evict its oldest slices, as on a busy server.
fn full_guard() -> ReplayGuard {
    let guard = ReplayGuard::new(WINDOW_MS, NONCE_CAPACITY);
    let now = now_ms();
    let prefill = NONCE_CAPACITY * 95 / 100;
    let span = 14 * 60 * 1000;
    for i in 0..prefill {
        let at = now - span + (i as i64 * span / prefill as i64);
        guard
            .check(KEY_ID, &format!("{i:032x}"), at, now)
            .expect("prefill");
    }
    guard
}

fn run(case: &Case, guard: &ReplayGuard, rounds: usize, batch: usize) -> Vec<Sample> {
    let credentials = Credentials {
        key_id: KEY_ID.into(),
        secret: SECRET.into(),
    };
    // Warm-up (not recorded): caches, allocator, the guard's first growth.
    for _ in 0..(batch / 4).max(1) {
        check(&sign(case, &credentials), &case.body, guard);
    }
    let mut samples = Vec::with_capacity(rounds * batch);
    for _ in 0..rounds {
        // Signed just before being checked, so that dates are current; signing is never timed.
        let requests: Vec<Signed> = (0..batch).map(|_| sign(case, &credentials)).collect();
        for signed in &requests {
            samples.push(check(signed, &case.body, guard));
        }
    }
    samples
}

fn report(case: &Case, guard_state: &str, samples: &[Sample]) {
    let total = sorted(samples, |s| s.total);
    let med = |f: fn(&Sample) -> u64| fmt_ns(percentile(&sorted(samples, f), 0.5));
    let mean = total.iter().sum::<u64>() as f64 / total.len().max(1) as f64;
    println!(
        "{:<40} {:<5} {:>9} {:>10} {:>10} {:>10} {:>10} | {:>9} {:>10} {:>10} {:>9}",
        case.name,
        guard_state,
        samples.len(),
        fmt_ns(percentile(&total, 0.5)),
        fmt_ns(percentile(&total, 0.9)),
        fmt_ns(percentile(&total, 0.99)),
        fmt_ns(mean as u64),
        med(|s| s.parse),
        med(|s| s.verify),
        med(|s| s.date_nonce),
        med(|s| s.replay),
    );
}

/// Client-side cost of signing (what the load generator pays per request).
fn report_signing(case: &Case, iterations: usize) {
    let credentials = Credentials {
        key_id: KEY_ID.into(),
        secret: SECRET.into(),
    };
    let mut ns = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t0 = Instant::now();
        black_box(sign(case, &credentials));
        ns.push((Instant::now() - t0).as_nanos() as u64);
    }
    ns.sort_unstable();
    println!(
        "sign (client) {:<40} {:>9} median {:>10}  p99 {:>10}",
        case.name,
        iterations,
        fmt_ns(percentile(&ns, 0.5)),
        fmt_ns(percentile(&ns, 0.99)),
    );
}

fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The replay guard filled from empty to `NONCE_CAPACITY` and past it, one check at a time, as a server sees it
/// under load: the slowest single checks (each holds the guard's one mutex, so every request waits for them) and
/// the memory the remembered nonces take (ACS3 nonces: 32 hex digits; key id of 21 characters).
fn guard_growth(quick: bool) {
    let total = if quick {
        200_000
    } else {
        NONCE_CAPACITY + 100_000
    };
    let nonces: Vec<String> = (0..total)
        .map(|_| generate_nonce().expect("nonce"))
        .collect();
    let rss0 = rss_kb();
    let guard = ReplayGuard::new(WINDOW_MS, NONCE_CAPACITY);
    let now = now_ms();
    let mut times: Vec<(u64, usize)> = Vec::with_capacity(total);
    let started = Instant::now();
    for (i, nonce) in nonces.iter().enumerate() {
        let t0 = Instant::now();
        // Dates as requests at 30,000 req/s carry them: whole seconds, a new one every 30,000 requests.
        let date = now - 60_000 + (i as i64 / 30_000) * 1000;
        guard.check(KEY_ID, nonce, date, now).expect("check");
        times.push(((Instant::now() - t0).as_nanos() as u64, i));
    }
    let elapsed = started.elapsed();
    let rss1 = rss_kb();
    let mut sorted: Vec<u64> = times.iter().map(|(t, _)| *t).collect();
    sorted.sort_unstable();
    let mut worst = times.clone();
    worst.sort_unstable_by(|a, b| b.cmp(a));
    println!(
        "replay guard growth: {total} checks (capacity {NONCE_CAPACITY}) in {:.2} s; median {}, p99 {}, p99.99 {}, \
         max {}; {} checks over 1 ms",
        elapsed.as_secs_f64(),
        fmt_ns(percentile(&sorted, 0.5)),
        fmt_ns(percentile(&sorted, 0.99)),
        fmt_ns(percentile(&sorted, 0.9999)),
        fmt_ns(*sorted.last().unwrap_or(&0)),
        sorted.iter().filter(|t| **t > 1_000_000).count(),
    );
    let worst: Vec<String> = worst
        .iter()
        .take(5)
        .map(|(t, i)| format!("{:.1} ms at nonce {}", *t as f64 / 1e6, i + 1))
        .collect();
    println!("  slowest checks: {}", worst.join(", "));
    if let (Some(a), Some(b)) = (rss0, rss1) {
        let held = guard.len();
        println!(
            "  memory: RSS +{:.1} MB for {held} remembered nonces ({:.0} bytes each)",
            b.saturating_sub(a) as f64 / 1024.0,
            b.saturating_sub(a) as f64 * 1024.0 / held.max(1) as f64
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // 100-byte JSON body of a CreateFunctionInstance.
    let create_body = br#"{"instanceName":"i0001","modelType":"pop","cron":"0 3 * * *","description":"benchmark instance 001"}"#.to_vec();
    assert_eq!(create_body.len(), 100, "the create body is 100 bytes");
    // ~300 KB push body: 1,200 behaviour records of ~250 bytes.
    let mut push_body = b"[".to_vec();
    let mut i = 0;
    while push_body.len() < 300 * 1024 - 300 {
        if i > 0 {
            push_body.push(b',');
        }
        push_body.extend_from_slice(format!(
            r#"{{"cmd":"ADD","fields":{{"user_id":"u{i:08}","item_id":"item{:07}","bhv_type":"click","bhv_time":"1764268800","trace_id":"Alibaba","trace_info":"{{\"k\":\"v\"}}","scm":"s{i}","page_id":"home","module_id":"feed","sdk_type":"opensearch_sdk"}}}}"#,
            i * 7919 % 1_000_000
        ).as_bytes());
        i += 1;
    }
    push_body.push(b']');

    let cases = [
        Case {
            name: "(a) GetFunctionTask GET, ACS3",
            scheme: Scheme::Acs3,
            method: "GET",
            path: GET_PATH,
            action: "GetFunctionTask",
            body: Vec::new(),
        },
        Case {
            name: "(b) CreateFunctionInstance 100 B, ACS3",
            scheme: Scheme::Acs3,
            method: "POST",
            path: CREATE_PATH,
            action: "CreateFunctionInstance",
            body: create_body,
        },
        Case {
            name: "(c) push 300 KB, ACS3",
            scheme: Scheme::Acs3,
            method: "POST",
            path: PUSH_PATH,
            action: "PushDocuments",
            body: push_body.clone(),
        },
        Case {
            name: "(c) push 300 KB, OpenSearch v3",
            scheme: Scheme::OpenSearch,
            method: "POST",
            path: PUSH_PATH,
            action: "",
            body: push_body,
        },
        Case {
            name: "(a) GetFunctionTask GET, ROA v2",
            scheme: Scheme::Roa,
            method: "GET",
            path: GET_PATH,
            action: "GetFunctionTask",
            body: Vec::new(),
        },
        Case {
            name: "(a) GetFunctionTask GET, OpenSearch v3",
            scheme: Scheme::OpenSearch,
            method: "GET",
            path: GET_PATH,
            action: "",
            body: Vec::new(),
        },
    ];

    println!(
        "request checking per request: parse_authorization + verify + request_time_ms + nonce + ReplayGuard::check"
    );
    println!(
        "{:<40} {:<5} {:>9} {:>10} {:>10} {:>10} {:>10} | {:>9} {:>10} {:>10} {:>9}",
        "case",
        "guard",
        "requests",
        "median",
        "p90",
        "p99",
        "mean",
        "parse",
        "verify",
        "date+nonce",
        "replay"
    );
    println!(
        "{:<40} {:<5} {:>9} {:>10} {:>10} {:>10} {:>10} | {:>42}",
        "", "", "", "", "", "", "", "(medians of each step)"
    );
    let (small_rounds, large_rounds) = if quick { (5, 2) } else { (50, 10) };
    let mut full = None;
    for state in ["empty", "full"] {
        for case in &cases {
            let big = case.body.len() > 10_000;
            let (rounds, batch) = if big {
                (large_rounds, 200)
            } else {
                (small_rounds, 2_000)
            };
            let samples = if state == "empty" {
                // A fresh guard per case: it holds only this case's nonces.
                run(
                    case,
                    &ReplayGuard::new(WINDOW_MS, NONCE_CAPACITY),
                    rounds,
                    batch,
                )
            } else {
                let guard = full.get_or_insert_with(full_guard);
                run(case, guard, rounds, batch)
            };
            report(case, state, &samples);
        }
    }
    println!();
    guard_growth(quick);
    println!();
    for case in &cases {
        let big = case.body.len() > 10_000;
        report_signing(
            case,
            if big { 2_000 } else { 100_000 } / if quick { 10 } else { 1 },
        );
    }
}
