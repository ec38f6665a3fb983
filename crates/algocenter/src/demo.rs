//! `algocenter demo`: the whole system in one command against a running server. Generates a shop with the
//! project's generator, pushes it into a new app group, creates one instance of every function, trains them one
//! after the other with a progress bar, and prints what each serves.

use std::process::ExitCode;

use algocenter_domain::document::DocumentKind;
use algocenter_domain::now_ms;
use algocenter_generator::{GeneratorConfig, World, document_record, push_record};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{ClientArgs, DemoArgs, FunctionTarget};
use crate::client::{Client, Failure, error_text, field, segment};
use crate::functions::watch;

/// Records per push request.
const BATCH: usize = 5_000;

/// (function, instance, model type, create parameters as name/value pairs).
type DemoInstance = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// One instance per function.
const INSTANCES: &[DemoInstance] = &[
    ("pop", "popular", "pop", &[]),
    (
        "ctr",
        "rank",
        "tf_checkpoint",
        &[("id_field", "item_id"), ("title_field", "title")],
    ),
    ("hot", "top", "offline_inference", &[]),
    ("hint", "hints", "near_realtime", &[]),
    ("suggest", "complete", "offline_inference", &[]),
    ("category", "categories", "offline_inference", &[]),
    ("analyzer", "words", "text", &[]),
    ("termweight", "weights", "tf_checkpoint", &[]),
];

async fn push(
    client: &Client,
    app: &str,
    kind: &str,
    records: &[Value],
    bar: &ProgressBar,
) -> Result<(), Failure> {
    let path = format!(
        "/v3/openapi/app-groups/{0}/data-collections/{0}/data-collection-type/{kind}/actions/bulk",
        segment(app)
    );
    for chunk in records.chunks(BATCH) {
        let body = Value::Array(chunk.to_vec()).to_string().into_bytes();
        let (status, answer) = client.send(Method::POST, &path, Some(body)).await?;
        if status >= 400 {
            return Err(Failure::Api(error_text(status, &answer)));
        }
        bar.inc(chunk.len() as u64);
    }
    Ok(())
}

fn bar(len: u64, what: &str) -> Result<ProgressBar, Failure> {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} ({elapsed})")
            .map_err(|e| Failure::Transport(e.to_string()))?
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    Ok(bar)
}

async fn predict(
    client: &Client,
    app: &str,
    function: &str,
    body: Value,
) -> Result<Value, Failure> {
    let path = format!(
        "/v4/openapi/app-groups/{}/functions/{function}/predict",
        segment(app)
    );
    Ok(client.call(Method::POST, &path, Some(body)).await?["Result"].clone())
}

