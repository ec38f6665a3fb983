//! `algocenter push`: bulk import of behaviour, items or users from files through the push API, with a progress
//! bar and a summary. The server validates every record exactly as for any other push.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value, json};

use crate::cli::{ClientArgs, PushArgs};
use crate::client::{Client, Failure, error_text, segment};
use crate::retry::Replay;

/// Refusals printed in full; the rest are only counted.
const SHOWN_REFUSALS: usize = 20;

#[derive(Default)]
struct Summary {
    received: u64,
    stored: u64,
    duplicates: u64,
    refused: u64,
    shown: Vec<String>,
}

impl Summary {
    fn refuse(&mut self, file: &Path, line: usize, what: String) {
        self.refused += 1;
        if self.shown.len() < SHOWN_REFUSALS {
            self.shown
                .push(format!("{}:{line}: {what}", file.display()));
        }
    }
}

/// One record with the line it came from.
type Numbered = (usize, Value);

fn open(path: &Path, bar: &ProgressBar) -> Result<Box<dyn BufRead>, Failure> {
    let raw: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        let file = File::open(path)
            .map_err(|e| Failure::Transport(format!("cannot open {}: {e}", path.display())))?;
        if let Ok(meta) = file.metadata() {
            bar.set_length(meta.len());
        }
        Box::new(bar.wrap_read(file))
    };
    let gzip = path.extension().is_some_and(|e| e == "gz");
    Ok(if gzip {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(raw)))
    } else {
        Box::new(BufReader::new(raw))
    })
}

fn is_csv(path: &Path) -> bool {
    let name = path.to_string_lossy();
    name.trim_end_matches(".gz").ends_with(".csv")
}

/// A JSON Lines line as a push record: `{"cmd","fields"}` as is, a bare object as the fields of an ADD.
fn record_from_json(line: &str) -> Result<Option<Value>, String> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) if map.contains_key("fields") => {
            let mut map = map;
            map.entry("cmd").or_insert_with(|| json!("ADD"));
            Ok(Some(Value::Object(map)))
        }
        Ok(Value::Object(fields)) => Ok(Some(json!({"cmd": "ADD", "fields": fields}))),
        Ok(_) => Err("a line must be a JSON object".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// A CSV row as a push record: empty cells are left out, `cmd` is the command, `context.KEY` cells form the
/// context map.
fn record_from_csv(headers: &csv::StringRecord, row: &csv::StringRecord) -> Value {
    let mut fields = Map::new();
    let mut context = Map::new();
    let mut cmd = "ADD".to_string();
    for (name, value) in headers.iter().zip(row.iter()) {
        if value.is_empty() {
            continue;
        }
        if name == "cmd" {
            cmd = value.to_string();
        } else if let Some(key) = name.strip_prefix("context.") {
            context.insert(key.to_string(), json!(value));
        } else {
            fields.insert(name.to_string(), json!(value));
        }
    }
    if !context.is_empty() {
        fields.insert("context".into(), Value::Object(context));
    }
    json!({"cmd": cmd, "fields": fields})
}

struct Pusher<'a> {
    client: &'a Client,
    path: String,
}

impl Pusher<'_> {
    /// Sends one batch and folds the answer into the summary.
    async fn send(
        &self,
        file: &Path,
        batch: &mut Vec<Numbered>,
        summary: &mut Summary,
        bar: &ProgressBar,
    ) -> Result<(), Failure> {
        if batch.is_empty() {
            return Ok(());
        }
        let body = Value::Array(batch.iter().map(|(_, r)| r.clone()).collect())
            .to_string()
            .into_bytes();
        let first_line = batch.first().map_or(0, |(line, _)| *line);
        // A push can be replayed: the server skips the events it already stored. Batches go one at a time, so a
        // retried batch is the first one not acknowledged and the push resumes there.
        let notice = |why: &str| {
            let line = format!(
                "{}: the batch from line {first_line} was not acknowledged ({why})",
                file.display()
            );
            // A hidden bar (no terminal: scripts, CI logs) prints nothing, and these lines must reach the log.
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        };
        let (status, answer) = self
            .client
            .send_with(
                reqwest::Method::POST,
                &self.path,
                Some(body),
                Replay::Safe,
                &notice,
            )
            .await?;
        // 200: all or part stored; 400 with per-record errors: nothing in this batch was valid.
        let per_record = answer
            .get("errors")
            .and_then(Value::as_array)
            .is_some_and(|e| e.iter().all(|x| x.get("index").is_some()));
        if status >= 400 && !(status == 400 && per_record && answer.get("received").is_some()) {
            return Err(Failure::Api(error_text(status, &answer)));
        }
        let count = |k: &str| answer.get(k).and_then(Value::as_u64).unwrap_or(0);
        summary.received += count("received");
        summary.stored += count("stored");
        summary.duplicates += count("duplicates");
        for error in answer
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = error.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            let line = batch.get(index).map_or(0, |(line, _)| *line);
            let what = format!(
                "{}: {}",
                error.get("field").and_then(Value::as_str).unwrap_or(""),
                error.get("message").and_then(Value::as_str).unwrap_or("")
            );
            summary.refuse(file, line, what);
        }
        batch.clear();
        Ok(())
    }
}

