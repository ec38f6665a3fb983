//! Closed-loop HTTP load of GetFunctionTask, signed (ACS3, a fresh date and nonce per request) or not: N tasks on
//! N keep-alive connections, each sending its next request as soon as the previous answer is read, for a fixed
//! duration. Every answer must be 200: any other status or a transport error is counted, printed, and makes the
//! run exit with status 1 (a benchmark of 4xx is worthless).
//!
//! ```text
//! cargo bench -p algocenter --bench signed_load -- load --url URL [--key ID:SECRET] [--duration 30]
//!     [--connections 64] [--threads 2] [--instances 1000] [--generations 20] [--prebuilt N] [--server-pid PID]
//!     [--label NAME] [--rate R]
//! cargo bench -p algocenter --bench signed_load -- seed --url URL [--key ID:SECRET] [--instances 1000]
//!     [--generations 20] [--connections 32]
//! ```
//!
//! * `--key` signs every request with `algocenter_auth::client::acs3_headers`; without it requests are unsigned
//!   (for a server started with `--insecure-no-auth`). Both send the same `accept` header and nothing else of
//!   their own; the HTTP client adds `host`.
//! * Live mode (default): each request is built and, with `--key`, signed inside the loop, so the generator's
//!   signing cost shares the machine's cores with the server.
//! * `--prebuilt N`: N requests (random instance and generation, signed with `--key`, each with its own nonce) are
//!   built before the clock starts and handed out round-robin to the connections, which send them in order; the
//!   loop then only sends. A connection that runs out before the duration ends fails the run (raise N).
//! * Latency is from the hand-off to the HTTP client until the body is read (building and signing excluded).
//! * `--rate R`: paced instead of closed-loop: R requests a second over all connections, each connection on its own
//!   evenly spaced schedule. Latency then runs from the scheduled send time, so a late answer also counts against the
//!   requests it held up (no coordinated omission). For the added latency of a check at a load the machine carries.
//! * CPU: the generator's own user+system time (`/proc/self/stat`) and, with `--server-pid`, the server's, over the
//!   measured interval; machine busy % from `/proc/stat`, and what the rest of the machine used meanwhile (other
//!   processes: a large figure means the machine was shared and the run is not comparable). Context switches of both
//!   processes (`/proc/PID/task/*/status`) and the server's RSS after the load.
//!
//! The last line of a load is machine-readable: `RESULT key=value ...`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use algocenter_auth::client::{Credentials, acs3_headers};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};

const GROUP: &str = "bench";
const FUNCTION_PATH: &str = "/v4/openapi/app-groups/bench/functions/pop/instances";

struct Args {
    command: String,
    url: String,
    credentials: Option<Credentials>,
    duration: Duration,
    connections: usize,
    threads: usize,
    instances: u32,
    generations: u32,
    prebuilt: Option<usize>,
    server_pid: Option<u32>,
    seed: u64,
    label: Option<String>,
    rate: Option<f64>,
}

fn usage(message: &str) -> ! {
    eprintln!("signed_load: {message}");
    eprintln!(
        "usage: signed_load load|seed --url URL [--key ID:SECRET] [--duration SECS] [--connections N] [--threads N] \
         [--instances N] [--generations N] [--prebuilt N] [--server-pid PID] [--seed N] [--label NAME] [--rate R]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    // `cargo bench` adds `--bench`.
    let raw: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut args = Args {
        command: String::new(),
        url: String::new(),
        credentials: None,
        duration: Duration::from_secs(30),
        connections: 64,
        threads: 2,
        instances: 1000,
        generations: 20,
        prebuilt: None,
        server_pid: None,
        seed: 0x5eed,
        label: None,
        rate: None,
    };
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        fn num<T: std::str::FromStr>(name: &str, v: String) -> T {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{name}: not a number: {v}")))
        }
        match arg.as_str() {
            "load" | "seed" if args.command.is_empty() => args.command = arg,
            "--url" => args.url = value("--url").trim_end_matches('/').to_string(),
            "--key" => {
                let v = value("--key");
                let (key_id, secret) = v
                    .split_once(':')
                    .unwrap_or_else(|| usage("--key must be ID:SECRET"));
                args.credentials = Some(Credentials {
                    key_id: key_id.into(),
                    secret: secret.into(),
                });
            }
            "--duration" => {
                args.duration = Duration::from_secs_f64(num("--duration", value("--duration")))
            }
            "--connections" => args.connections = num("--connections", value("--connections")),
            "--threads" => args.threads = num("--threads", value("--threads")),
            "--instances" => args.instances = num("--instances", value("--instances")),
            "--generations" => args.generations = num("--generations", value("--generations")),
            "--prebuilt" => args.prebuilt = Some(num("--prebuilt", value("--prebuilt"))),
            "--server-pid" => args.server_pid = Some(num("--server-pid", value("--server-pid"))),
            "--seed" => args.seed = num("--seed", value("--seed")),
            "--label" => args.label = Some(value("--label")),
            "--rate" => args.rate = Some(num("--rate", value("--rate"))),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if args.command.is_empty() {
        usage("say load or seed");
    }
    if args.url.is_empty() {
        usage("--url is required");
    }
    if args.connections == 0 || args.threads == 0 || args.instances == 0 || args.generations == 0 {
        usage("counts must be positive");
    }
    args
}

/// splitmix64: a small, fast, seedable generator (quality is ample for picking keys).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u32) -> u32 {
        (((self.next() >> 32) * u64::from(n)) >> 32) as u32
    }
}

