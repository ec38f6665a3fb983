//! Versioned schema of the shared database, tracked in `algocenter_schema`. Several processes may start at once:
//! migrations run under an advisory lock, all missing steps in one transaction.

use algocenter_domain::{Error, Result};
use deadpool_postgres::Object;

use super::Db;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only; never edit a released step.
/// Same tables as the embedded store (see `sqlite/schema.rs` for what each column means), with PostgreSQL types.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE app_group (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    app_type    TEXT NOT NULL,
    description TEXT NOT NULL,
    extra       TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);

CREATE TABLE instance (
    id                 BIGSERIAL PRIMARY KEY,
    app_id             BIGINT NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    function           TEXT NOT NULL,
    name               TEXT NOT NULL,
    model_type         TEXT NOT NULL,
    function_type      TEXT NOT NULL,
    description        TEXT NOT NULL,
    cron               TEXT NOT NULL,
    next_fire_ms       BIGINT,
    version_id         BIGINT NOT NULL,
    create_parameters  TEXT NOT NULL,
    usage_parameters   TEXT NOT NULL,
    serving_generation BIGINT,
    pinned_generation  BIGINT,
    created_ms         BIGINT NOT NULL,
    updated_ms         BIGINT NOT NULL,
    UNIQUE (app_id, function, name)
);
CREATE INDEX instance_due ON instance(next_fire_ms) WHERE next_fire_ms IS NOT NULL;

CREATE TABLE default_instance (
    app_id      BIGINT NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    function    TEXT NOT NULL,
    instance_id BIGINT NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, function)
);

-- Survives instance and app group deletion so that generations are never reused (DESIGN invariant 2).
CREATE TABLE generation_counter (
    app_name        TEXT NOT NULL,
    function        TEXT NOT NULL,
    instance_name   TEXT NOT NULL,
    last_generation BIGINT NOT NULL,
    PRIMARY KEY (app_name, function, instance_name)
);

CREATE TABLE task (
    id             BIGSERIAL PRIMARY KEY,
    instance_id    BIGINT NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
    generation     BIGINT NOT NULL,
    run_id         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed')),
    progress       BIGINT NOT NULL DEFAULT 0,
    step           TEXT NOT NULL DEFAULT '',
    created_ms     BIGINT NOT NULL,
    started_ms     BIGINT,
    ended_ms       BIGINT,
    extend_info    TEXT NOT NULL,
    artifact       TEXT,
    serve          BOOLEAN NOT NULL DEFAULT FALSE,
    lease_owner    TEXT,
    lease_until_ms BIGINT,
    UNIQUE (instance_id, generation)
);
-- DESIGN invariant 1: at most one queued-or-running task per instance, enforced here, across every process.
CREATE UNIQUE INDEX task_one_active ON task(instance_id) WHERE state IN ('queued', 'running');
CREATE INDEX task_queue ON task(created_ms, id) WHERE state = 'queued';
CREATE INDEX task_lease ON task(lease_until_ms) WHERE state = 'running';

CREATE TABLE resource (
    id            BIGSERIAL PRIMARY KEY,
    app_id        BIGINT NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    function      TEXT NOT NULL,
    name          TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    description   TEXT NOT NULL,
    data          TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    modified_ms   BIGINT NOT NULL,
    UNIQUE (app_id, function, name)
);

CREATE TABLE resource_reference (
    instance_id BIGINT NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
    parameter   TEXT NOT NULL,
    resource_id BIGINT NOT NULL REFERENCES resource(id) ON DELETE CASCADE,
    PRIMARY KEY (instance_id, parameter)
);
CREATE INDEX resource_reference_resource ON resource_reference(resource_id);

-- Behaviour events, one compressed block per push (see event_block.rs), found by time window.
CREATE TABLE event_block (
    id     BIGSERIAL PRIMARY KEY,
    app_id BIGINT NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    min_ms BIGINT NOT NULL,
    max_ms BIGINT NOT NULL,
    events BIGINT NOT NULL,
    data   BYTEA NOT NULL
);
CREATE INDEX event_block_window ON event_block(app_id, max_ms);

