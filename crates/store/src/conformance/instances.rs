//! App groups and instances: names and ids, paging and filters, the default instance, unreadable stored state.

use std::sync::Arc;

use algocenter_domain::app_group::NewAppGroup;
use algocenter_domain::catalogue::Parameter;
use algocenter_domain::instance::{InstanceFilter, InstanceUpdate};
use algocenter_domain::{Error, Function};
use serde_json::Map;

use super::{APP, Backend, T0, is_corrupt, new_instance, page, with_app};
use crate::Store;

pub async fn app_groups_by_name_and_id(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let dup = NewAppGroup {
        name: APP.into(),
        app_type: "enhanced".into(),
        description: String::new(),
        extra: Map::new(),
    };
    assert!(matches!(
        store.create_app_group(dup, T0).await,
        Err(Error::AppDuplicated(_))
    ));
    let app = store.app_group(APP).await.unwrap();
    assert_eq!(
        store.app_group(&app.id.to_string()).await.unwrap().name,
        APP
    );
    assert!(matches!(
        store.app_group("nope").await,
        Err(Error::AppNotFound(_))
    ));
    let (list, total) = store
        .list_app_groups(Some("ho".into()), None, page(1, 10))
        .await
        .unwrap();
    assert_eq!((list.len(), total), (1, 1));
    let (list, total) = store
        .list_app_groups(None, Some("standard".into()), page(1, 10))
        .await
        .unwrap();
    assert_eq!((list.len(), total), (0, 0));
    store.delete_app_group(APP).await.unwrap();
    assert!(matches!(
        store.app_group(APP).await,
        Err(Error::AppNotFound(_))
    ));
}

pub async fn instances_crud_paging_and_filters(store: Arc<dyn Store>) {
    with_app(&*store).await;
    for i in 0..5 {
        store
            .create_instance(APP, new_instance(&format!("p{i}")), T0 + i)
            .await
            .unwrap();
    }
    assert!(matches!(
        store.create_instance(APP, new_instance("p0"), T0).await,
        Err(Error::InstanceDuplicated(_))
    ));
    assert!(matches!(
        store.create_instance("nope", new_instance("x"), T0).await,
        Err(Error::AppNotFound(_))
    ));

    let all = InstanceFilter {
        include_user: true,
        ..Default::default()
    };
    let (first, total) = store
        .list_instances(APP, Function::Pop, all.clone(), page(1, 2))
        .await
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(
        first.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["p0", "p1"]
    );
    let (last, _) = store
        .list_instances(APP, Function::Pop, all.clone(), page(3, 2))
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    let (other_fn, total) = store
        .list_instances(APP, Function::Ctr, all.clone(), page(1, 10))
        .await
        .unwrap();
    assert!(other_fn.is_empty() && total == 0);
    let by_model = InstanceFilter {
        model_type: Some("tf_checkpoint".into()),
        ..all.clone()
    };
    assert_eq!(
        store
            .list_instances(APP, Function::Pop, by_model, page(1, 10))
            .await
            .unwrap()
            .1,
        0
    );
    let builtin = InstanceFilter {
        include_user: false,
        ..Default::default()
    };
    assert_eq!(
        store
            .list_instances(APP, Function::Pop, builtin, page(1, 10))
            .await
            .unwrap()
            .1,
        0
    );

    let update = InstanceUpdate {
        description: Some("new".into()),
        create_parameters: Some(vec![]),
        ..Default::default()
    };
    let updated = store
        .update_instance(APP, Function::Pop, "p1", update, T0 + 10)
        .await
        .unwrap();
    assert_eq!(updated.description, "new");
    assert!(updated.create_parameters.is_empty());
    assert_eq!(
        updated.cron, "",
        "fields not named in the update keep their values"
    );
    assert_eq!(updated.updated_ms, T0 + 10);

    store
        .delete_instance(APP, Function::Pop, "p1")
        .await
        .unwrap();
    assert!(matches!(
        store.instance(APP, Function::Pop, "p1").await,
        Err(Error::InstanceNotExist(_))
    ));
    assert!(matches!(
        store.delete_instance(APP, Function::Pop, "p1").await,
        Err(Error::InstanceNotExist(_))
    ));
}

