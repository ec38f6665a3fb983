//! Command-line interface. Option and environment names are a stable interface: scripts depend on them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "algocenter", version, about = "Self-hosted OpenSearch algorithm center", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server: the OpenSearch function API and the task engine on an embedded data directory.
    Serve(Box<ServeArgs>),
    /// Run training workers only (no API), on the PostgreSQL database that serve processes share
    /// (`--database-url`); takes the same options as `serve`.
    Worker(Box<ServeArgs>),
    /// Manage app groups through a running server.
    #[command(subcommand)]
    App(AppCommand),
    /// Push behaviour, items or users from JSON Lines or CSV files (gzip too) to a running server.
    Push(PushArgs),
    /// Export stored behaviour, items or users as JSON Lines push records (re-importable with `push`).
    Export(ExportArgs),
    /// Write a realistic generated data set (items, users, behaviour, ground truth) as JSON Lines files.
    Generate(GenerateArgs),
    /// Inspect an app group's data on a running server.
    #[command(subcommand)]
    Data(DataCommand),
    /// Manage access keys on a running server (admin scope).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Create, list, show, update and delete function instances on a running server.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Start, list, show, cancel and watch training tasks on a running server.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Create, list, show and delete function resources (feature_generator, raw_file) on a running server.
    #[command(subcommand)]
    Resource(ResourceCommand),
    /// Show the whole system on a running server: generate a shop, push it into a new app group, train one
    /// instance of every function with a progress bar, print what each serves.
    Demo(DemoArgs),
    /// Ask a trained instance: rerank items (ctr, pop, rank), top searches (hot), hints (hint), completions
    /// (suggest), categories of queries (category), spelling corrections (correction), synonyms (synonym).
    Predict(PredictArgs),
    /// Send one signed request to any API path and print the JSON answer (like curl, but signed as the SDKs do).
    Call {
        /// GET, POST, PUT or DELETE.
        method: String,
        /// Path with its query, e.g. `/v4/openapi/app-groups/shop/functions/pop/instances?pageSize=5`.
        path: String,
        /// JSON body.
        #[arg(long)]
        body: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    pub target: FunctionTarget,
    /// The instance to ask [default: the function's default instance].
    #[arg(long)]
    pub instance: Option<String>,
    /// The query (ctr: what the user searched; suggest: the prefix typed).
    #[arg(long)]
    pub query: Option<String>,
    /// The user (ctr, hot, hint).
    #[arg(long)]
    pub user: Option<String>,
    /// Candidate item ids, comma-separated (ctr, pop).
    #[arg(long, value_delimiter = ',')]
    pub items: Vec<String>,
    /// A context feature `name=value` (ctr); repeat for several.
    #[arg(long = "context", value_name = "NAME=VALUE")]
    pub context: Vec<String>,
    /// Queries to categorise (category), correct (correction) or expand (synonym); repeat for several.
    #[arg(long = "text", value_name = "QUERY")]
    pub texts: Vec<String>,
    /// How many answers (hot, hint, suggest; category: categories per query).
    #[arg(long)]
    pub hit: Option<u32>,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// App group to push to.
    #[arg(long)]
    pub app: String,
    /// `behavior`, `item_info` or `user`.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: String,
    /// Data collection name [default: the app group's name].
    #[arg(long)]
    pub collection: Option<String>,
    /// Records per request (at most 10000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub batch: u32,
    /// Files: `.jsonl` (one `{"cmd","fields"}` record or bare fields object per line) or `.csv` (a header row of
    /// field names; `context.KEY` columns form the context map), optionally `.gz`; `-` reads JSON Lines from stdin.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(long)]
    pub app: String,
    /// `behavior`, `item_info` or `user`.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: String,
    /// Data collection name [default: the app group's name].
    #[arg(long)]
    pub collection: Option<String>,
    /// Behaviour of the last N days only.
    #[arg(long)]
    pub days: Option<u32>,
    /// File to write (`.gz` compresses) [default: standard output].
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Directory to write items.jsonl, users.jsonl, behavior.jsonl and the ground truth into.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// About how many behaviour events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Days the events span, ending now.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// End of the events as epoch milliseconds [default: now].
    #[arg(long)]
    pub end_ms: Option<i64>,
    /// Also write truth_exposures.csv: the true click probability of every exposure.
    #[arg(long)]
    pub truth: bool,
    /// Generate the query-analysis shop instead: coined words, brands and product lines, filler words; writes
    /// truth_terms.csv (each true word, name and filler) instead of the other truth files.
    #[arg(long)]
    pub query_analysis: bool,
    /// Items in the catalogue [default: grows with --events, 20,000 at 1.2 M events].
    #[arg(long, value_parser = clap::value_parser!(u32).range(10..=10_000_000))]
    pub items: Option<u32>,
    /// Users [default: grows with --events like --items].
    #[arg(long, value_parser = clap::value_parser!(u32).range(10..=10_000_000))]
    pub users: Option<u32>,
    /// Distinct queries [default: grows with --events, 50,000 at 1.2 M events].
    #[arg(long, value_parser = clap::value_parser!(u32).range(10..=10_000_000))]
    pub queries: Option<u32>,
    /// Users also type other words for a concept (synonyms) and misspell, then search what they meant; the truth
    /// in truth_synonyms.csv (the groups), truth_synonym_searches.csv and truth_misspellings.csv.
    #[arg(long)]
    pub lexicon: bool,
    /// Search habits of the users: `shop` (none: every query drawn afresh) or `web` (a third of searches repeat
    /// the user's own, navigational queries, typos corrected minutes later; their truth in truth_typos.csv).
    #[arg(long, default_value = "shop", value_parser = ["shop", "web"])]
    pub habits: String,
    /// Generate the graded shop for learning to rank instead: items with `price`, `rating` and `sales`, each
    /// search's shopper budget in its `context` (`budget`), clicks, carts and buys; with --truth,
    /// truth_exposures.csv holds each exposure's expected grade had it been examined.
    #[arg(long, conflicts_with_all = ["query_analysis", "lexicon"])]
    pub graded: bool,
}

