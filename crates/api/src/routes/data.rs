//! The data-collection push (spec §8.1, v3 data plane) and the data status (extension).

use algocenter_domain::Error;
use algocenter_domain::data::{DAY_MS, readiness};
use algocenter_domain::document::DocumentKind;
use algocenter_domain::push::{CollectionType, add_record, parse_push};
use algocenter_domain::{Function, now_ms};
use serde_json::{Map, Value, json};

use super::AppState;
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::extract::{PushBody, Query, Segments};

fn check_collection_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError(Error::invalid(format_args!(
            "data collection name '{name}' must be 1-64 letters, digits, '_' or '-'."
        ))))
    }
}

/// `POST /v3/openapi/app-groups/{app}/data-collections/{collection}/data-collection-type/{type}/actions/bulk`.
///
/// Every record is validated; the good ones are stored (durably, before the answer) and the bad ones listed in
/// `errors` with their index, field and reason. All collections of an app group feed the same data set.
/// A push may always be sent again (stored events are skipped, documents are set to the same values): a commit
/// whose outcome is unknown is then a passing outage the client retries, not an error to investigate.
fn repeatable(e: Error) -> Error {
    match e {
        Error::CommitUnknown(why) => Error::Unavailable(format!(
            "the database connection was lost while committing ({why}); sending the same records again is safe"
        )),
        other => other,
    }
}

pub async fn bulk(
    state: AppState,
    Segments((app, collection, kind)): Segments<(String, String, String)>,
    PushBody(body): PushBody,
) -> ApiResult {
    check_collection_name(&collection)?;
    let kind = CollectionType::parse(&kind)?;
    // Refuse an unknown app group before parsing a large body.
    state.store().app_group(&app).await?;
    let now = now_ms();
    let oldest = now - i64::from(state.services.event_retention_days()) * DAY_MS;
    // Parsing 16 MiB of JSON takes tens of milliseconds: keep it off the async workers.
    let push = tokio::task::spawn_blocking(move || parse_push(kind, &body, now, oldest))
        .await
        .map_err(|e| Error::internal(format_args!("push parser failed: {e}")))??;

    let received = push.events.len() + push.documents.len() + push.errors.len();
    let (stored, duplicates) = match kind {
        CollectionType::Behavior if !push.events.is_empty() => {
            let outcome = state
                .store()
                .append_events(&app, push.events)
                .await
                .map_err(repeatable)?;
            (outcome.stored, outcome.duplicates)
        }
        CollectionType::Behavior => (0, 0),
        CollectionType::ItemInfo | CollectionType::User if !push.documents.is_empty() => {
            let document_kind = if kind == CollectionType::ItemInfo {
                DocumentKind::Item
            } else {
                DocumentKind::User
            };
            (
                state
                    .store()
                    .apply_documents(&app, document_kind, push.documents, now)
                    .await
                    .map_err(repeatable)?,
                0,
            )
        }
        _ => (0, 0),
    };

    state
        .metrics
        .pushed(stored as u64, duplicates as u64, push.errors.len() as u64);
    let errors: Vec<Value> = push
        .errors
        .iter()
        .map(|e| json!({"index": e.index, "field": e.field, "code": "InvalidParameter", "message": e.message}))
        .collect();
    let all_good = errors.is_empty();
    let mut reply = Map::new();
    reply.insert("status".into(), json!(if all_good { "OK" } else { "FAIL" }));
    if all_good {
        reply.insert("result".into(), json!(true));
    }
    reply.insert("errors".into(), Value::Array(errors));
    // Extensions: what happened to the records.
    reply.insert("received".into(), json!(received));
    reply.insert("stored".into(), json!(stored));
    reply.insert("duplicates".into(), json!(duplicates));
    // Nothing at all was accepted: a client error. Partly accepted: 200, the refused records are in `errors`.
    let status = if !all_good && stored + duplicates == 0 {
        400
    } else {
        200
    };
    Ok(Reply::Data {
        status,
        body: reply,
    })
}