-- De-duplication keys by event day (retention drops whole days); no foreign key, rows of a deleted app group are
-- removed explicitly.
CREATE TABLE event_key (
    day    BIGINT NOT NULL,
    app_id BIGINT NOT NULL,
    at_ms  BIGINT NOT NULL,
    key    BIGINT NOT NULL,
    PRIMARY KEY (day, app_id, at_ms, key)
);

CREATE TABLE event_count (
    app_id   BIGINT NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    day      BIGINT NOT NULL,
    bhv_type TEXT NOT NULL,
    events   BIGINT NOT NULL,
    PRIMARY KEY (app_id, day, bhv_type)
);

CREATE TABLE event_sketch (
    app_id  BIGINT NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    day     BIGINT NOT NULL,
    users   BYTEA NOT NULL,
    items   BYTEA NOT NULL,
    queries BYTEA NOT NULL,
    PRIMARY KEY (app_id, day)
);

CREATE TABLE document (
    app_id     BIGINT NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('item', 'user')),
    id         TEXT NOT NULL,
    attributes TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (app_id, kind, id)
);

CREATE TABLE access_key (
    id            TEXT PRIMARY KEY,
    sealed_secret BYTEA NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    apps          TEXT NOT NULL,
    description   TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    revoked_ms    BIGINT
);
"#,
    r#"
-- Names and document ids compare byte by byte, as in the embedded store: listings and trainers see the same order
-- whatever the database's default collation.
ALTER TABLE app_group ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE instance ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE resource ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE document ALTER COLUMN id TYPE TEXT COLLATE "C";
"#,
    r#"
-- Query-analysis rules (extension): which instances analyse a query, the fields a rewritten query searches.
CREATE TABLE query_rule (
    app_id     BIGINT NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    spec       TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (app_id, name)
);
-- At most one default rule per app group.
CREATE UNIQUE INDEX query_rule_default ON query_rule(app_id) WHERE is_default;
"#,
    r#"
-- What the API nodes remember together (see access_state.rs). Logged tables, not UNLOGGED: crash recovery empties
-- an unlogged table and a standby never has its rows, so a replay would be accepted right after a crash or a
-- failover; commits on these tables do not wait for the disk instead (synchronous_commit off on their pool).
-- Nonce of a signed request, by a 64-bit hash of (access key id, nonce); forgotten once its date is out of window.
CREATE TABLE request_nonce (
    nonce_hash BIGINT PRIMARY KEY,
    signed_ms  BIGINT NOT NULL
);
CREATE INDEX request_nonce_signed ON request_nonce (signed_ms);
-- Per-key rate limit as a generic cell rate: the theoretical arrival time of the key's next request.
CREATE TABLE rate_bucket (
    key_id TEXT PRIMARY KEY,
    tat_ms DOUBLE PRECISION NOT NULL
);
-- A dashboard login by the SHA-256 of its token (the cookie's value itself is never stored).
CREATE TABLE dashboard_session (
    token_hash BYTEA PRIMARY KEY,
    key_id     TEXT,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX dashboard_session_key ON dashboard_session (key_id, created_ms);
"#,
];

/// Key of the advisory lock that serialises migrations of processes starting together.
const MIGRATION_LOCK: i64 = 0x616c_676f_6365_6e74; // "algocent"

/// Applies the missing migrations; refuses a database written by a newer algocenter.
pub(super) async fn migrate(client: &mut Object) -> Result<()> {
    let tx = client.transaction().await.db()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .db()?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS algocenter_schema (version BIGINT NOT NULL, applied_ms BIGINT NOT NULL)",
    )
    .await
    .db()?;
    let version: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0)::BIGINT FROM algocenter_schema",
            &[],
        )
        .await
        .db()?
        .try_get(0)
        .db()?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::internal(format_args!(
            "the database schema is version {version} but this algocenter knows only up to {known}; \
             run a newer algocenter or restore a backup"
        )));
    }
    // One transaction for all missing steps: a failed step leaves the schema as it was.
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(step).await.db()?;
        tx.execute(
            "INSERT INTO algocenter_schema (version, applied_ms) VALUES ($1, $2)",
            &[&(i as i64 + 1), &algocenter_domain::now_ms()],
        )
        .await
        .db()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    tx.commit().await.db()
}

#[cfg(test)]
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}