#[derive(Subcommand)]
pub enum DataCommand {
    /// Events per day and type, distinct users, items and queries, and whether each function can be trained.
    Status {
        #[arg(long)]
        app: String,
        /// Window in days.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

/// Options of `serve`. Each is read from the flag, else the environment variable, else the TOML file given by
/// `--config`, else the default shown.
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML file with any of the options below (keys as in the option names, with `_` for `-`).
    #[arg(long, env = "ALGOCENTER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ALGOCENTER_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Data directory: SQLite database and artifacts/; created on first start [default: ./algocenter-data].
    #[arg(long, env = "ALGOCENTER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Training tasks run at the same time [default: 1].
    #[arg(long, env = "ALGOCENTER_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Successful generations whose artifacts are kept, besides the serving one [default: 3].
    #[arg(long, env = "ALGOCENTER_KEEP_GENERATIONS", value_name = "N")]
    pub keep_generations: Option<u32>,
    /// Seconds a task's lease lasts without a heartbeat before the task is failed [default: 30].
    #[arg(long, env = "ALGOCENTER_LEASE_SECS", value_name = "SECS")]
    pub lease_secs: Option<u64>,
    /// Seconds running tasks get to finish on SIGTERM/SIGINT before they are failed [default: 30].
    #[arg(long, env = "ALGOCENTER_SHUTDOWN_GRACE_SECS", value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Largest request body accepted, in bytes; larger bodies get 413 [default: 8388608].
    #[arg(long, env = "ALGOCENTER_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Largest data push body accepted, in bytes; larger bodies get 413 [default: 16777216].
    #[arg(long, env = "ALGOCENTER_MAX_PUSH_BYTES", value_name = "BYTES")]
    pub max_push_bytes: Option<usize>,
    /// Behaviour events older than this are refused on push and deleted hourly [default: 30].
    #[arg(long, env = "ALGOCENTER_EVENT_RETENTION_DAYS", value_name = "DAYS")]
    pub event_retention_days: Option<u32>,
    /// PostgreSQL database shared by several algocenter processes, `postgres://user:password@host:port/db`, instead
    /// of the embedded SQLite file (the data directory still holds the master key and, for now, artifacts).
    #[arg(
        long,
        env = "ALGOCENTER_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Where trained models are kept: `s3://bucket[/prefix]` for S3-compatible object storage shared by several
    /// processes (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) [default: DATA_DIR/artifacts].
    #[arg(long, env = "ALGOCENTER_ARTIFACT_STORE", value_name = "URL")]
    pub artifact_store: Option<String>,
    /// Endpoint of an S3-compatible server, e.g. http://minio:9000 [default: AWS].
    #[arg(long, env = "ALGOCENTER_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region of the bucket [default: us-east-1].
    #[arg(long, env = "ALGOCENTER_S3_REGION", value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Connections to the PostgreSQL database this process opens at most [default: 16].
    #[arg(long, env = "ALGOCENTER_DATABASE_MAX_CONNECTIONS", value_name = "N")]
    pub database_max_connections: Option<usize>,
    /// SQLite durability: `normal` survives process crashes, `full` also power loss [default: normal].
    #[arg(long, env = "ALGOCENTER_SQLITE_SYNCHRONOUS", value_enum)]
    pub sqlite_synchronous: Option<SyncMode>,
    /// Log line format [default: text].
    #[arg(long, env = "ALGOCENTER_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `info,algocenter_api=debug` for one line per request [default: info].
    #[arg(long, env = "ALGOCENTER_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Turn request checking off (no signatures, no keys, every request acts as admin). For local experiments
    /// only: refused unless the server listens on a loopback address.
    #[arg(long, env = "ALGOCENTER_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Accepted distance between a request's signed date and the server's clock, in seconds [default: 900].
    #[arg(long, env = "ALGOCENTER_AUTH_WINDOW_SECS", value_name = "SECS")]
    pub auth_window_secs: Option<u64>,
    /// Request nonces remembered to refuse replays [default: 4000000].
    #[arg(long, env = "ALGOCENTER_NONCE_CAPACITY", value_name = "N")]
    pub nonce_capacity: Option<usize>,
    /// Requests per second allowed per access key, 0 for no limit [default: 0].
    #[arg(long, env = "ALGOCENTER_RATE_LIMIT", value_name = "RPS")]
    pub rate_limit: Option<u32>,
    /// Serve GET /metrics without a signature, for a Prometheus scraper (which cannot sign); otherwise it needs an
    /// admin key like any other request.
    #[arg(long, env = "ALGOCENTER_OPEN_METRICS")]
    pub open_metrics: bool,
    /// Requests a key may send at once above its rate [default: twice the rate].
    #[arg(long, env = "ALGOCENTER_RATE_BURST", value_name = "N")]
    pub rate_burst: Option<u32>,
    /// File holding the master key that seals access key secrets; created on first start
    /// [default: DATA_DIR/master.key]. `ALGOCENTER_MASTER_KEY` (32 bytes, base64 or hex) is used instead when set.
    #[arg(long, env = "ALGOCENTER_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(
        long,
        env = "ALGOCENTER_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(
        long,
        env = "ALGOCENTER_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Seconds a client has to send a request's headers (and to finish a TLS handshake) [default: 10].
    #[arg(long, env = "ALGOCENTER_HEADER_TIMEOUT_SECS", value_name = "SECS")]
    pub header_timeout_secs: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    Normal,
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the client commands find the server.
#[derive(Args)]
pub struct ClientArgs {
    /// Server address for client commands [default: http://127.0.0.1:8080].
    #[arg(long, global = true, env = "ALGOCENTER_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Print the raw JSON result instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Access key id that signs the requests (ACS3-HMAC-SHA256, as the SDKs).
    #[arg(
        long,
        global = true,
        env = "ALGOCENTER_ACCESS_KEY_ID",
        value_name = "ID"
    )]
    pub access_key_id: Option<String>,
    /// Its secret.
    #[arg(
        long,
        global = true,
        env = "ALGOCENTER_ACCESS_KEY_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub access_key_secret: Option<String>,
    /// TOML file with `endpoint`, `access_key_id` and `access_key_secret`, used for what flags and environment do
    /// not set [default: $XDG_CONFIG_HOME/algocenter/client.toml or ~/.config/algocenter/client.toml, if present].
    #[arg(
        long,
        global = true,
        env = "ALGOCENTER_CLIENT_CONFIG",
        value_name = "FILE"
    )]
    pub client_config: Option<std::path::PathBuf>,
    /// Times one request is sent again when the server is unavailable (503), throttles (429) or cannot be reached,
    /// with exponential backoff and jitter (0 turns retrying off).
    #[arg(
        long,
        global = true,
        env = "ALGOCENTER_RETRIES",
        value_name = "N",
        default_value_t = crate::retry::DEFAULT_RETRIES,
        value_parser = clap::value_parser!(u32).range(0..=30)
    )]
    pub retries: u32,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create an access key; its secret is printed once.
    Create {
        /// `read` (Get/List/Describe, serving), `write` (also changes, tasks, data push) or `admin` (also keys and
        /// app groups).
        #[arg(long, default_value = "read")]
        scope: String,
        /// App groups the key may act on, comma-separated [default: all].
        #[arg(long, value_delimiter = ',')]
        apps: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List access keys (never their secrets).
    List,
    /// Revoke an access key.
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum ResourceCommand {
    /// Create a resource: a feature_generator from `--generators FILE.json` or a raw_file from `--content FILE`.
    Create {
        #[command(flatten)]
        target: FunctionTarget,
        name: String,
        /// JSON file of generators: the guide's lowercase array (`[{"generator", "input": {"features"},
        /// "output"}]`) or an object with `Generators`.
        #[arg(long, value_name = "FILE.json", conflicts_with = "content")]
        generators: Option<String>,
        /// Text file: the content of a raw_file resource.
        #[arg(long, value_name = "FILE")]
        content: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List a function's resources.
    List {
        #[command(flatten)]
        target: FunctionTarget,
    },
    /// Show one resource with its data.
    Show {
        #[command(flatten)]
        target: FunctionTarget,
        name: String,
    },
    /// Delete a resource (refused while an instance references it).
    Delete {
        #[command(flatten)]
        target: FunctionTarget,
        name: String,
    },
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// App group to create (it must not exist yet).
    #[arg(long, default_value = "demo")]
    pub app: String,
    /// About how many behaviour events to generate and push.
    #[arg(long, default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(20_000..=20_000_000))]
    pub events: u64,
}

/// Which function of which app group.
#[derive(Args, Debug, Clone)]
pub struct FunctionTarget {
    /// App group.
    #[arg(long)]
    pub app: String,
    /// `ctr`, `pop`, `category`, `hot`, `hint`, `suggest` or `rank`.
    #[arg(long)]
    pub function: String,
}

#[derive(Subcommand)]
pub enum InstanceCommand {
    /// Create an instance.
    Create {
        #[command(flatten)]
        target: FunctionTarget,
        name: String,
        /// Model type (see the catalogue: `algocenter call GET /v4/openapi/functions/ctr/current-version?...`).
        #[arg(long)]
        model_type: String,
        /// A create parameter, `name=value`; repeat for several.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// A usage parameter, `name=value`; repeat for several.
        #[arg(long = "usage", value_name = "NAME=VALUE")]
        usage: Vec<String>,
        /// Training schedule, 5-field cron in UTC.
        #[arg(long)]
        cron: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List a function's instances.
    List {
        #[command(flatten)]
        target: FunctionTarget,
    },
    /// Show one instance with its latest task.
    Show {
        #[command(flatten)]
        target: FunctionTarget,
        name: String,
    },
    /// Change an instance's schedule, description or parameters (a list given replaces the stored one).
    Update {
        #[command(flatten)]
        target: FunctionTarget,
        name: String,
        /// New schedule; "" removes it.
        #[arg(long)]
        cron: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[arg(long = "usage", value_name = "NAME=VALUE")]
        usage: Vec<String>,
    },
    /// Delete an instance (refused while a task runs).
    Delete {
        #[command(flatten)]
        target: FunctionTarget,
        name: String,
    },
    /// Pin the serving generation: it serves until unpinned, whatever newer generations train.
    Pin {
        #[command(flatten)]
        target: FunctionTarget,
        name: String,
        generation: String,
    },
    /// Unpin: the newest generation that passed its quality gate serves again.
    Unpin {
        #[command(flatten)]
        target: FunctionTarget,
        name: String,
    },
}

#[derive(Subcommand)]
pub enum TaskCommand {
    /// Queue a training run of an instance; `--watch` follows it to the end.
    Start {
        #[command(flatten)]
        target: FunctionTarget,
        instance: String,
        #[arg(long)]
        watch: bool,
    },
    /// List an instance's tasks, newest first.
    List {
        #[command(flatten)]
        target: FunctionTarget,
        instance: String,
        /// `running`, `success` or `failed`.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
        page_size: u32,
    },
    /// Show one task with its metrics.
    Show {
        #[command(flatten)]
        target: FunctionTarget,
        instance: String,
        generation: String,
    },
    /// Cancel a queued or running task.
    Cancel {
        #[command(flatten)]
        target: FunctionTarget,
        instance: String,
        generation: String,
    },
    /// Follow a task with a progress bar until it ends, then print its metrics. Exit code 0 when it succeeded,
    /// 1 when it failed.
    Watch {
        #[command(flatten)]
        target: FunctionTarget,
        instance: String,
        /// [default: the newest task]
        generation: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AppCommand {
    /// Create an app group.
    Create {
        name: String,
        /// `enhanced` (Industry Algorithm Edition) or `standard`.
        #[arg(long = "type", default_value = "enhanced")]
        app_type: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List app groups.
    List {
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 100)]
        page_size: u32,
    },
}