/// Builds requests to one server, signed when credentials are given.
struct Builder {
    base: String,
    host: String,
    credentials: Option<Credentials>,
}

impl Builder {
    fn new(url: &str, credentials: Option<Credentials>) -> Self {
        let host = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        Builder {
            base: url.to_string(),
            host,
            credentials,
        }
    }

    fn build(&self, method: Method, path: &str, body: &[u8], action: &str) -> reqwest::Request {
        let url = Url::parse(&format!("{}{path}", self.base)).expect("URL");
        let mut request = reqwest::Request::new(method.clone(), url);
        let headers = match &self.credentials {
            Some(credentials) => {
                acs3_headers(method.as_str(), &self.host, path, body, action, credentials)
                    .expect("sign")
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
        let map = request.headers_mut();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(&value).expect("header value"),
            );
        }
        if !body.is_empty() {
            *request.body_mut() = Some(body.to_vec().into());
        }
        request
    }

    fn get_task(&self, rng: &mut Rng, instances: u32, generations: u32) -> (reqwest::Request, u32) {
        let instance = 1 + rng.below(instances);
        let generation = 1 + rng.below(generations);
        let path = format!("{FUNCTION_PATH}/i{instance:04}/tasks/{generation}");
        (
            self.build(Method::GET, &path, b"", "GetFunctionTask"),
            generation,
        )
    }
}

fn http_client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// user+system CPU seconds of a process (`/proc/PID/stat` fields 14 and 15, clock ticks of 1/100 s).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// (busy, total) jiffies of the whole machine from `/proc/stat`.
fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

/// Voluntary + involuntary context switches of all threads of a process (threads that already exited are not
/// counted).
fn context_switches(pid: &str) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(status) = std::fs::read_to_string(task.ok()?.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            if let Some(v) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    Some(total)
}

/// (VmRSS, VmHWM) of a process in MB.
fn memory_mb(pid: &str) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

#[derive(Default)]
struct TaskResult {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    first_error: Option<String>,
    exhausted_at: Option<Duration>,
    /// When the task's loop ended (its last answer read).
    finished_at: Duration,
    /// Pre-built requests not sent, dropped only after the measurement (freeing them takes seconds).
    leftover: Option<Source>,
}

/// Reads an answer; Ok(body) only for 200.
async fn read(
    result: Result<reqwest::Response, reqwest::Error>,
) -> Result<impl AsRef<[u8]> + use<>, (Option<StatusCode>, String)> {
    match result {
        Ok(response) => {
            let status = response.status();
            match response.bytes().await {
                Ok(body) if status == StatusCode::OK => Ok(body),
                Ok(body) => Err((Some(status), String::from_utf8_lossy(&body).into_owned())),
                Err(e) => Err((None, format!("reading the body: {e}"))),
            }
        }
        Err(e) => Err((None, e.to_string())),
    }
}

