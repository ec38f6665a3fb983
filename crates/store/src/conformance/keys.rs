//! Access keys: creation, listing, revocation (never of the last admin key, also under concurrent revocations),
//! and keys whose stored scope of app groups is unreadable.

use std::sync::Arc;

use algocenter_domain::Error;
use algocenter_domain::access_key::{AccessKey, Scope};

use super::{Backend, T0, is_corrupt};
use crate::Store;

fn key(id: &str, scope: Scope, apps: &[&str]) -> AccessKey {
    AccessKey {
        id: id.into(),
        scope,
        apps: apps.iter().map(|a| a.to_string()).collect(),
        description: format!("{id} key"),
        created_ms: T0,
        revoked_ms: None,
    }
}

pub async fn access_keys_create_list_revoke(store: Arc<dyn Store>) {
    assert!(!store.has_keys().await.unwrap());
    store
        .create_key(key("admin1", Scope::Admin, &[]), b"sealed-1".to_vec())
        .await
        .unwrap();
    store
        .create_key(
            key("reader", Scope::Read, &["shop", "blog"]),
            b"sealed-2".to_vec(),
        )
        .await
        .unwrap();
    assert!(store.has_keys().await.unwrap());
    assert!(matches!(
        store
            .create_key(key("reader", Scope::Write, &[]), vec![])
            .await,
        Err(Error::AccessKeyDuplicated(_))
    ));
    let (found, sealed) = store.key("reader").await.unwrap().unwrap();
    assert_eq!(
        (found.scope, found.apps.clone(), sealed),
        (
            Scope::Read,
            vec!["shop".to_string(), "blog".into()],
            b"sealed-2".to_vec()
        )
    );
    assert!(store.key("nobody").await.unwrap().is_none());
    assert_eq!(
        store
            .list_keys()
            .await
            .unwrap()
            .iter()
            .map(|k| k.id.as_str())
            .collect::<Vec<_>>(),
        ["admin1", "reader"]
    );

    assert!(
        matches!(
            store.revoke_key("admin1", T0).await,
            Err(Error::LastAdminKey(_))
        ),
        "the last admin key stays"
    );
    store
        .create_key(key("admin2", Scope::Admin, &[]), vec![1])
        .await
        .unwrap();
    assert_eq!(
        store.revoke_key("admin1", T0 + 5).await.unwrap().revoked_ms,
        Some(T0 + 5)
    );
    assert_eq!(
        store.key("admin1").await.unwrap().unwrap().0.revoked_ms,
        Some(T0 + 5)
    );
    assert!(matches!(
        store.revoke_key("admin2", T0).await,
        Err(Error::LastAdminKey(_))
    ));
    assert!(matches!(
        store.revoke_key("nobody", T0).await,
        Err(Error::AccessKeyNotExist(_))
    ));
}

pub async fn concurrent_revocations_keep_one_admin_key(store: Arc<dyn Store>) {
    for round in 0..20 {
        for i in 0..4 {
            let id = format!("admin{round}-{i}");
            store
                .create_key(key(&id, Scope::Admin, &[]), vec![1])
                .await
                .unwrap();
        }
        // Every active admin key (with the one the last round kept) is revoked at once: exactly one refusal
        // keeps one of them.
        let active: Vec<String> = store
            .list_keys()
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.revoked_ms.is_none())
            .map(|k| k.id)
            .collect();
        let revocations: Vec<_> = active
            .into_iter()
            .map(|id| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.revoke_key(&id, 1).await })
            })
            .collect();
        let mut refused = 0;
        for revocation in revocations {
            match revocation.await.unwrap() {
                Ok(key) => assert_eq!(key.revoked_ms, Some(1)),
                Err(Error::LastAdminKey(_)) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(refused, 1, "round {round}");
        let active = store.list_keys().await.unwrap();
        assert_eq!(active.iter().filter(|k| k.revoked_ms.is_none()).count(), 1);
    }
}

pub async fn a_key_with_unreadable_app_groups_is_refused(backend: &Backend) {
    let store = &backend.store;
    store
        .create_key(key("admin", Scope::Admin, &[]), vec![1])
        .await
        .unwrap();
    store
        .create_key(key("blogger", Scope::Write, &["blog"]), vec![2])
        .await
        .unwrap();
    // Read as a default, an unreadable list would be empty: "all app groups", more access than the key had.
    for damaged in ["'blog'", "'{\"apps\": [\"blog\"]}'", "''", "'null'"] {
        backend
            .tamper(&format!(
                "UPDATE access_key SET apps = {damaged} WHERE id = 'blogger'"
            ))
            .await;
        let read = store.key("blogger").await;
        assert!(
            is_corrupt(&read, "access_key", "apps"),
            "{damaged}: {read:?}"
        );
        assert!(
            is_corrupt(&store.list_keys().await, "access_key", "apps"),
            "{damaged}"
        );
        assert!(
            is_corrupt(&store.revoke_key("blogger", T0).await, "access_key", "apps"),
            "{damaged}"
        );
    }
    assert_eq!(
        store.key("admin").await.unwrap().unwrap().0.apps,
        Vec::<String>::new(),
        "other keys still read"
    );
}
