//! Query-analysis rules: create, replace, one default per app group, list, delete.

use std::sync::Arc;

use algocenter_domain::Error;
use algocenter_domain::query_rule::{RuleSpec, SearchField};

use super::{APP, T0, with_app};
use crate::Store;

pub async fn rules_with_one_default(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let spec = |analyzer: &str, default: bool| RuleSpec {
        analyzer: Some(analyzer.into()),
        termweight: Some("tw".into()),
        fields: vec![SearchField {
            name: "title".into(),
            boost: Some(3),
        }],
        default,
        ..RuleSpec::default()
    };
    assert!(matches!(
        store.default_rule(APP).await,
        Err(Error::RuleNotExist(_))
    ));
    let first = store
        .put_rule(APP, "r1", spec("an1", true), T0)
        .await
        .unwrap();
    assert_eq!(first.spec, spec("an1", true));
    assert_eq!((first.created_ms, first.updated_ms), (T0, T0));
    assert_eq!(store.default_rule(APP).await.unwrap().name, "r1");

    // A new default takes over; replacing keeps the creation time.
    store
        .put_rule(APP, "r2", spec("an2", true), T0 + 1)
        .await
        .unwrap();
    assert_eq!(store.default_rule(APP).await.unwrap().name, "r2");
    assert!(!store.rule(APP, "r1").await.unwrap().spec.default);
    let replaced = store
        .put_rule(APP, "r1", spec("an3", false), T0 + 2)
        .await
        .unwrap();
    assert_eq!(replaced.spec.analyzer.as_deref(), Some("an3"));
    assert_eq!((replaced.created_ms, replaced.updated_ms), (T0, T0 + 2));
    let names: Vec<String> = store
        .list_rules(APP)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["r1", "r2"]);

    store.delete_rule(APP, "r2").await.unwrap();
    assert!(matches!(
        store.default_rule(APP).await,
        Err(Error::RuleNotExist(_))
    ));
    assert!(matches!(
        store.delete_rule(APP, "r2").await,
        Err(Error::RuleNotExist(_))
    ));
    assert!(matches!(
        store.rule("nope", "r1").await,
        Err(Error::AppNotFound(_))
    ));
    // Rules go with their app group.
    store.delete_app_group(APP).await.unwrap();
    with_app(&*store).await;
    assert!(store.list_rules(APP).await.unwrap().is_empty());
}