/// The generation a GetFunctionTask answer is about (a sanity check that answers are the tasks asked for).
fn answered_generation(body: &[u8]) -> Option<u64> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let g = &doc["Result"]["Generation"];
    g.as_u64().or_else(|| g.as_str()?.parse().ok())
}

enum Source {
    Live { builder: Arc<Builder>, rng: Rng },
    Prebuilt(std::vec::IntoIter<(reqwest::Request, u32)>),
}

async fn drive(
    client: reqwest::Client,
    mut source: Source,
    args: Arc<Args>,
    start: Instant,
    deadline: Instant,
    done: Arc<AtomicU64>,
    // Paced mode: this connection's first send (from `start`) and the time between its sends.
    pace: Option<(Duration, Duration)>,
) -> TaskResult {
    let mut out = TaskResult {
        latencies_us: Vec::with_capacity(1 << 16),
        ..Default::default()
    };
    let mut checked = false;
    let mut scheduled = pace.map(|(offset, _)| start + offset);
    while Instant::now() < deadline {
        let (request, generation) = match &mut source {
            Source::Live { builder, rng } => {
                builder.get_task(rng, args.instances, args.generations)
            }
            Source::Prebuilt(it) => match it.next() {
                Some(r) => r,
                None => {
                    out.exhausted_at = Some(start.elapsed());
                    break;
                }
            },
        };
        let t0 = match (scheduled, pace) {
            (Some(at), Some((_, every))) => {
                tokio::time::sleep_until(at.into()).await;
                scheduled = Some(at + every);
                at
            }
            _ => Instant::now(),
        };
        let result = read(client.execute(request).await).await;
        let us = t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        match result {
            Ok(body) => {
                out.latencies_us.push(us);
                *out.statuses.entry(200).or_default() += 1;
                if !checked {
                    checked = true;
                    if answered_generation(body.as_ref()) != Some(u64::from(generation)) {
                        *out.statuses.entry(200).or_default() -= 1;
                        *out.statuses.entry(0).or_default() += 1;
                        out.first_error.get_or_insert_with(|| {
                            format!(
                                "200 but not generation {generation}: {}",
                                String::from_utf8_lossy(body.as_ref())
                            )
                        });
                    }
                }
            }
            Err((Some(status), body)) => {
                *out.statuses.entry(status.as_u16()).or_default() += 1;
                out.first_error
                    .get_or_insert_with(|| format!("HTTP {status}: {body}"));
            }
            Err((None, e)) => {
                out.transport_errors += 1;
                out.first_error.get_or_insert(e);
            }
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    out.finished_at = start.elapsed();
    out.leftover = Some(source);
    out
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

async fn load(args: Args) -> i32 {
    let args = Arc::new(args);
    let client = http_client(args.connections);
    let builder = Arc::new(Builder::new(&args.url, args.credentials.clone()));
    let signed = args.credentials.is_some();
    let mode = match (signed, args.prebuilt.is_some()) {
        (true, false) => "signed-live",
        (false, false) => "unsigned-live",
        (true, true) => "signed-prebuilt",
        (false, true) => "unsigned-prebuilt",
    };
    let mode = args.label.as_deref().unwrap_or(mode);

    let mut rng = Rng(args.seed);
    // The warm-up requests are built (signed) first, although sent after the pre-building: the server's replay
    // guard, once full, refuses requests dated before the newest date it has forgotten, so requests must be dated in
    // the order they arrive.
    let warmup_requests: Vec<reqwest::Request> = (0..args.connections)
        .map(|_| {
            builder
                .get_task(&mut rng, args.instances, args.generations)
                .0
        })
        .collect();
    // Requests built before the clock starts (prebuilt mode), round-robin over the connections so that every
    // connection sends them in the order they were signed.
    let mut sources: Vec<Source> = Vec::with_capacity(args.connections);
    let mut build_secs = 0.0;
    if let Some(n) = args.prebuilt {
        let t = Instant::now();
        let mut lists: Vec<Vec<(reqwest::Request, u32)>> = (0..args.connections)
            .map(|_| Vec::with_capacity(n / args.connections + 1))
            .collect();
        for i in 0..n {
            lists[i % args.connections].push(builder.get_task(
                &mut rng,
                args.instances,
                args.generations,
            ));
        }
        build_secs = t.elapsed().as_secs_f64();
        eprintln!(
            "built {n} {} requests in {build_secs:.1} s ({:.2} µs each)",
            if signed { "signed" } else { "unsigned" },
            build_secs * 1e6 / n.max(1) as f64
        );
        sources.extend(lists.into_iter().map(|l| Source::Prebuilt(l.into_iter())));
    } else {
        for c in 0..args.connections {
            sources.push(Source::Live {
                builder: Arc::clone(&builder),
                rng: Rng(args.seed ^ (c as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407)),
            });
        }
    }

    // Warm-up: one request per connection, all at once, so that every connection is open before the clock starts
    // (after the pre-building: the server closes connections idle for longer than its header timeout, 10 s).
    let mut warmup = Vec::new();
    for request in warmup_requests {
        let client = client.clone();
        warmup.push(tokio::spawn(async move {
            read(client.execute(request).await).await
        }));
    }
    for w in warmup {
        if let Err((status, body)) = w.await.expect("warm-up task") {
            eprintln!("warm-up request failed: {status:?} {body}");
            println!("RESULT mode={mode} errors=1 failed=warm-up");
            return 1;
        }
    }

    let server_pid = args.server_pid.map(|p| p.to_string());
    let gen_cpu0 = cpu_seconds("self");
    let srv_cpu0 = server_pid.as_deref().and_then(cpu_seconds);
    let machine0 = machine_jiffies();
    let gen_cs0 = context_switches("self");
    let srv_cs0 = server_pid.as_deref().and_then(context_switches);
    let start = Instant::now();
    let deadline = start + args.duration;
    let done = Arc::new(AtomicU64::new(0));
    let connections = args.connections as f64;
    let tasks: Vec<_> = sources
        .into_iter()
        .enumerate()
        .map(|(c, source)| {
            let pace = args.rate.map(|rate| {
                (
                    Duration::from_secs_f64(c as f64 / rate),
                    Duration::from_secs_f64(connections / rate),
                )
            });
            tokio::spawn(drive(
                client.clone(),
                source,
                Arc::clone(&args),
                start,
                deadline,
                Arc::clone(&done),
                pace,
            ))
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await.expect("load task"));
    }
    // The end of the measured interval is when the last loop ended (not when the tasks were joined).
    let elapsed = results
        .iter()
        .map(|r| r.finished_at)
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    let gen_cpu = gen_cpu0.zip(cpu_seconds("self")).map(|(a, b)| b - a);
    let srv_cpu = srv_cpu0
        .zip(server_pid.as_deref().and_then(cpu_seconds))
        .map(|(a, b)| b - a);
    let gen_cs = gen_cs0
        .zip(context_switches("self"))
        .map(|(a, b)| b.saturating_sub(a));
    let srv_cs = srv_cs0
        .zip(server_pid.as_deref().and_then(context_switches))
        .map(|(a, b)| b.saturating_sub(a));
    let srv_mem = server_pid.as_deref().and_then(memory_mb);
    let machine1 = machine_jiffies();
    let machine_busy = machine0
        .zip(machine1)
        .map(|((b0, t0), (b1, t1))| 100.0 * (b1 - b0) as f64 / (t1 - t0).max(1) as f64);
    // CPU the rest of the machine used meanwhile (other processes, the kernel's own threads): a run where this is
    // large measured a shared machine.
    let other_cpu = machine0
        .zip(machine1)
        .map(|((b0, _), (b1, _))| (b1 - b0) as f64 / 100.0)
        .zip(gen_cpu)
        .map(|(busy, g)| busy - g - srv_cpu.unwrap_or(0.0));

    let mut latencies: Vec<u32> = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut transport_errors = 0;
    let mut first_error = None;
    let mut exhausted = None;
    for r in results {
        latencies.extend_from_slice(&r.latencies_us);
        for (s, n) in r.statuses {
            *statuses.entry(s).or_default() += n;
        }
        transport_errors += r.transport_errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
        if let Some(at) = r.exhausted_at {
            exhausted = Some(exhausted.map_or(at, |e: Duration| e.min(at)));
        }
    }
    latencies.sort_unstable();
    let ok = statuses.get(&200).copied().unwrap_or(0);
    let errors: u64 = statuses
        .iter()
        .filter(|(s, _)| **s != 200)
        .map(|(_, n)| n)
        .sum::<u64>()
        + transport_errors;
    let total = ok + errors;
    let rps = ok as f64 / elapsed;
    let mean_ms = latencies.iter().map(|&l| u64::from(l)).sum::<u64>() as f64
        / latencies.len().max(1) as f64
        / 1000.0;
    let (p50, p90, p99, p999, max) = (
        percentile_ms(&latencies, 0.50),
        percentile_ms(&latencies, 0.90),
        percentile_ms(&latencies, 0.99),
        percentile_ms(&latencies, 0.999),
        percentile_ms(&latencies, 1.0),
    );
    let fmt_opt =
        |v: Option<f64>, digits: usize| v.map_or("n/a".to_string(), |v| format!("{v:.digits$}"));

    println!(
        "{mode}: {} connections, {} generator threads, {:.1} s, GetFunctionTask on {} instances x {} generations",
        args.connections, args.threads, elapsed, args.instances, args.generations
    );
    println!(
        "  requests {total} ({ok} x 200), {rps:.0} req/s; latency mean {mean_ms:.2} ms, p50 {p50:.2}, p90 {p90:.2}, \
         p99 {p99:.2}, p99.9 {p999:.2}, max {max:.2} ms"
    );
    println!(
        "  CPU over the run: generator {} s ({} µs/request), server {} s ({} µs/request), machine busy {} %, \
         other processes {} s",
        fmt_opt(gen_cpu, 2),
        fmt_opt(gen_cpu.map(|c| c * 1e6 / total.max(1) as f64), 1),
        fmt_opt(srv_cpu, 2),
        fmt_opt(srv_cpu.map(|c| c * 1e6 / total.max(1) as f64), 1),
        fmt_opt(machine_busy, 1),
        fmt_opt(other_cpu, 2),
    );
    println!(
        "  context switches per request: generator {}, server {}; server RSS / peak after: {} MB",
        fmt_opt(gen_cs.map(|c| c as f64 / total.max(1) as f64), 2),
        fmt_opt(srv_cs.map(|c| c as f64 / total.max(1) as f64), 2),
        srv_mem.map_or("n/a".into(), |(rss, hwm)| format!("{rss:.1} / {hwm:.1}")),
    );
    if errors > 0 {
        println!(
            "  ERRORS: {errors} (statuses {:?}, transport {transport_errors}); first: {}",
            statuses
                .iter()
                .filter(|(s, _)| **s != 200)
                .collect::<Vec<_>>(),
            first_error.as_deref().unwrap_or("-")
        );
    }
    if let Some(at) = exhausted {
        println!(
            "  EXHAUSTED: a connection ran out of pre-built requests after {:.1} s of {:.1} s: raise --prebuilt",
            at.as_secs_f64(),
            args.duration.as_secs_f64()
        );
    }
    println!(
        "RESULT mode={mode} connections={} threads={} seconds={elapsed:.2} requests={total} ok={ok} errors={errors} \
         rps={rps:.0} mean_ms={mean_ms:.3} p50_ms={p50:.3} p90_ms={p90:.3} p99_ms={p99:.3} p999_ms={p999:.3} \
         max_ms={max:.3} gen_cpu_s={} server_cpu_s={} machine_busy_pct={} other_cpu_s={} gen_cs={} server_cs={} server_rss_mb={} \
         server_hwm_mb={} prebuilt={} build_s={build_secs:.1} exhausted={}",
        args.connections,
        args.threads,
        fmt_opt(gen_cpu, 2),
        fmt_opt(srv_cpu, 2),
        fmt_opt(machine_busy, 1),
        fmt_opt(other_cpu, 2),
        gen_cs.map_or("n/a".into(), |c| c.to_string()),
        srv_cs.map_or("n/a".into(), |c| c.to_string()),
        fmt_opt(srv_mem.map(|m| m.0), 1),
        fmt_opt(srv_mem.map(|m| m.1), 1),
        args.prebuilt.unwrap_or(0),
        exhausted.is_some(),
    );
    if errors > 0 || exhausted.is_some() || ok == 0 {
        1
    } else {
        0
    }
}

/// JSON answer of a request that must succeed (or be one of `also`).
async fn call(
    client: &reqwest::Client,
    builder: &Builder,
    method: Method,
    path: &str,
    body: &[u8],
    action: &str,
    also: &[u16],
) -> Result<(u16, serde_json::Value), String> {
    let request = builder.build(method.clone(), path, body, action);
    let response = client
        .execute(request)
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    if status == 200 || also.contains(&status) {
        Ok((status, doc))
    } else {
        Err(format!(
            "{method} {path}: HTTP {status} {}",
            String::from_utf8_lossy(&bytes)
        ))
    }
}

async fn seed_instance(
    client: reqwest::Client,
    builder: Arc<Builder>,
    n: u32,
    generations: u32,
) -> Result<(), String> {
    let name = format!("i{n:04}");
    let body = format!(r#"{{"instanceName":"{name}","modelType":"pop"}}"#);
    // 409: already there (a re-run).
    call(
        &client,
        &builder,
        Method::POST,
        FUNCTION_PATH,
        body.as_bytes(),
        "CreateFunctionInstance",
        &[409],
    )
    .await?;
    let tasks = format!("{FUNCTION_PATH}/{name}/tasks");
    for _ in 0..generations {
        let doc = loop {
            // 409 Task.IsRunning: the previous task is not done yet.
            let (status, doc) = call(
                &client,
                &builder,
                Method::POST,
                &tasks,
                b"",
                "CreateFunctionTask",
                &[409],
            )
            .await?;
            if status == 200 {
                break doc;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let generation = &doc["Result"]["Generation"];
        let generation = generation
            .as_u64()
            .or_else(|| generation.as_str()?.parse().ok())
            .ok_or_else(|| format!("CreateFunctionTask answered no generation: {doc}"))?;
        loop {
            let (_, doc) = call(
                &client,
                &builder,
                Method::GET,
                &format!("{tasks}/{generation}"),
                b"",
                "GetFunctionTask",
                &[],
            )
            .await?;
            if doc["Result"]["Status"] != "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    Ok(())
}

async fn seed(args: Args) -> i32 {
    let client = http_client(args.connections);
    let builder = Arc::new(Builder::new(&args.url, args.credentials.clone()));
    let t = Instant::now();
    let group = format!(r#"{{"name":"{GROUP}"}}"#);
    if let Err(e) = call(
        &client,
        &builder,
        Method::POST,
        "/v4/openapi/app-groups",
        group.as_bytes(),
        "CreateAppGroup",
        &[409],
    )
    .await
    {
        eprintln!("seed: {e}");
        return 1;
    }
    // `connections` workers take instances from a shared counter.
    let next = Arc::new(AtomicU64::new(1));
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let (client, builder, next) = (client.clone(), Arc::clone(&builder), Arc::clone(&next));
        let (instances, generations) = (args.instances, args.generations);
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n > u64::from(instances) {
                    return Ok::<(), String>(());
                }
                seed_instance(client.clone(), Arc::clone(&builder), n as u32, generations).await?;
            }
        }));
    }
    for w in workers {
        if let Err(e) = w.await.expect("seed task") {
            eprintln!("seed: {e}");
            return 1;
        }
    }
    // Check: the last instance has all its generations.
    let path = format!(
        "{FUNCTION_PATH}/i{:04}/tasks?pageSize=1&pageNumber=1",
        args.instances
    );
    match call(
        &client,
        &builder,
        Method::GET,
        &path,
        b"",
        "ListFunctionTasks",
        &[],
    )
    .await
    {
        Ok((_, doc)) if doc["TotalCount"].as_u64().unwrap_or(0) >= u64::from(args.generations) => {}
        Ok((_, doc)) => {
            eprintln!("seed: the last instance has too few tasks: {doc}");
            return 1;
        }
        Err(e) => {
            eprintln!("seed: {e}");
            return 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let tasks = u64::from(args.instances) * u64::from(args.generations);
    println!(
        "seeded {} instances x {} generations = {tasks} tasks in {secs:.1} s ({:.0} tasks/s), {}",
        args.instances,
        args.generations,
        tasks as f64 / secs,
        if args.credentials.is_some() {
            "signed"
        } else {
            "unsigned"
        }
    );
    0
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(async move {
        match args.command.as_str() {
            "seed" => seed(args).await,
            _ => load(args).await,
        }
    });
    std::process::exit(code);
}
