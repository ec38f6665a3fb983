//! The serving entries called directly, as the dashboard or a service that analyses a query with several functions
//! would call them: generations of `pop`, `hot` and `suggest` trained by the engine on a generated shop over a real
//! SQLite store, then served by instance, by default instance, with changed usage parameters, and together.

use std::sync::Arc;
use std::time::Duration;

use algocenter_domain::app_group::NewAppGroup;
use algocenter_domain::catalogue::Parameter;
use algocenter_domain::instance::{InstanceUpdate, NewInstance};
use algocenter_domain::{Function, now_ms};
use algocenter_engine::{Engine, EngineConfig};
use algocenter_functions::Trainers;
use algocenter_generator::{GeneratorConfig, World};
use algocenter_serving::pop::ScoreRequest;
use algocenter_serving::query_list::{DEFAULT_HOT_HIT, ListKind, ListOrder, ListRequest};
use algocenter_serving::suggest::SuggestRequest;
use algocenter_serving::{Served, Serving, Target};
use algocenter_testkit::{TempStore, wait_until};

const APP: &str = "shop";

fn instance(
    function: Function,
    name: &str,
    model_type: &str,
    usage: &[(&str, &str)],
) -> NewInstance {
    NewInstance {
        function,
        name: name.into(),
        model_type: model_type.into(),
        function_type: "PAAS".into(),
        description: String::new(),
        cron: String::new(),
        version_id: algocenter_domain::catalogue::version_for_model_type(function, model_type)
            .unwrap()
            .version_id,
        create_parameters: vec![],
        usage_parameters: usage
            .iter()
            .map(|(name, value)| Parameter {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect(),
        resource_refs: vec![],
        next_fire_ms: None,
    }
}

/// Error code of a refused entry.
fn code<T: std::fmt::Debug>(result: algocenter_domain::Result<T>) -> &'static str {
    result.unwrap_err().code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_serve_trained_generations_by_instance_default_and_usage_parameters() {
    let temp = TempStore::open();
    let store = Arc::clone(&temp.store);
    let group = NewAppGroup {
        name: APP.into(),
        app_type: "enhanced".into(),
        description: String::new(),
        extra: Default::default(),
    };
    store.create_app_group(group, now_ms()).await.unwrap();
    let world = World::new(GeneratorConfig {
        end_ms: now_ms(),
        days: 10,
        searches: 3_000,
        users: 500,
        items: 400,
        queries: 2_000,
        ..GeneratorConfig::default()
    });
    let mut events = Vec::new();
    world.events(&mut |e, _| events.push(e.clone()));
    store.append_events(APP, events).await.unwrap();
    for new in [
        instance(Function::Pop, "p", "pop", &[("default_score", "0.05")]),
        instance(Function::Hot, "h", "offline_inference", &[]),
        instance(Function::Suggest, "s", "offline_inference", &[]),
    ] {
        store.create_instance(APP, new, now_ms()).await.unwrap();
    }

    let config = EngineConfig {
        workers: 2,
        heartbeat: Duration::from_millis(50),
        ..EngineConfig::default()
    };
    let engine = Engine::new(
        Arc::clone(&store),
        Arc::clone(&temp.artifacts),
        Trainers::builtin(),
        config,
    );
    let _running = engine.start().await.unwrap();
    let serving = Serving::new(
        Arc::clone(&store),
        Arc::clone(&temp.artifacts),
        engine.serving_epoch(),
    );
    let unpopular = ScoreRequest {
        target: Target::new(APP, Some("p")),
        items: &["no such item".to_string()],
    };
    assert_eq!(
        code(serving.pop(unpopular).await),
        "Instance.Unavailable",
        "nothing trained yet"
    );
    for (function, name) in [
        (Function::Pop, "p"),
        (Function::Hot, "h"),
        (Function::Suggest, "s"),
    ] {
        engine.create_task(APP, function, name).await.unwrap();
        wait_until(
            format_args!("{name} to serve generation 1"),
            Duration::from_secs(60),
            || async {
                let found = store.instance(APP, function, name).await.unwrap();
                (found.serving_generation == Some(1)).then_some(())
            },
        )
        .await;
    }
    let served = |instance: &str| Served {
        instance: instance.into(),
        generation: 1,
    };

    // pop: known items scored by the generation, unknown ones by the instance's default_score.
    let best = world
        .items()
        .iter()
        .max_by(|a, b| a.quality.total_cmp(&b.quality))
        .unwrap()
        .id
        .clone();
    let items = [best.clone(), "no such item".to_string()];
    let scored = serving
        .pop(ScoreRequest {
            target: Target::new(APP, Some("p")),
            items: &items,
        })
        .await
        .unwrap();
    assert_eq!(scored.served, served("p"));
    assert_eq!(
        scored
            .items
            .iter()
            .map(|s| s.item.as_str())
            .collect::<Vec<_>>(),
        [best.as_str(), "no such item"]
    );
    assert!(
        scored.items[0].known && scored.items[0].score > 0.5,
        "{scored:?}"
    );
    assert!(!scored.items[1].known);
    assert_eq!(scored.items[1].score, 0.05);

    // Without an instance named, the default instance answers, once there is one.
    let by_default = || ScoreRequest {
        target: Target::new(APP, None),
        items: &items,
    };
    assert_eq!(
        code(serving.pop(by_default()).await),
        "DefaultInstance.NotExist"
    );
    store
        .set_default_instance(APP, Function::Pop, Some("p".into()))
        .await
        .unwrap();
    serving.invalidate();
    assert_eq!(serving.pop(by_default()).await.unwrap().served, served("p"));

    // A changed usage parameter applies at the next request after serving is told.
    let update = InstanceUpdate {
        usage_parameters: Some(vec![Parameter {
            name: "default_score".into(),
            value: "0.5".into(),
        }]),
        ..InstanceUpdate::default()
    };
    store
        .update_instance(APP, Function::Pop, "p", update, now_ms())
        .await
        .unwrap();
    serving.invalidate();
    assert_eq!(serving.pop(by_default()).await.unwrap().items[1].score, 0.5);

    // Several functions for one query, as a query-analysis service asks them: the top searches and the
    // completions of what was typed, each from its own instance and generation.
    let hot = |hit| ListRequest {
        target: Target::new(APP, Some("h")),
        kind: ListKind::Hot,
        hit,
        order: ListOrder::Default,
        user: None,
    };
    let top = serving.query_list(hot(Some(1))).await.unwrap().queries[0]
        .query
        .clone();
    let typed: String = top.chars().take(2).collect();
    let (list, completions) = tokio::join!(
        serving.query_list(hot(None)),
        serving.suggest(SuggestRequest {
            target: Target::new(APP, Some("s")),
            typed: &typed,
            hit: Some(5),
        }),
    );
    let (list, completions) = (list.unwrap(), completions.unwrap());
    assert_eq!(
        (list.served, completions.served),
        (served("h"), served("s"))
    );
    assert_eq!(list.queries.len(), DEFAULT_HOT_HIT);
    assert!(
        (1..=5).contains(&completions.suggestions.len()),
        "{typed}: {:?}",
        completions.suggestions
    );

    // An instance of another function is not one of this function's.
    let wrong = SuggestRequest {
        target: Target::new(APP, Some("p")),
        typed: "a",
        hit: None,
    };
    assert_eq!(code(serving.suggest(wrong).await), "Instance.NotExist");
}
