//! `algocenter resource create|list|show|delete`: function resources through a running server. A
//! `feature_generator` resource is created from a JSON file of generators (`--generators FILE.json`: the
//! guide's lowercase array, or `{"Generators": [...]}`), a `raw_file` from a text file (`--content FILE`).

use std::process::ExitCode;

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{ClientArgs, ResourceCommand};
use crate::client::{Client, Failure, field, segment};

fn base(app: &str, function: &str) -> String {
    format!(
        "/v4/openapi/app-groups/{}/functions/{}/resources",
        segment(app),
        segment(function)
    )
}

fn read(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::Transport(format!("cannot read {path}: {e}")))
}

/// The `Data` of a create request from the command line.
fn data(generators: Option<&str>, content: Option<&str>) -> Result<(Value, &'static str), Failure> {
    match (generators, content) {
        (Some(path), None) => {
            let parsed: Value = serde_json::from_str(&read(path)?)
                .map_err(|e| Failure::Usage(format!("{path} is not JSON: {e}")))?;
            // A bare array is the guide's form; an object may already be the API's Data.
            let data = match parsed {
                Value::Array(_) => parsed,
                Value::Object(ref o)
                    if o.contains_key("Generators") || o.contains_key("generators") =>
                {
                    parsed
                }
                _ => {
                    return Err(Failure::Usage(format!(
                        "{path} must hold a JSON array of generators or an object with Generators"
                    )));
                }
            };
            Ok((data, "feature_generator"))
        }
        (None, Some(path)) => Ok((json!({"Content": read(path)?}), "raw_file")),
        _ => Err(Failure::Usage(
            "give either --generators FILE.json (feature_generator) or --content FILE (raw_file)"
                .into(),
        )),
    }
}

fn print_resource(r: &Value) {
    println!(
        "{}  {}  referenced by: {}",
        field(r, "ResourceName"),
        field(r, "ResourceType"),
        r["ReferencedInstances"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "-".into())
    );
}

pub async fn run(args: ClientArgs, command: ResourceCommand) -> ExitCode {
    let client = Client::new(&args);
    let outcome = async {
        match command {
            ResourceCommand::Create {
                target,
                name,
                generators,
                content,
                description,
            } => {
                let (data, kind) = data(generators.as_deref(), content.as_deref())?;
                let body = json!({
                    "ResourceName": name,
                    "ResourceType": kind,
                    "Description": description,
                    "Data": data,
                });
                client
                    .call(
                        Method::POST,
                        &base(&target.app, &target.function),
                        Some(body),
                    )
                    .await?;
                println!("created {kind} resource {name}");
            }
            ResourceCommand::List { target } => {
                let answer = client
                    .call(Method::GET, &base(&target.app, &target.function), None)
                    .await?;
                let list = answer["Result"].as_array().cloned().unwrap_or_default();
                if client.json {
                    println!("{}", Value::Array(list));
                } else {
                    list.iter().for_each(print_resource);
                }
            }
            ResourceCommand::Show { target, name } => {
                let path = format!(
                    "{}/{}?output=detail",
                    base(&target.app, &target.function),
                    segment(&name)
                );
                let answer = client.call(Method::GET, &path, None).await?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&answer["Result"]).unwrap_or_default()
                );
            }
            ResourceCommand::Delete { target, name } => {
                let path = format!("{}/{}", base(&target.app, &target.function), segment(&name));
                client.call(Method::DELETE, &path, None).await?;
                println!("deleted resource {name}");
            }
        }
        Ok::<(), Failure>(())
    }
    .await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}
