//! Nonces of one API node remembered in groups: concurrent signed requests share one `INSERT … SELECT FROM
//! unnest(…)` instead of one statement each.
//!
//! Why: every signed request must reach the shared nonce table before it is answered, and on a busy node most of
//! that cost is per statement (pool checkout, the protocol round trip, TLS records, PostgreSQL's executor start),
//! not per row. A request never waits for a group to fill: when a slot is free its nonce goes out at once, alone if
//! nothing else is waiting; only while every slot is busy do newcomers queue, and the next free slot takes all of
//! them in one statement. So an idle node pays one round trip as before, and a loaded one pays a fraction of one per
//! request.
//!
//! Correctness is the table's unique key, as before: the same nonce in two groups in flight at once is inserted by
//! one and skipped by the other (PostgreSQL makes the second wait for the first); twice in one group, the first
//! occurrence wins here, before the statement. Each group inserts in hash order, so two groups never lock the
//! same keys in opposite orders.

use std::collections::HashSet;
use std::sync::Arc;

use algocenter_domain::{Error, Result};
use deadpool_postgres::Pool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{get, pool_error, query};

/// Groups in flight at once per node: enough to keep a round trip's latency from adding up under load, few enough
/// to leave the access pool's other connections to rate buckets and sessions.
const IN_FLIGHT: usize = 2;

/// Nonces in one statement at most (two `int8[]` parameters of this length).
const MAX_GROUP: usize = 512;

/// Requests waiting for a slot at most; beyond it a request waits to be queued (back-pressure, never unbounded).
const QUEUE: usize = 8_192;

/// Inserts the group's new nonces; answers those that were not there.
const REMEMBER_GROUP: &str = "INSERT INTO request_nonce (nonce_hash, signed_ms)
     SELECT * FROM unnest($1::int8[], $2::int8[])
     ON CONFLICT DO NOTHING RETURNING nonce_hash";

struct Waiting {
    nonce_hash: i64,
    signed_ms: i64,
    fresh: oneshot::Sender<Result<bool>>,
}

/// The node's queue of nonces to remember; cheap to share.
pub(super) struct NonceGroups {
    queue: mpsc::Sender<Waiting>,
}

impl NonceGroups {
    /// Starts the task that forms and sends the groups, on `runtime` (it ends when the last handle is dropped).
    pub(super) fn start(pool: Pool, runtime: &tokio::runtime::Handle) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        runtime.spawn(form_groups(pool, waiting));
        NonceGroups { queue }
    }

    /// Remembers a nonce: `true` when it is new to every node of the database.
    pub(super) async fn remember(&self, nonce_hash: i64, signed_ms: i64) -> Result<bool> {
        let (fresh, answer) = oneshot::channel();
        let waiting = Waiting {
            nonce_hash,
            signed_ms,
            fresh,
        };
        let gone = || Error::Unavailable("the node's nonce queue has stopped".into());
        self.queue.send(waiting).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn form_groups(pool: Pool, mut waiting: mpsc::Receiver<Waiting>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = waiting.recv().await {
        // Wait for a slot before gathering: whatever arrives meanwhile joins this group.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match waiting.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            send_group(&pool, group).await;
            drop(slot);
        });
    }
}

async fn send_group(pool: &Pool, mut group: Vec<Waiting>) {
    group.sort_by_key(|w| w.nonce_hash);
    let mut hashes = Vec::with_capacity(group.len());
    let mut signed = Vec::with_capacity(group.len());
    for w in &group {
        if hashes.last() != Some(&w.nonce_hash) {
            hashes.push(w.nonce_hash);
            signed.push(w.signed_ms);
        }
    }
    match insert(pool, &hashes, &signed).await {
        Ok(mut new) => {
            for w in group {
                // `remove`: a nonce twice in one group is fresh for its first request only.
                let _ = w.fresh.send(Ok(new.remove(&w.nonce_hash)));
            }
        }
        Err(e) => {
            for w in group {
                let _ = w.fresh.send(Err(same_error(&e)));
            }
        }
    }
}

async fn insert(pool: &Pool, hashes: &[i64], signed: &[i64]) -> Result<HashSet<i64>> {
    let client = pool.get().await.map_err(pool_error)?;
    let rows = query(&client, REMEMBER_GROUP, &[&hashes, &signed]).await?;
    rows.iter().map(|row| get::<i64>(row, 0)).collect()
}

/// The group's error for each of its requests (errors are not `Clone`): retryable stays retryable.
fn same_error(e: &Error) -> Error {
    match e {
        Error::Unavailable(why) => Error::Unavailable(why.clone()),
        Error::StorageFull(why) => Error::StorageFull(why.clone()),
        other => Error::internal(format_args!("{other}")),
    }
}
