//! [`AccessState`] in PostgreSQL: nonces, rate buckets and dashboard sessions shared by every API node of the
//! database, at most one round trip per signed request (the nonce and, when the key is limited, its bucket in one
//! statement); nonces of unlimited keys go in groups ([`super::nonce_batch`]).

use algocenter_domain::{Error, Result};
use async_trait::async_trait;
use deadpool_postgres::{Object, Pool};

use super::nonce_batch::NonceGroups;
use super::{Db, execute, get, in_transaction, pool_error, query_one, query_opt};
use crate::access_state::{AccessState, Admission, Admitted, SessionLimits, StoredSession};

/// Remembers a nonce and, when it is new, takes the key's next slot at the generic cell rate: the key's
/// theoretical arrival time (TAT) moves one interval on, unless it is more than the burst tolerance ahead of now
/// (then nothing changes and the request is throttled). The last column is the TAT before this statement (all
/// parts of a statement see the same snapshot), from which the wait is computed.
const ADMIT_LIMITED: &str = "WITH fresh AS (
         INSERT INTO request_nonce (nonce_hash, signed_ms) VALUES ($1, $2)
         ON CONFLICT DO NOTHING RETURNING 1
     ), taken AS (
         INSERT INTO rate_bucket AS b (key_id, tat_ms)
         SELECT $3::text, $4::float8 + $5::float8 FROM fresh
         ON CONFLICT (key_id) DO UPDATE SET tat_ms = GREATEST(b.tat_ms, $4::float8) + $5::float8
         WHERE b.tat_ms - $4::float8 <= $6::float8
         RETURNING 1
     )
     SELECT EXISTS (SELECT 1 FROM fresh), EXISTS (SELECT 1 FROM taken),
            (SELECT tat_ms FROM rate_bucket WHERE key_id = $3::text)";

pub struct PostgresAccessState {
    pool: Pool,
    nonces: NonceGroups,
}

impl PostgresAccessState {
    pub(super) fn new(pool: Pool, runtime: &tokio::runtime::Handle) -> Self {
        let nonces = NonceGroups::start(pool.clone(), runtime);
        PostgresAccessState { pool, nonces }
    }

    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(pool_error)
    }
}

#[async_trait]
impl AccessState for PostgresAccessState {
    async fn admit(&self, admission: Admission<'_>) -> Result<Admitted> {
        let Some(rate) = admission.rate else {
            let fresh = self
                .nonces
                .remember(admission.nonce_hash, admission.signed_ms)
                .await?;
            return Ok(if fresh {
                Admitted::Fresh
            } else {
                Admitted::Replayed
            });
        };
        let client = self.client().await?;
        let now = admission.now_ms as f64;
        let (interval, tolerance) = (rate.interval_ms(), rate.tolerance_ms());
        let row = query_one(
            &client,
            ADMIT_LIMITED,
            &[
                &admission.nonce_hash,
                &admission.signed_ms,
                &admission.key_id,
                &now,
                &interval,
                &tolerance,
            ],
        )
        .await?;
        let (fresh, taken): (bool, bool) = (get(&row, 0)?, get(&row, 1)?);
        Ok(match (fresh, taken) {
            (false, _) => Admitted::Replayed,
            (true, true) => Admitted::Fresh,
            (true, false) => {
                let tat: Option<f64> = get(&row, 2)?;
                let wait = tat.map_or(interval, |tat| tat - tolerance - now);
                Admitted::Throttled {
                    retry_after_ms: wait.ceil().max(1.0) as u64,
                }
            }
        })
    }

    async fn prune_nonces(&self, signed_before_ms: i64) -> Result<u64> {
        let client = self.client().await?;
        execute(
            &client,
            "DELETE FROM request_nonce WHERE signed_ms < $1",
            &[&signed_before_ms],
        )
        .await
    }

