//! Fresh databases for tests, on the throwaway PostgreSQL cluster that `scripts/test` starts (its URL is in
//! `ALGOCENTER_TEST_DATABASE_URL`; `scripts/postgres-test-cluster` starts one by hand).

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::NoTls;

/// Environment variable naming the test cluster (any database on it; tests create their own).
pub const TEST_DATABASE_URL: &str = "ALGOCENTER_TEST_DATABASE_URL";

/// Environment variable naming the CA file that signed the test cluster's TLS certificate.
pub const TEST_CA: &str = "ALGOCENTER_TEST_PG_CA";

/// The CA of the test cluster's certificate (for IP 127.0.0.1); `other-ca.crt` beside it is an unrelated CA.
pub fn test_ca() -> std::path::PathBuf {
    std::env::var_os(TEST_CA).map(Into::into).unwrap_or_else(|| {
        panic!("{TEST_CA} is not set: scripts/postgres-test-cluster start exports it with the cluster's URL")
    })
}

/// Creates an empty database on the test cluster and answers its URL. Panics (this is for tests) when the cluster
/// is not configured or does not answer, saying how to start one.
pub async fn fresh_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::env::var(TEST_DATABASE_URL).unwrap_or_else(|_| {
        panic!(
            "{TEST_DATABASE_URL} is not set: the PostgreSQL tests need a server. scripts/test starts a throwaway \
             cluster; by hand: eval \"$(scripts/postgres-test-cluster start)\""
        )
    });
    let (client, connection) = tokio_postgres::connect(&base, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test cluster at {base}: {e}"));
    tokio::spawn(connection);
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        algocenter_domain::now_ms()
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    with_database(&base, &name)
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    // postgres://user@host:port/db — the database is what follows the last '/' after the authority.
    let authority_end = head
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| head[start..].find('/').map(|i| start + i))
        .unwrap_or(head.len());
    let mut out = format!("{}/{database}", &head[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_of_a_url_is_replaced() {
        for (url, expected) in [
            (
                "postgres://u@127.0.0.1:5432/postgres",
                "postgres://u@127.0.0.1:5432/t1",
            ),
            (
                "postgres://u@127.0.0.1:5432",
                "postgres://u@127.0.0.1:5432/t1",
            ),
            (
                "postgres://u:p@h/db?sslmode=disable",
                "postgres://u:p@h/t1?sslmode=disable",
            ),
        ] {
            assert_eq!(super::with_database(url, "t1"), expected);
        }
    }
}
