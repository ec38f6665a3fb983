//! `algocenter data status`.

use std::process::ExitCode;

use serde_json::Value;

use crate::cli::{ClientArgs, DataCommand};
use crate::client::{Client, field, segment};

pub async fn run(client_args: ClientArgs, command: DataCommand) -> ExitCode {
    let client = Client::new(&client_args);
    let DataCommand::Status { app, days } = command;
    let path = format!(
        "/v4/openapi/app-groups/{}/data-status?days={days}",
        segment(&app)
    );
    match client.call(reqwest::Method::GET, &path, None).await {
        Ok(answer) => {
            let status = answer.get("Result").cloned().unwrap_or(Value::Null);
            if client.json {
                println!("{status}");
            } else {
                print_status(&status);
            }
            ExitCode::SUCCESS
        }
        Err(failure) => failure.exit(),
    }
}

fn print_status(s: &Value) {
    let totals = &s["totals"];
    println!(
        "last {} days: {} searches, {} exposures, {} clicks, {} engagements",
        field(s, "window_days"),
        field(totals, "searches"),
        field(totals, "exposures"),
        field(totals, "clicks"),
        field(totals, "engagements")
    );
    println!(
        "distinct (estimated): {} users, {} items, {} queries; stored documents: {} items, {} users",
        field(s, "distinct_users"),
        field(totals, "distinct_items"),
        field(s, "distinct_queries"),
        field(s, "items"),
        field(s, "users")
    );
    println!("\n{:<12} EVENTS BY TYPE", "DAY");
    for day in s["days"].as_array().into_iter().flatten() {
        let events: Vec<String> = day["events"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("{:<12} {}", field(day, "day"), events.join(" "));
    }
    println!("\n{:<10} {:<6} REASON", "FUNCTION", "READY");
    for r in s["readiness"].as_array().into_iter().flatten() {
        let ready = if r["ready"].as_bool().unwrap_or(false) {
            "yes"
        } else {
            "no"
        };
        println!(
            "{:<10} {:<6} {}",
            field(r, "function"),
            ready,
            field(r, "reason")
        );
    }
}