    async fn create_session(
        &self,
        session: StoredSession,
        limits: SessionLimits,
        now_ms: i64,
    ) -> Result<()> {
        let keep_older = limits.per_key.saturating_sub(1) as i64;
        in_transaction!(self, |tx| {
            execute(
                &tx,
                "DELETE FROM dashboard_session WHERE expires_ms <= $1",
                &[&now_ms],
            )
            .await?;
            // The key's newest `per_key - 1` stay; the new one makes `per_key`.
            execute(
                &tx,
                "DELETE FROM dashboard_session WHERE token_hash IN (
                     SELECT token_hash FROM dashboard_session WHERE key_id IS NOT DISTINCT FROM $1
                     ORDER BY created_ms DESC, token_hash OFFSET $2)",
                &[&session.key_id, &keep_older],
            )
            .await?;
            let held: i64 = get(
                &query_one(&tx, "SELECT count(*) FROM dashboard_session", &[]).await?,
                0,
            )?;
            if held as usize >= limits.capacity {
                return Err(Error::Throttled {
                    retry_after_ms: 60_000,
                });
            }
            execute(
                &tx,
                "INSERT INTO dashboard_session (token_hash, key_id, created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &session.token_hash,
                    &session.key_id,
                    &session.created_ms,
                    &session.expires_ms,
                ],
            )
            .await?;
        })
    }

    async fn session(&self, token_hash: &[u8], now_ms: i64) -> Result<Option<StoredSession>> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "SELECT key_id, created_ms, expires_ms FROM dashboard_session
             WHERE token_hash = $1 AND expires_ms > $2",
            &[&token_hash, &now_ms],
        )
        .await?;
        row.map(|row| {
            Ok(StoredSession {
                token_hash: token_hash.to_vec(),
                key_id: get(&row, 0)?,
                created_ms: get(&row, 1)?,
                expires_ms: get(&row, 2)?,
            })
        })
        .transpose()
    }

    async fn end_session(&self, token_hash: &[u8]) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "DELETE FROM dashboard_session WHERE token_hash = $1",
            &[&token_hash],
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::access_state::RateLimit;
    use crate::postgres::{PostgresStore, testing};

    /// Two nodes' views of one database.
    async fn two_nodes() -> (PostgresAccessState, PostgresAccessState) {
        let url = testing::fresh_database().await;
        let a = PostgresStore::connect(&url, 2).await.unwrap();
        let b = PostgresStore::connect(&url, 2).await.unwrap();
        (a.access_state().unwrap(), b.access_state().unwrap())
    }

    fn admission(hash: i64, now: i64, rate: Option<RateLimit>) -> Admission<'static> {
        Admission {
            nonce_hash: hash,
            signed_ms: now,
            key_id: "AK1",
            rate,
            now_ms: now,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_nonce_is_accepted_once_by_all_nodes_and_forgotten_after_its_window() {
        let (a, b) = two_nodes().await;
        let now = 1_000_000_000;
        assert_eq!(
            a.admit(admission(7, now, None)).await.unwrap(),
            Admitted::Fresh
        );
        assert_eq!(
            b.admit(admission(7, now, None)).await.unwrap(),
            Admitted::Replayed
        );
        assert_eq!(
            a.admit(admission(7, now, None)).await.unwrap(),
            Admitted::Replayed
        );
        assert_eq!(
            b.admit(admission(8, now + 5, None)).await.unwrap(),
            Admitted::Fresh
        );
        assert_eq!(
            a.prune_nonces(now + 1).await.unwrap(),
            1,
            "only the older one"
        );
        assert_eq!(
            b.admit(admission(8, now + 5, None)).await.unwrap(),
            Admitted::Replayed
        );
        assert_eq!(
            a.admit(admission(7, now, None)).await.unwrap(),
            Admitted::Fresh
        );
    }

    /// Nonces arrive at once on both nodes, each nonce three times (twice on one node, so that some copies share a
    /// group, once on the other): every nonce is let in exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_copies_of_a_nonce_are_let_in_once_across_groups_and_nodes() {
        let (a, b) = two_nodes().await;
        let (a, b) = (Arc::new(a), Arc::new(b));
        let now = 2_000_000_000;
        let mut admissions = tokio::task::JoinSet::new();
        for hash in 0..400_i64 {
            for node in [&a, &a, &b] {
                let node = Arc::clone(node);
                admissions.spawn(async move {
                    (hash, node.admit(admission(hash, now, None)).await.unwrap())
                });
            }
        }
        let mut fresh = vec![0_u32; 400];
        while let Some(answer) = admissions.join_next().await {
            let (hash, admitted) = answer.unwrap();
            match admitted {
                Admitted::Fresh => fresh[hash as usize] += 1,
                Admitted::Replayed => {}
                other => panic!("{hash}: {other:?}"),
            }
        }
        let wrong: Vec<_> = (0..400).filter(|&h| fresh[h] != 1).collect();
        assert!(wrong.is_empty(), "not let in exactly once: {wrong:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rate_limit_is_shared_by_all_nodes() {
        let (a, b) = two_nodes().await;
        let rate = Some(RateLimit {
            per_second: 10,
            burst: 5,
        });
        let t = 1_000_000;
        // Five of the burst, spread over both nodes; the sixth waits one interval (100 ms at 10/s).
        for i in 0..5 {
            let node = if i % 2 == 0 { &a } else { &b };
            assert_eq!(
                node.admit(admission(i, t, rate)).await.unwrap(),
                Admitted::Fresh,
                "{i}"
            );
        }
        assert_eq!(
            b.admit(admission(5, t, rate)).await.unwrap(),
            Admitted::Throttled {
                retry_after_ms: 100
            }
        );
        // A replay is refused as such, and takes no token.
        assert_eq!(
            a.admit(admission(0, t + 100, rate)).await.unwrap(),
            Admitted::Replayed
        );
        assert_eq!(
            a.admit(admission(6, t + 100, rate)).await.unwrap(),
            Admitted::Fresh
        );
        assert!(matches!(
            b.admit(admission(7, t + 100, rate)).await.unwrap(),
            Admitted::Throttled { .. }
        ));
        let other_key = Admission {
            key_id: "AK2",
            ..admission(9, t + 100, rate)
        };
        assert_eq!(
            b.admit(other_key).await.unwrap(),
            Admitted::Fresh,
            "keys are independent"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sessions_are_seen_by_every_node_until_they_expire_or_end() {
        let (a, b) = two_nodes().await;
        let limits = SessionLimits {
            per_key: 2,
            capacity: 3,
        };
        let session = |n: u8, key: &str, created: i64| StoredSession {
            token_hash: vec![n; 32],
            key_id: Some(key.to_string()),
            created_ms: created,
            expires_ms: created + 1_000,
        };
        a.create_session(session(1, "AK1", 100), limits, 100)
            .await
            .unwrap();
        assert_eq!(
            b.session(&[1; 32], 150).await.unwrap(),
            Some(session(1, "AK1", 100))
        );
        assert_eq!(b.session(&[1; 32], 1_100).await.unwrap(), None, "expired");
        assert_eq!(b.session(&[2; 32], 150).await.unwrap(), None, "never filed");
        // A key's third session ends its oldest.
        b.create_session(session(2, "AK1", 200), limits, 200)
            .await
            .unwrap();
        a.create_session(session(3, "AK1", 300), limits, 300)
            .await
            .unwrap();
        assert_eq!(a.session(&[1; 32], 300).await.unwrap(), None);
        assert!(a.session(&[2; 32], 300).await.unwrap().is_some());
        // The table is full (3): a fourth is refused until one ends.
        b.create_session(session(4, "AK2", 400), limits, 400)
            .await
            .unwrap();
        let full = a.create_session(session(5, "AK3", 400), limits, 400).await;
        assert!(matches!(full, Err(Error::Throttled { .. })), "{full:?}");
        b.end_session(&[4; 32]).await.unwrap();
        assert_eq!(a.session(&[4; 32], 400).await.unwrap(), None);
        a.create_session(session(5, "AK3", 400), limits, 400)
            .await
            .unwrap();
    }
}
