//! `algocenter instance …` and `algocenter task …`: function instances and their training tasks through a
//! running server, with a progress bar for a running task.
//!
//! Exit codes as for every client command (see [`crate::client`]); `task watch` (and `task start --watch`) also
//! exits 1 when the task ends `failed`.

use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{ClientArgs, FunctionTarget, InstanceCommand, TaskCommand};
use crate::client::{Client, Failure, field, segment};

/// How often a watched task is read.
const POLL: Duration = Duration::from_millis(250);

fn base(target: &FunctionTarget) -> String {
    format!(
        "/v4/openapi/app-groups/{}/functions/{}",
        segment(&target.app),
        segment(&target.function)
    )
}

/// `name=value` pairs as the API's parameter list.
fn parameters(pairs: &[String]) -> Result<Value, Failure> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok(json!({"name": name, "value": value})),
            _ => Err(Failure::Usage(format!(
                "parameters are NAME=VALUE, got '{pair}'"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn print_instance(instance: &Value) {
    println!("name:        {}", field(instance, "InstanceName"));
    println!("function:    {}", field(instance, "FunctionName"));
    println!("model type:  {}", field(instance, "ModelType"));
    println!("status:      {}", field(instance, "Status"));
    println!("cron:        {}", field(instance, "Cron"));
    println!("description: {}", field(instance, "Description"));
    for (title, key) in [
        ("create parameters", "CreateParameters"),
        ("usage parameters", "UsageParameters"),
    ] {
        let list = instance[key].as_array().cloned().unwrap_or_default();
        if !list.is_empty() {
            let text: Vec<String> = list
                .iter()
                .map(|p| format!("{}={}", field(p, "Name"), field(p, "Value")))
                .collect();
            println!("{title}: {}", text.join(", "));
        }
    }
    if let Some(task) = instance.get("Task") {
        println!(
            "last task:   {} at {}",
            field(task, "DagStatus"),
            field(task, "LastRunTime")
        );
    }
    if let Ok(extend) = serde_json::from_str::<Value>(&field(instance, "ExtendInfo")) {
        let pinned = field(&extend, "pinned_generation");
        println!(
            "serving:     generation {}{}",
            field(&extend, "serving_generation"),
            if pinned.is_empty() {
                String::new()
            } else {
                format!(" (pinned to {pinned})")
            }
        );
    }
}

/// Seconds between two epoch-ms fields, when both are set.
fn duration(task: &Value) -> String {
    let (start, end) = (task["StartTime"].as_i64(), task["EndTime"].as_i64());
    match (start, end) {
        (Some(s), Some(e)) if s > 0 && e >= s => format!("{:.1} s", (e - s) as f64 / 1000.0),
        _ => "-".into(),
    }
}

/// The task's metrics: every scalar of its ExtendInfo, one per line.
fn print_metrics(task: &Value) {
    let Ok(Value::Object(info)) = serde_json::from_str::<Value>(&field(task, "ExtendInfo")) else {
        return;
    };
    for (key, value) in &info {
        match value {
            Value::Array(items) if key == "errors" && !items.is_empty() => {
                for e in items {
                    println!("error: {}", e.as_str().unwrap_or_default());
                }
            }
            Value::Number(_) | Value::Bool(_) | Value::String(_) => {
                println!("{key}: {value}");
            }
            _ => {}
        }
    }
}

fn print_task(task: &Value) {
    println!("generation: {}", field(task, "Generation"));
    println!("status:     {}", field(task, "Status"));
    println!("progress:   {}%", field(task, "Progress"));
    println!("step:       {}", field(task, "Step"));
    println!("run id:     {}", field(task, "RunId"));
    println!("duration:   {}", duration(task));
    print_metrics(task);
}

pub async fn instance(args: ClientArgs, command: InstanceCommand) -> ExitCode {
    let client = Client::new(&args);
    let outcome: Result<(), Failure> = match command {
        InstanceCommand::Create {
            target,
            name,
            model_type,
            params,
            usage,
            cron,
            description,
        } => {
            async {
                let mut body = json!({
                    "instanceName": name,
                    "modelType": model_type,
                    "functionType": "PAAS",
                    "createParameters": parameters(&params)?,
                    "usageParameters": parameters(&usage)?,
                });
                if let Some(cron) = cron {
                    body["cron"] = json!(cron);
                }
                if let Some(d) = description {
                    body["description"] = json!(d);
                }
                let path = format!("{}/instances", base(&target));
                let answer = client.call(Method::POST, &path, Some(body)).await?;
                if client.json {
                    println!("{answer}");
                } else {
                    println!("created {} instance {name}", target.function);
                }
                Ok(())
            }
            .await
        }
        InstanceCommand::List { target } => {
            async {
                let path = format!("{}/instances?pageSize=100", base(&target));
                let answer = client.call(Method::GET, &path, None).await?;
                let list = answer["Result"].as_array().cloned().unwrap_or_default();
                if client.json {
                    println!("{}", Value::Array(list));
                    return Ok(());
                }
                println!("{:<32} {:<20} {:<12} CRON", "NAME", "MODEL TYPE", "STATUS");
                for i in &list {
                    println!(
                        "{:<32} {:<20} {:<12} {}",
                        field(i, "InstanceName"),
                        field(i, "ModelType"),
                        field(i, "Status"),
                        field(i, "Cron")
                    );
                }
                Ok(())
            }
            .await
        }
        InstanceCommand::Show { target, name } => {
            async {
                let path = format!(
                    "{}/instances/{}?output=detail",
                    base(&target),
                    segment(&name)
                );
                let answer = client.call(Method::GET, &path, None).await?;
                if client.json {
                    println!("{}", answer["Result"]);
                } else {
                    print_instance(&answer["Result"]);
                }
                Ok(())
            }
            .await
        }
        InstanceCommand::Update {
            target,
            name,
            cron,
            description,
            params,
            usage,
        } => {
            async {
                let mut body = json!({});
                if let Some(cron) = cron {
                    body["cron"] = json!(cron);
                }
                if let Some(d) = description {
                    body["description"] = json!(d);
                }
                if !params.is_empty() {
                    body["createParameters"] = parameters(&params)?;
                }
                if !usage.is_empty() {
                    body["usageParameters"] = parameters(&usage)?;
                }
                let path = format!("{}/instances/{}", base(&target), segment(&name));
                client.call(Method::PUT, &path, Some(body)).await?;
                if !client.json {
                    println!("updated {name}");
                }
                Ok(())
            }
            .await
        }
        InstanceCommand::Pin {
            target,
            name,
            generation,
        } => {
            async {
                let path = format!(
                    "{}/instances/{}/pinned-generation",
                    base(&target),
                    segment(&name)
                );
                let answer = client
                    .call(Method::PUT, &path, Some(json!({"generation": generation})))
                    .await?;
                if client.json {
                    println!("{}", answer["Result"]);
                } else {
                    println!("{name}: generation {generation} pinned; it serves until unpinned");
                }
                Ok(())
            }
            .await
        }
        InstanceCommand::Unpin { target, name } => {
            async {
                let path = format!(
                    "{}/instances/{}/pinned-generation",
                    base(&target),
                    segment(&name)
                );
                let answer = client.call(Method::DELETE, &path, None).await?;
                if client.json {
                    println!("{}", answer["Result"]);
                } else {
                    let extend =
                        serde_json::from_str::<Value>(&field(&answer["Result"], "ExtendInfo"))
                            .unwrap_or_default();
                    println!(
                        "{name}: unpinned; generation {} serves",
                        field(&extend, "serving_generation")
                    );
                }
                Ok(())
            }
            .await
        }
        InstanceCommand::Delete { target, name } => {
            async {
                let path = format!("{}/instances/{}", base(&target), segment(&name));
                client.call(Method::DELETE, &path, None).await?;
                if !client.json {
                    println!("deleted {name}");
                }
                Ok(())
            }
            .await
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}

fn tasks_path(target: &FunctionTarget, instance: &str) -> String {
    format!("{}/instances/{}/tasks", base(target), segment(instance))
}

fn task_path(target: &FunctionTarget, instance: &str, generation: &str) -> String {
    format!("{}/{}", tasks_path(target, instance), segment(generation))
}

/// Follows a task until it ends; answers it and whether it succeeded.
pub(crate) async fn watch(
    client: &Client,
    target: &FunctionTarget,
    instance: &str,
    generation: &str,
) -> Result<(Value, bool), Failure> {
    let path = task_path(target, instance, generation);
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {pos:>3}% {msg} ({elapsed})")
            .map_err(|e| Failure::Transport(e.to_string()))?
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{instance} #{generation}"));
    let task = loop {
        let answer = client.call(Method::GET, &path, None).await?;
        let task = answer["Result"].clone();
        bar.set_position(task["Progress"].as_u64().unwrap_or(0));
        bar.set_message(field(&task, "Step"));
        if field(&task, "Status") != "running" {
            break task;
        }
        tokio::time::sleep(POLL).await;
    };
    let succeeded = field(&task, "Status") == "success";
    bar.finish_with_message(field(&task, "Status"));
    Ok((task, succeeded))
}

/// Prints a finished task and answers the exit code: 0 for success, 1 for failed.
fn report(client: &Client, task: &Value, succeeded: bool) -> ExitCode {
    if client.json {
        println!("{task}");
    } else {
        print_task(task);
    }
    if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub async fn task(args: ClientArgs, command: TaskCommand) -> ExitCode {
    let client = Client::new(&args);
    let outcome: Result<ExitCode, Failure> = match command {
        TaskCommand::Start {
            target,
            instance,
            watch: follow,
        } => {
            async {
                let answer = client
                    .call(Method::POST, &tasks_path(&target, &instance), None)
                    .await?;
                let generation = field(&answer["Result"], "Generation");
                if follow {
                    let (task, ok) = watch(&client, &target, &instance, &generation).await?;
                    return Ok(report(&client, &task, ok));
                }
                if client.json {
                    println!("{}", answer["Result"]);
                } else {
                    println!(
                        "queued generation {generation} of {instance} (run id {})",
                        field(&answer["Result"], "RunId")
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            .await
        }
        TaskCommand::List {
            target,
            instance,
            status,
            page_size,
        } => {
            async {
                let mut path = format!("{}?pageSize={page_size}", tasks_path(&target, &instance));
                if let Some(status) = status {
                    path.push_str(&format!("&status={}", segment(&status)));
                }
                let answer = client.call(Method::GET, &path, None).await?;
                let list = answer["Result"].as_array().cloned().unwrap_or_default();
                if client.json {
                    println!("{}", Value::Array(list));
                    return Ok(ExitCode::SUCCESS);
                }
                println!(
                    "{:<10} {:<8} {:>8} {:>10}  RUN ID",
                    "GENERATION", "STATUS", "PROGRESS", "DURATION"
                );
                for t in &list {
                    println!(
                        "{:<10} {:<8} {:>7}% {:>10}  {}",
                        field(t, "Generation"),
                        field(t, "Status"),
                        field(t, "Progress"),
                        duration(t),
                        field(t, "RunId")
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            .await
        }
        TaskCommand::Show {
            target,
            instance,
            generation,
        } => {
            async {
                let path = task_path(&target, &instance, &generation);
                let answer = client.call(Method::GET, &path, None).await?;
                if client.json {
                    println!("{}", answer["Result"]);
                } else {
                    print_task(&answer["Result"]);
                }
                Ok(ExitCode::SUCCESS)
            }
            .await
        }
        TaskCommand::Cancel {
            target,
            instance,
            generation,
        } => {
            async {
                let path = format!(
                    "{}/actions/cancel",
                    task_path(&target, &instance, &generation)
                );
                let answer = client.call(Method::POST, &path, None).await?;
                if client.json {
                    println!("{}", answer["Result"]);
                } else {
                    println!("cancelled generation {generation} of {instance}");
                }
                Ok(ExitCode::SUCCESS)
            }
            .await
        }
        TaskCommand::Watch {
            target,
            instance,
            generation,
        } => {
            async {
                let generation = match generation {
                    Some(g) => g,
                    None => {
                        let path = format!("{}?pageSize=1", tasks_path(&target, &instance));
                        let answer = client.call(Method::GET, &path, None).await?;
                        let newest = answer["Result"].get(0).ok_or_else(|| {
                            Failure::Api(format!("instance {instance} has no task to watch"))
                        })?;
                        field(newest, "Generation")
                    }
                };
                let (task, ok) = watch(&client, &target, &instance, &generation).await?;
                Ok(report(&client, &task, ok))
            }
            .await
        }
    };
    outcome.unwrap_or_else(Failure::exit)
}
