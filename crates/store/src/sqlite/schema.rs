//! Versioned schema of the embedded database, tracked in `PRAGMA user_version`.

use algocenter_domain::{Error, Result};
use rusqlite::Connection;

use super::Db;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only; never edit a released step.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE app_group (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    app_type    TEXT NOT NULL,
    description TEXT NOT NULL,
    extra       TEXT NOT NULL,            -- JSON object of accepted, uninterpreted request fields
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);

CREATE TABLE instance (
    id                 INTEGER PRIMARY KEY,
    app_id             INTEGER NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    function           TEXT NOT NULL,
    name               TEXT NOT NULL,
    model_type         TEXT NOT NULL,
    function_type      TEXT NOT NULL,
    description        TEXT NOT NULL,
    cron               TEXT NOT NULL,
    next_fire_ms       INTEGER,           -- next cron firing, NULL without a schedule
    version_id         INTEGER NOT NULL,
    create_parameters  TEXT NOT NULL,     -- JSON [{name, value}]
    usage_parameters   TEXT NOT NULL,
    serving_generation INTEGER,
    created_ms         INTEGER NOT NULL,
    updated_ms         INTEGER NOT NULL,
    UNIQUE (app_id, function, name)
);
CREATE INDEX instance_due ON instance(next_fire_ms) WHERE next_fire_ms IS NOT NULL;

-- Deleting the default instance clears the default (cascade).
CREATE TABLE default_instance (
    app_id      INTEGER NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    function    TEXT NOT NULL,
    instance_id INTEGER NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, function)
);

-- Last generation handed out per instance name. Survives DeleteFunctionInstance and DeleteAppGroup so that a
-- re-created instance continues the numbering instead of reusing generations (DESIGN invariant 2).
CREATE TABLE generation_counter (
    app_name        TEXT NOT NULL,
    function        TEXT NOT NULL,
    instance_name   TEXT NOT NULL,
    last_generation INTEGER NOT NULL,
    PRIMARY KEY (app_name, function, instance_name)
);

CREATE TABLE task (
    id             INTEGER PRIMARY KEY,
    instance_id    INTEGER NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
    generation     INTEGER NOT NULL,
    run_id         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed')),
    progress       INTEGER NOT NULL DEFAULT 0,
    step           TEXT NOT NULL DEFAULT '',
    created_ms     INTEGER NOT NULL,
    started_ms     INTEGER,
    ended_ms       INTEGER,
    extend_info    TEXT NOT NULL,
    artifact       TEXT,                  -- artifact key while the generation's model is kept
    serve          INTEGER NOT NULL DEFAULT 0, -- 1 when the generation passed its quality gate
    lease_owner    TEXT,
    lease_until_ms INTEGER,
    UNIQUE (instance_id, generation)
);
-- DESIGN invariant 1: at most one queued-or-running task per instance, enforced here.
CREATE UNIQUE INDEX task_one_active ON task(instance_id) WHERE state IN ('queued', 'running');
CREATE INDEX task_queue ON task(created_ms, id) WHERE state = 'queued';
CREATE INDEX task_lease ON task(lease_until_ms) WHERE state = 'running';

CREATE TABLE resource (
    id            INTEGER PRIMARY KEY,
    app_id        INTEGER NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    function      TEXT NOT NULL,
    name          TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    description   TEXT NOT NULL,
    data          TEXT NOT NULL,          -- JSON {content, generators}
    created_ms    INTEGER NOT NULL,
    modified_ms   INTEGER NOT NULL,
    UNIQUE (app_id, function, name)
);

-- Which instance parameter names which resource; a referenced resource cannot be deleted.
CREATE TABLE resource_reference (
    instance_id INTEGER NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
    parameter   TEXT NOT NULL,
    resource_id INTEGER NOT NULL REFERENCES resource(id) ON DELETE CASCADE,
    PRIMARY KEY (instance_id, parameter)
);
CREATE INDEX resource_reference_resource ON resource_reference(resource_id);
"#,
    r#"
-- Behaviour events, one block per push request (see event_block.rs), found by time window.
CREATE TABLE event_block (
    id     INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    min_ms INTEGER NOT NULL,
    max_ms INTEGER NOT NULL,
    events INTEGER NOT NULL,
    data   BLOB NOT NULL
);
CREATE INDEX event_block_window ON event_block(app_id, max_ms);

-- De-duplication keys (xxh3 of user, rn, item, behaviour type, time) by event day, so that retention drops
-- whole days. The event time comes before the hash so that, as events arrive roughly in time order, new keys land
-- at the end of the tree: with the hash first, every push rewrote hundreds of random pages (measured: ingest fell
-- from 66,000 to 37,000 events/s as the table grew). Rows of a deleted app group are removed explicitly (no
-- foreign key: the key leads with the day).
CREATE TABLE event_key (
    day    INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    at_ms  INTEGER NOT NULL,
    key    INTEGER NOT NULL,
    PRIMARY KEY (day, app_id, at_ms, key)
) WITHOUT ROWID;

-- Stored events per day and behaviour type (duplicates not counted), for the data status.
CREATE TABLE event_count (
    app_id   INTEGER NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    day      INTEGER NOT NULL,
    bhv_type TEXT NOT NULL,
    events   INTEGER NOT NULL,
    PRIMARY KEY (app_id, day, bhv_type)
) WITHOUT ROWID;

-- Distinct users, items and queries per day (HyperLogLog sketches, merged over a window).
CREATE TABLE event_sketch (
    app_id  INTEGER NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    day     INTEGER NOT NULL,
    users   BLOB NOT NULL,
    items   BLOB NOT NULL,
    queries BLOB NOT NULL,
    PRIMARY KEY (app_id, day)
) WITHOUT ROWID;

-- Items and users with their attributes (JSON object).
CREATE TABLE document (
    app_id     INTEGER NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('item', 'user')),
    id         TEXT NOT NULL,
    attributes TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, kind, id)
) WITHOUT ROWID;
"#,
    r#"
-- Access keys; the secret is sealed with the master key (ChaCha20-Poly1305, the key id as associated data).
CREATE TABLE access_key (
    id            TEXT PRIMARY KEY,
    sealed_secret BLOB NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    apps          TEXT NOT NULL,          -- JSON array of app group names; empty: all
    description   TEXT NOT NULL,
    created_ms    INTEGER NOT NULL,
    revoked_ms    INTEGER
);
"#,
    r#"
-- A generation an operator pinned: it serves until unpinned, whatever newer generations train.
ALTER TABLE instance ADD COLUMN pinned_generation INTEGER;
"#,
    r#"
-- Query-analysis rules (extension): which instances analyse a query, the fields a rewritten query searches.
CREATE TABLE query_rule (
    app_id     INTEGER NOT NULL REFERENCES app_group(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    spec       TEXT NOT NULL,             -- JSON RuleSpec
    is_default INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, name)
);
-- At most one default rule per app group.
CREATE UNIQUE INDEX query_rule_default ON query_rule(app_id) WHERE is_default = 1;
"#,
];

/// Applies the missing migrations; refuses a database written by a newer algocenter.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .db()?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::internal(format_args!(
            "the database schema is version {version} but this algocenter knows only up to {known}; \
             run a newer algocenter or restore a backup"
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().db()?;
        tx.execute_batch(step).db()?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .db()?;
        tx.commit().db()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

#[cfg(test)]
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}