async fn push_file(
    pusher: &Pusher<'_>,
    file: &Path,
    batch_size: usize,
    summary: &mut Summary,
) -> Result<(), Failure> {
    let bar = if file == Path::new("-") {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(file.display().to_string());
    let reader = open(file, &bar)?;
    let mut batch: Vec<Numbered> = Vec::with_capacity(batch_size);
    if is_csv(file) {
        let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let headers = csv
            .headers()
            .map_err(|e| Failure::Transport(format!("{}: bad CSV header: {e}", file.display())))?
            .clone();
        for (i, row) in csv.records().enumerate() {
            let line = i + 2;
            match row {
                Ok(row) => batch.push((line, record_from_csv(&headers, &row))),
                Err(e) => summary.refuse(file, line, format!("unreadable CSV row: {e}")),
            }
            if batch.len() == batch_size {
                pusher.send(file, &mut batch, summary, &bar).await?;
            }
        }
    } else {
        for (i, line) in reader.lines().enumerate() {
            let number = i + 1;
            let line =
                line.map_err(|e| Failure::Transport(format!("{}:{number}: {e}", file.display())))?;
            match record_from_json(&line) {
                Ok(Some(record)) => batch.push((number, record)),
                Ok(None) => {}
                Err(why) => summary.refuse(file, number, why),
            }
            if batch.len() == batch_size {
                pusher.send(file, &mut batch, summary, &bar).await?;
            }
        }
    }
    pusher.send(file, &mut batch, summary, &bar).await?;
    bar.finish_and_clear();
    Ok(())
}

pub async fn run(client_args: ClientArgs, args: PushArgs) -> ExitCode {
    let client = Client::new(&client_args);
    let collection = args.collection.clone().unwrap_or_else(|| args.app.clone());
    let pusher = Pusher {
        client: &client,
        path: format!(
            "/v3/openapi/app-groups/{}/data-collections/{}/data-collection-type/{}/actions/bulk",
            segment(&args.app),
            segment(&collection),
            segment(&args.kind)
        ),
    };
    let mut summary = Summary::default();
    let started = std::time::Instant::now();
    for file in &args.files {
        if let Err(failure) = push_file(&pusher, file, args.batch as usize, &mut summary).await {
            print_summary(&client, &summary, started.elapsed().as_secs_f64());
            return failure.exit();
        }
    }
    print_summary(&client, &summary, started.elapsed().as_secs_f64());
    if summary.refused > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_summary(client: &Client, s: &Summary, seconds: f64) {
    if client.json {
        let body = json!({"received": s.received, "stored": s.stored, "duplicates": s.duplicates, "refused": s.refused, "refusals": s.shown});
        println!("{body}");
        return;
    }
    for line in &s.shown {
        eprintln!("refused {line}");
    }
    if s.refused as usize > s.shown.len() {
        eprintln!(
            "… and {} more refused records",
            s.refused as usize - s.shown.len()
        );
    }
    let rate = if seconds > 0.0 {
        s.stored as f64 / seconds
    } else {
        0.0
    };
    println!(
        "stored {} records, {} duplicates skipped, {} refused ({:.1} s, {:.0} records/s)",
        s.stored, s.duplicates, s.refused, seconds, rate
    );
}