pub async fn default_instance_set_replace_clear_and_follow_deletion(store: Arc<dyn Store>) {
    with_app(&*store).await;
    store
        .create_instance(APP, new_instance("a"), T0)
        .await
        .unwrap();
    store
        .create_instance(APP, new_instance("b"), T0)
        .await
        .unwrap();
    assert!(matches!(
        store.default_instance(APP, Function::Pop).await,
        Err(Error::DefaultInstanceNotExist(_))
    ));
    store
        .set_default_instance(APP, Function::Pop, Some("a".into()))
        .await
        .unwrap();
    assert_eq!(
        store.default_instance(APP, Function::Pop).await.unwrap(),
        "a"
    );
    store
        .set_default_instance(APP, Function::Pop, Some("b".into()))
        .await
        .unwrap();
    assert_eq!(
        store.default_instance(APP, Function::Pop).await.unwrap(),
        "b"
    );
    assert!(matches!(
        store
            .set_default_instance(APP, Function::Pop, Some("zzz".into()))
            .await,
        Err(Error::InstanceNotExist(_))
    ));
    assert_eq!(
        store.default_instance(APP, Function::Pop).await.unwrap(),
        "b",
        "a refused change keeps the default"
    );
    store
        .set_default_instance(APP, Function::Pop, None)
        .await
        .unwrap();
    assert!(store.default_instance(APP, Function::Pop).await.is_err());
    store
        .set_default_instance(APP, Function::Pop, Some("a".into()))
        .await
        .unwrap();
    store
        .delete_instance(APP, Function::Pop, "a")
        .await
        .unwrap();
    assert!(matches!(
        store.default_instance(APP, Function::Pop).await,
        Err(Error::DefaultInstanceNotExist(_))
    ));
}

pub async fn unreadable_app_groups_and_instances_are_refused(backend: &Backend) {
    let store = &backend.store;
    with_app(&**store).await;
    store
        .create_instance(APP, new_instance("p"), T0)
        .await
        .unwrap();
    store
        .create_instance(APP, new_instance("q"), T0)
        .await
        .unwrap();
    let all = InstanceFilter {
        include_user: true,
        ..Default::default()
    };

    backend
        .tamper("UPDATE instance SET usage_parameters = '{\"not\": \"a list\"}' WHERE name = 'p'")
        .await;
    let read = store.instance(APP, Function::Pop, "p").await;
    assert!(
        is_corrupt(&read, "instance", "usage_parameters"),
        "{read:?}"
    );
    let listed = store
        .list_instances(APP, Function::Pop, all.clone(), page(1, 10))
        .await;
    assert!(
        is_corrupt(&listed, "instance", "usage_parameters"),
        "a listing is refused, not shortened"
    );
    assert!(
        store.instance(APP, Function::Pop, "q").await.is_ok(),
        "other instances still read"
    );

    // A write that leaves the damaged column alone is refused and rolled back: the damage stays visible.
    let describe = InstanceUpdate {
        description: Some("new".into()),
        ..Default::default()
    };
    let refused = store
        .update_instance(APP, Function::Pop, "p", describe, T0)
        .await;
    assert!(
        is_corrupt(&refused, "instance", "usage_parameters"),
        "{refused:?}"
    );
    assert!(is_corrupt(
        &store.instance(APP, Function::Pop, "p").await,
        "instance",
        "usage_parameters"
    ));
    // One that replaces it repairs the instance.
    let repair = InstanceUpdate {
        usage_parameters: Some(vec![Parameter {
            name: "n".into(),
            value: "1".into(),
        }]),
        ..Default::default()
    };
    let repaired = store
        .update_instance(APP, Function::Pop, "p", repair, T0)
        .await
        .unwrap();
    assert_eq!(
        (
            repaired.description.as_str(),
            repaired.usage_parameters.len()
        ),
        ("d", 1)
    );

    backend
        .tamper("UPDATE instance SET create_parameters = 'not json' WHERE name = 'q'")
        .await;
    let read = store.instance(APP, Function::Pop, "q").await;
    assert!(
        is_corrupt(&read, "instance", "create_parameters"),
        "{read:?}"
    );
    if let Err(e) = &read {
        assert!(
            !e.to_string().contains("not json"),
            "the message shows no stored contents: {e}"
        );
    }
    store
        .delete_instance(APP, Function::Pop, "q")
        .await
        .unwrap();

    backend
        .tamper("UPDATE app_group SET extra = '[1, 2' WHERE name = 'shop'")
        .await;
    assert!(is_corrupt(
        &store.app_group(APP).await,
        "app_group",
        "extra"
    ));
    assert!(is_corrupt(
        &store.list_app_groups(None, None, page(1, 10)).await,
        "app_group",
        "extra"
    ));
}
