//! `algocenter key create|list|revoke`: access keys through a running server (admin scope).

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli::{ClientArgs, KeyCommand};
use crate::client::{Client, field, segment};

fn apps(key: &Value) -> String {
    let apps: Vec<String> = key["Apps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    if apps.is_empty() {
        "(all)".into()
    } else {
        apps.join(",")
    }
}

pub async fn run(client_args: ClientArgs, command: KeyCommand) -> ExitCode {
    let client = Client::new(&client_args);
    let outcome = match command {
        KeyCommand::Create {
            scope,
            apps: app_list,
            description,
        } => {
            let body = json!({"scope": scope, "apps": app_list, "description": description});
            client
                .call(reqwest::Method::POST, "/v4/openapi/access-keys", Some(body))
                .await
                .map(|answer| {
                    let key = &answer["Result"];
                    if client.json {
                        println!("{key}");
                    } else {
                        println!("AccessKeyId:     {}", field(key, "AccessKeyId"));
                        println!("AccessKeySecret: {}", field(key, "AccessKeySecret"));
                        println!(
                            "scope {}, app groups {}. Keep the secret now: it is not shown again.",
                            field(key, "Scope"),
                            apps(key)
                        );
                    }
                })
        }
        KeyCommand::List => client
            .call(reqwest::Method::GET, "/v4/openapi/access-keys", None)
            .await
            .map(|answer| {
                let keys = answer["Result"].as_array().cloned().unwrap_or_default();
                if client.json {
                    println!("{}", Value::Array(keys));
                    return;
                }
                println!(
                    "{:<24} {:<6} {:<8} {:<24} DESCRIPTION",
                    "ID", "SCOPE", "STATUS", "APP GROUPS"
                );
                for key in &keys {
                    println!(
                        "{:<24} {:<6} {:<8} {:<24} {}",
                        field(key, "AccessKeyId"),
                        field(key, "Scope"),
                        field(key, "Status"),
                        apps(key),
                        field(key, "Description")
                    );
                }
            }),
        KeyCommand::Revoke { id } => {
            let path = format!("/v4/openapi/access-keys/{}", segment(&id));
            client
                .call(reqwest::Method::DELETE, &path, None)
                .await
                .map(|_| println!("revoked access key {id}"))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}
