//! `algocenter predict`: asks a trained instance (or the function's default instance) through the serving
//! endpoint and prints the answer as a table (`--json` for the raw result).

use std::process::ExitCode;

use algocenter_domain::Function;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::cli::{ClientArgs, PredictArgs};
use crate::client::{Client, Failure, field, segment};

/// The request body of `function`'s predict endpoint from the command line.
fn body(function: Function, args: &PredictArgs) -> Result<Value, Failure> {
    let mut body = Map::new();
    let need = |what: &str, present: bool| {
        if present {
            Ok(())
        } else {
            Err(Failure::Usage(format!(
                "{} needs {what}",
                function.as_str()
            )))
        }
    };
    match function {
        Function::Ctr | Function::Pop => {
            need("--items a,b,c", !args.items.is_empty())?;
            body.insert("items".into(), json!(args.items));
            if function == Function::Ctr {
                if let Some(query) = &args.query {
                    body.insert("query".into(), json!(query));
                }
                if let Some(user) = &args.user {
                    body.insert("userId".into(), json!(user));
                }
                let mut context = Map::new();
                for pair in &args.context {
                    let (name, value) = pair
                        .split_once('=')
                        .filter(|(name, _)| !name.is_empty())
                        .ok_or_else(|| {
                        Failure::Usage(format!("--context is NAME=VALUE, got '{pair}'"))
                    })?;
                    context.insert(name.into(), json!(value));
                }
                if !context.is_empty() {
                    body.insert("context".into(), Value::Object(context));
                }
            }
        }
        Function::Hot | Function::Hint => {
            if let Some(user) = &args.user {
                body.insert("userId".into(), json!(user));
            }
            if let Some(hit) = args.hit {
                body.insert("hit".into(), json!(hit));
            }
        }
        Function::Suggest => {
            need("--query PREFIX", args.query.is_some())?;
            body.insert("query".into(), json!(args.query));
            if let Some(hit) = args.hit {
                body.insert("hit".into(), json!(hit));
            }
        }
        Function::Analyzer => {
            need("--text TEXT (repeat for several)", !args.texts.is_empty())?;
            body.insert("texts".into(), json!(args.texts));
        }
        Function::Termweight => {
            need("--text QUERY (repeat for several)", !args.texts.is_empty())?;
            body.insert("queries".into(), json!(args.texts));
        }
        Function::Category => {
            need("--text QUERY (repeat for several)", !args.texts.is_empty())?;
            body.insert("queries".into(), json!(args.texts));
            if let Some(hit) = args.hit {
                body.insert("topK".into(), json!(hit));
            }
        }
    }
    Ok(Value::Object(body))
}

fn print(function: Function, result: &Value) {
    let list = |key: &str| result[key].as_array().cloned().unwrap_or_default();
    println!(
        "instance {} generation {}",
        field(result, "InstanceName"),
        field(result, "Generation")
    );
    match function {
        Function::Ctr | Function::Pop => {
            println!("{:<5} {:<24} {:>8}", "RANK", "ITEM", "SCORE");
            // ctr answers the items reranked, pop their scores in the order asked: both best first here.
            let mut items = list(if function == Function::Ctr {
                "Items"
            } else {
                "Scores"
            });
            items.sort_by(|a, b| {
                let score = |v: &Value| v["Score"].as_f64().unwrap_or(0.0);
                score(b).total_cmp(&score(a))
            });
            for (rank, item) in items.iter().enumerate() {
                let known = if item["Known"] == json!(false) {
                    "  (unknown item)"
                } else {
                    ""
                };
                println!(
                    "{:<5} {:<24} {:>8.4}{known}",
                    rank + 1,
                    field(item, "ItemId"),
                    item["Score"].as_f64().unwrap_or(0.0)
                );
            }
        }
        Function::Hot | Function::Hint => {
            println!("{:<32} {:>8}  TAGS", "QUERY", "PV");
            for q in list("Queries") {
                println!(
                    "{:<32} {:>8}  {}",
                    field(&q, "Query"),
                    field(&q, "Pv"),
                    field(&q, "Tags")
                );
            }
        }
        Function::Suggest => {
            for s in list("Suggestions") {
                println!("{}", s.as_str().unwrap_or_default());
            }
        }
        Function::Category => {
            for p in list("Predictions") {
                let categories: Vec<String> = p["Categories"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        format!(
                            "{} ({:.2})",
                            field(c, "Category"),
                            c["Score"].as_f64().unwrap_or(0.0)
                        )
                    })
                    .collect();
                println!(
                    "{} → {}  [{}]",
                    field(&p, "Query"),
                    categories.join(", "),
                    field(&p, "Source")
                );
            }
        }
        Function::Analyzer => {
            for tokens in list("Tokens") {
                let shown: Vec<String> = tokens
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| match t["Entity"].as_str() {
                        Some(entity) => format!("{}[{entity}]", field(t, "Token")),
                        None => field(t, "Token"),
                    })
                    .collect();
                println!("{}", shown.join(" | "));
            }
        }
        Function::Termweight => {
            for q in list("Queries") {
                let shown: Vec<String> = q["Terms"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        format!(
                            "{} {:.2} {}",
                            field(t, "Token"),
                            t["Weight"].as_f64().unwrap_or(0.0),
                            field(t, "Level")
                        )
                    })
                    .collect();
                println!("{} → {}", field(&q, "Query"), shown.join(", "));
            }
        }
    }
}

pub async fn run(args: ClientArgs, predict: PredictArgs) -> ExitCode {
    let client = Client::new(&args);
    let outcome = async {
        let function: Function = predict
            .target
            .function
            .parse()
            .map_err(|e: algocenter_domain::Error| Failure::Usage(e.to_string()))?;
        let body = body(function, &predict)?;
        let app = segment(&predict.target.app);
        let path = match &predict.instance {
            Some(instance) => format!(
                "/v4/openapi/app-groups/{app}/functions/{}/instances/{}/predict",
                function.as_str(),
                segment(instance)
            ),
            None => format!(
                "/v4/openapi/app-groups/{app}/functions/{}/predict",
                function.as_str()
            ),
        };
        let answer = client.call(Method::POST, &path, Some(body)).await?;
        if client.json {
            println!("{}", answer["Result"]);
        } else {
            print(function, &answer["Result"]);
        }
        Ok::<(), Failure>(())
    };
    match outcome.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}