async fn demo(client: &Client, args: &DemoArgs) -> Result<(), Failure> {
    let app = args.app.as_str();
    println!(
        "generating a shop of about {} behaviour events…",
        args.events
    );
    let world = World::new(GeneratorConfig::for_events(args.events, 14, now_ms(), 7));
    let items: Vec<Value> = world
        .item_documents()
        .map(|d| document_record(DocumentKind::Item, &d))
        .collect();
    let mut events = Vec::new();
    world.events(&mut |e, _| events.push(push_record(e)));

    client
        .call(
            Method::POST,
            "/v4/openapi/app-groups",
            Some(json!({"name": app, "description": "algocenter demo"})),
        )
        .await?;
    println!("created app group {app}");
    let items_bar = bar(items.len() as u64, "items")?;
    push(client, app, "item_info", &items, &items_bar).await?;
    items_bar.finish();
    let events_bar = bar(events.len() as u64, "behaviour")?;
    push(client, app, "behavior", &events, &events_bar).await?;
    events_bar.finish();

    for (function, instance, model_type, params) in INSTANCES {
        let target = FunctionTarget {
            app: app.to_string(),
            function: function.to_string(),
        };
        let base = format!(
            "/v4/openapi/app-groups/{}/functions/{function}",
            segment(app)
        );
        let parameters: Vec<Value> = params
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        client
            .call(
                Method::POST,
                &format!("{base}/instances"),
                Some(json!({"instanceName": instance, "modelType": model_type, "createParameters": parameters})),
            )
            .await?;
        client
            .call(
                Method::PUT,
                &format!("{base}/default-instance"),
                Some(json!({"instanceName": instance})),
            )
            .await?;
        let started = client
            .call(
                Method::POST,
                &format!("{base}/instances/{instance}/tasks"),
                None,
            )
            .await?;
        let generation = field(&started["Result"], "Generation");
        let (task, ok) = watch(client, &target, instance, &generation).await?;
        if !ok {
            return Err(Failure::Api(format!(
                "{function} training failed: {}",
                field(&task, "ExtendInfo")
            )));
        }
    }

    // What each serves.
    let query = world.queries()[0].text.clone();
    let leaf = world.queries()[0].leaf;
    // Five items of the query's own category among fifteen others, in catalogue order.
    let mut candidates: Vec<String> = world
        .items()
        .iter()
        .filter(|i| i.leaf == leaf)
        .take(5)
        .map(|i| i.id.clone())
        .collect();
    candidates.extend(
        world
            .items()
            .iter()
            .filter(|i| i.leaf != leaf)
            .take(15)
            .map(|i| i.id.clone()),
    );
    candidates.sort_by_key(|id| id.trim_start_matches('i').parse::<u64>().unwrap_or(0));
    println!(
        "\nctr reranks {} items for the query \"{query}\" (best first, click probability at position 1):",
        candidates.len()
    );
    let ranked = predict(
        client,
        app,
        "ctr",
        json!({"query": query, "userId": "u1", "items": candidates}),
    )
    .await?;
    for item in ranked["Items"].as_array().into_iter().flatten().take(5) {
        let title = world
            .items()
            .iter()
            .find(|i| i.id == field(item, "ItemId"))
            .map_or(String::new(), |i| i.title.clone());
        println!(
            "  {:<8} {:.3}  {title}",
            field(item, "ItemId"),
            item["Score"].as_f64().unwrap_or(0.0)
        );
    }
    println!("\nhot: today's top searches");
    let hot = predict(client, app, "hot", json!({"hit": 5})).await?;
    for q in hot["Queries"].as_array().into_iter().flatten() {
        println!("  {:<30} pv {}", field(q, "Query"), field(q, "Pv"));
    }
    let prefix: String = query.chars().take(2).collect();
    println!("\nsuggest completes \"{prefix}\":");
    let suggested = predict(client, app, "suggest", json!({"query": prefix, "hit": 5})).await?;
    for s in suggested["Suggestions"].as_array().into_iter().flatten() {
        println!("  {}", s.as_str().unwrap_or_default());
    }
    let queries: Vec<String> = world
        .queries()
        .iter()
        .take(3)
        .map(|q| q.text.clone())
        .collect();
    println!("\ncategory predicts:");
    let predicted = predict(
        client,
        app,
        "category",
        json!({"queries": queries, "topK": 1}),
    )
    .await?;
    for p in predicted["Predictions"].as_array().into_iter().flatten() {
        let top = &p["Categories"][0];
        println!(
            "  {:<30} → {} ({:.2}, from {})",
            field(p, "Query"),
            field(top, "Category"),
            top["Score"].as_f64().unwrap_or(0.0),
            field(p, "Source")
        );
    }
    // Query analysis: a rule naming the three query functions, then what the endpoint answers for one query.
    client
        .call(
            Method::PUT,
            &format!(
                "/v4/openapi/app-groups/{}/query-analysis-rules/demo",
                segment(app)
            ),
            Some(json!({
                "analyzer": "words", "termweight": "weights", "category": "categories",
                "fields": ["title^3"], "categoryField": "category", "default": true
            })),
        )
        .await?;
    let analysed = client
        .call(
            Method::GET,
            &format!(
                "/v3/openapi/apps/{}/query-analysis?query={}",
                segment(app),
                segment(&query)
            ),
            None,
        )
        .await?;
    let result = &analysed["result"];
    println!("\nquery analysis of \"{query}\" (rule demo: analyzer, termweight, category):");
    for token in result["tokens"].as_array().into_iter().flatten() {
        println!(
            "  {:<16} weight {:.2} {}",
            field(token, "token"),
            token["weight"].as_f64().unwrap_or(0.0),
            field(token, "level")
        );
    }
    println!("  rewritten: {}", field(&result["rewritten"], "opensearch"));
    println!(
        "\nSee it all in the dashboard: {}/ui/apps/{app} (log in with the same access key): every instance's \
         tasks, metric charts across generations and the data status.\n\
         From the command line: algocenter task show --app {app} --function ctr rank 1 (and pop popular, \
         hot top, hint hints, suggest complete, category categories, analyzer words, termweight weights); the API reference is at /openapi.json, \
         metrics at /metrics.",
        client.endpoint()
    );
    Ok(())
}

pub async fn run(client_args: ClientArgs, args: DemoArgs) -> ExitCode {
    let client = Client::new(&client_args);
    match demo(&client, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}
