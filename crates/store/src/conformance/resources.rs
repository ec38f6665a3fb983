//! Function resources: references from instances, paging, updates, unreadable stored state.

use std::sync::Arc;

use algocenter_domain::instance::InstanceUpdate;
use algocenter_domain::resource::{NewResource, ResourceData, ResourceType};
use algocenter_domain::{Error, Function};

use super::{APP, Backend, T0, is_corrupt, new_instance, page, with_app};
use crate::Store;

pub async fn resources_and_references(store: Arc<dyn Store>) {
    with_app(&*store).await;
    let raw = |name: &str| NewResource {
        name: name.into(),
        resource_type: ResourceType::RawFile,
        description: "words".into(),
        data: ResourceData {
            content: "bad\nworse\n".into(),
            generators: vec![],
        },
    };
    store
        .create_resource(APP, Function::Hot, raw("blocked"), T0)
        .await
        .unwrap();
    store
        .create_resource(APP, Function::Hot, raw("other"), T0)
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_resource(APP, Function::Hot, raw("blocked"), T0)
            .await,
        Err(Error::ResourceDuplicated(_))
    ));

    let mut hot = new_instance("hot1");
    hot.function = Function::Hot;
    hot.resource_refs = vec![("blacklist".into(), "missing".into())];
    let err = store
        .create_instance(APP, hot.clone(), T0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("blacklist"), "{err}");
    hot.resource_refs = vec![("blacklist".into(), "blocked".into())];
    store.create_instance(APP, hot, T0).await.unwrap();

    let resource = store.resource(APP, Function::Hot, "blocked").await.unwrap();
    assert_eq!(resource.referenced_instances, ["hot1"]);
    assert!(matches!(
        store.delete_resource(APP, Function::Hot, "blocked").await,
        Err(Error::ResourceInUse { .. })
    ));

    let (list, total) = store
        .list_resources(APP, Function::Hot, Some(ResourceType::RawFile), page(1, 1))
        .await
        .unwrap();
    assert_eq!((list.len(), total), (1, 2));
    assert_eq!(
        store
            .list_resources(
                APP,
                Function::Hot,
                Some(ResourceType::FeatureGenerator),
                page(1, 10)
            )
            .await
            .unwrap()
            .1,
        0
    );

    let data = ResourceData {
        content: "new\n".into(),
        generators: vec![],
    };
    store
        .update_resource(APP, Function::Hot, "blocked", None, Some(data), T0 + 5)
        .await
        .unwrap();
    let updated = store.resource(APP, Function::Hot, "blocked").await.unwrap();
    assert_eq!(
        (
            updated.data.content.as_str(),
            updated.description.as_str(),
            updated.modified_ms
        ),
        ("new\n", "words", T0 + 5)
    );

    // Dropping the reference frees the resource.
    let update = InstanceUpdate {
        resource_refs: Some(vec![]),
        ..Default::default()
    };
    store
        .update_instance(APP, Function::Hot, "hot1", update, T0)
        .await
        .unwrap();
    store
        .delete_resource(APP, Function::Hot, "blocked")
        .await
        .unwrap();
    assert!(matches!(
        store.resource(APP, Function::Hot, "blocked").await,
        Err(Error::ResourceNotExist(_))
    ));

    // Deleting the app group removes referenced resources with their instances.
    let update = InstanceUpdate {
        resource_refs: Some(vec![("blacklist".into(), "other".into())]),
        ..Default::default()
    };
    store
        .update_instance(APP, Function::Hot, "hot1", update, T0)
        .await
        .unwrap();
    store.delete_app_group(APP).await.unwrap();
}

pub async fn unreadable_resources_are_refused(backend: &Backend) {
    let store = &backend.store;
    with_app(&**store).await;
    let new = NewResource {
        name: "blocked".into(),
        resource_type: ResourceType::RawFile,
        description: String::new(),
        data: ResourceData {
            content: "bad\n".into(),
            generators: vec![],
        },
    };
    store
        .create_resource(APP, Function::Hot, new, T0)
        .await
        .unwrap();
    backend
        .tamper("UPDATE resource SET data = '{\"content\": 7}'")
        .await;
    let read = store.resource(APP, Function::Hot, "blocked").await;
    assert!(is_corrupt(&read, "resource", "data"), "{read:?}");
    let listed = store
        .list_resources(APP, Function::Hot, None, page(1, 10))
        .await;
    assert!(is_corrupt(&listed, "resource", "data"), "{listed:?}");
    // Replacing the data repairs it.
    let data = ResourceData {
        content: "worse\n".into(),
        generators: vec![],
    };
    store
        .update_resource(APP, Function::Hot, "blocked", None, Some(data), T0)
        .await
        .unwrap();
    assert_eq!(
        store
            .resource(APP, Function::Hot, "blocked")
            .await
            .unwrap()
            .data
            .content,
        "worse\n"
    );
}