/// Extension: `GET /v4/openapi/app-groups/{app}/data-status?days=N` — events per day and behaviour type over the
/// last N days (default 30), distinct users, items and queries, document counts, and whether each function has
/// enough data to train.
pub async fn status(state: AppState, Segments(app): Segments<String>, query: Query) -> ApiResult {
    let days = match query.non_empty("days") {
        None => 30,
        Some(raw) => raw
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| {
                ApiError(Error::invalid(format_args!(
                    "days must be an integer in [1, 365], got '{raw}'."
                )))
            })?,
    };
    let to = now_ms();
    let status = state
        .store()
        .data_status(&app, to - days * DAY_MS, to)
        .await?;
    let readiness: Vec<Value> = Function::ALL
        .iter()
        .map(|f| json!(readiness(*f, &status.totals)))
        .collect();
    let mut result = serde_json::to_value(&status).map_err(Error::internal)?;
    if let Value::Object(map) = &mut result {
        map.insert("window_days".into(), json!(days));
        map.insert("readiness".into(), Value::Array(readiness));
    }
    Ok(Reply::result(result))
}

/// A tokio channel as a body stream (the export producer runs on a blocking thread).
struct Chunks(tokio::sync::mpsc::Receiver<Result<axum::body::Bytes, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<axum::body::Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Bytes buffered before a chunk is handed to the response.
const EXPORT_CHUNK: usize = 64 * 1024;

/// Extension: `GET /v3/openapi/app-groups/{app}/data-collections/{c}/data-collection-type/{type}/actions/export`
/// streams the stored records as JSON Lines of push records (`{"cmd":"ADD","fields":{...}}`), which the push API
/// and `algocenter push` take back unchanged. Behaviour can be limited to `from`/`to` (epoch ms, `to` exclusive).
/// A failure half way ends the stream abnormally, so that a client never mistakes a cut file for a whole one.
pub async fn export(
    state: AppState,
    Segments((app, collection, kind)): Segments<(String, String, String)>,
    query: Query,
) -> Result<axum::response::Response, ApiError> {
    check_collection_name(&collection)?;
    let kind = CollectionType::parse(&kind)?;
    state.store().app_group(&app).await?;
    let from = query.millis("from")?.unwrap_or(i64::MIN);
    let to = query.millis("to")?.unwrap_or(i64::MAX);
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let store = std::sync::Arc::clone(state.store());
    tokio::task::spawn_blocking(move || {
        let mut buffer: Vec<u8> = Vec::with_capacity(EXPORT_CHUNK + 4096);
        let produced = (|| -> algocenter_domain::Result<()> {
            let data = store.training_data(&app)?;
            let mut write = |record: Value| -> algocenter_domain::Result<()> {
                serde_json::to_writer(&mut buffer, &record).map_err(Error::internal)?;
                buffer.push(b'\n');
                if buffer.len() >= EXPORT_CHUNK {
                    let chunk = axum::body::Bytes::from(std::mem::take(&mut buffer));
                    tx.blocking_send(Ok(chunk))
                        .map_err(|_| Error::internal("the client went away"))?;
                }
                Ok(())
            };
            match kind {
                CollectionType::Behavior => {
                    data.for_each_event(from, to, &mut |e| write(add_record(e.to_fields())))
                }
                CollectionType::ItemInfo => data.for_each_document(DocumentKind::Item, &mut |d| {
                    write(add_record(d.to_fields(DocumentKind::Item)))
                }),
                CollectionType::User => data.for_each_document(DocumentKind::User, &mut |d| {
                    write(add_record(d.to_fields(DocumentKind::User)))
                }),
            }
        })();
        let last = match produced {
            Ok(()) if buffer.is_empty() => return,
            Ok(()) => Ok(axum::body::Bytes::from(buffer)),
            Err(e) => {
                tracing::error!(error = %e, "export failed");
                Err(std::io::Error::other(e.to_string()))
            }
        };
        let _ = tx.blocking_send(last);
    });
    let mut response = axum::response::Response::new(axum::body::Body::from_stream(Chunks(rx)));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}
