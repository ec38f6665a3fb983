//! The data-collection push (`.../data-collection-type/{type}/actions/bulk`): a JSON array of
//! `{"cmd": "ADD"|"UPDATE"|"DELETE", "fields": {...}}` records, validated one by one.
//!
//! Policy: **the good records of a request are stored, the bad ones are reported** with their index, field and
//! reason. Behaviour events only take `ADD` (an event is a fact, not a document).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::behaviour::{BehaviourEvent, FieldError, parse_behaviour};
use crate::document::{Cmd, DocumentKind, DocumentOp, parse_document};
use crate::error::{Error, Result};

/// Most records in one push request.
pub const MAX_RECORDS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectionType {
    Behavior,
    ItemInfo,
    User,
}

impl CollectionType {
    /// Case-insensitive, as in the docs' `BEHAVIOR` and the sample URL's `behavior`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "behavior" | "behaviour" => Ok(CollectionType::Behavior),
            "item_info" => Ok(CollectionType::ItemInfo),
            "user" => Ok(CollectionType::User),
            "industry_specific" => Err(Error::invalid(
                "data-collection-type INDUSTRY_SPECIFIC is not supported.",
            )),
            _ => Err(Error::invalid(format_args!(
                "data-collection-type '{s}' is invalid; valid: behavior, item_info, user."
            ))),
        }
    }
}

/// A push record line: `{"cmd": "ADD", "fields": {...}}`.
pub fn add_record(fields: Map<String, Value>) -> Value {
    serde_json::json!({"cmd": "ADD", "fields": fields})
}

/// A refused record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    pub index: usize,
    pub field: String,
    pub message: String,
}

/// The accepted records of one request, in request order.
#[derive(Debug, Default)]
pub struct Push {
    pub events: Vec<BehaviourEvent>,
    pub documents: Vec<DocumentOp>,
    pub errors: Vec<RecordError>,
}

#[derive(Deserialize)]
struct Record {
    cmd: Option<Value>,
    fields: Option<Value>,
}

/// Parses a push body. Request-level problems (not a JSON array, too many records) are errors; record-level ones
/// land in [`Push::errors`].
pub fn parse_push(kind: CollectionType, body: &[u8], now_ms: i64, oldest_ms: i64) -> Result<Push> {
    let records: Vec<Value> = serde_json::from_slice(body).map_err(|e| {
        Error::invalid(format_args!(
            "the body must be a JSON array of {{\"cmd\", \"fields\"}} records: {e}."
        ))
    })?;
    if records.len() > MAX_RECORDS {
        return Err(Error::invalid(format_args!(
            "{} records in one request; at most {MAX_RECORDS} are accepted.",
            records.len()
        )));
    }
    let mut push = Push::default();
    for (index, record) in records.into_iter().enumerate() {
        let refuse = |e: FieldError| RecordError {
            index,
            field: e.field,
            message: e.message,
        };
        match parse_record(kind, record, now_ms, oldest_ms) {
            Ok(Parsed::Event(e)) => push.events.push(*e),
            Ok(Parsed::Document(d)) => push.documents.push(d),
            Err(e) => push.errors.push(refuse(e)),
        }
    }
    Ok(push)
}

enum Parsed {
    Event(Box<BehaviourEvent>),
    Document(DocumentOp),
}

fn parse_record(
    kind: CollectionType,
    record: Value,
    now_ms: i64,
    oldest_ms: i64,
) -> Result<Parsed, FieldError> {
    let record: Record = serde_json::from_value(record)
        .map_err(|_| FieldError::new("record", "must be an object {cmd, fields}"))?;
    let cmd = Cmd::parse(record.cmd.as_ref())?;
    let fields: Map<String, Value> = match record.fields {
        Some(Value::Object(map)) => map,
        _ => return Err(FieldError::new("fields", "must be an object")),
    };
    match kind {
        CollectionType::Behavior if cmd != Cmd::Add => Err(FieldError::new(
            "cmd",
            "behaviour events are immutable: only ADD is accepted",
        )),
        CollectionType::Behavior => {
            parse_behaviour(&fields, now_ms, oldest_ms).map(|e| Parsed::Event(Box::new(e)))
        }
        CollectionType::ItemInfo => {
            parse_document(DocumentKind::Item, cmd, &fields).map(Parsed::Document)
        }
        CollectionType::User => {
            parse_document(DocumentKind::User, cmd, &fields).map(Parsed::Document)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000_000;

    #[test]
    fn good_records_are_kept_and_bad_ones_reported_with_their_index() {
        let body = br#"[
            {"cmd":"ADD","fields":{"user_id":"u","biz_id":"1","trace_id":"t","rn":"r","item_id":"i","item_type":"item","bhv_type":"click","bhv_time":1789999999,"reach_time":1789999999}},
            {"cmd":"ADD","fields":{"user_id":"u"}},
            {"cmd":"DELETE","fields":{"user_id":"u"}},
            "nonsense",
            {"cmd":"ADD"}
        ]"#;
        let push = parse_push(CollectionType::Behavior, body, NOW, 0).unwrap();
        assert_eq!(push.events.len(), 1);
        let summary: Vec<_> = push
            .errors
            .iter()
            .map(|e| (e.index, e.field.as_str()))
            .collect();
        assert_eq!(
            summary,
            [(1, "bhv_type"), (2, "cmd"), (3, "record"), (4, "fields")]
        );
    }

    #[test]
    fn request_level_problems_are_errors() {
        assert!(parse_push(CollectionType::User, b"{\"cmd\":\"ADD\"}", NOW, 0).is_err());
        assert!(parse_push(CollectionType::User, b"[", NOW, 0).is_err());
        let many = format!("[{}]", vec!["{}"; MAX_RECORDS + 1].join(","));
        assert!(parse_push(CollectionType::User, many.as_bytes(), NOW, 0).is_err());
        assert_eq!(
            CollectionType::parse("BEHAVIOR").unwrap(),
            CollectionType::Behavior
        );
        assert!(CollectionType::parse("INDUSTRY_SPECIFIC").is_err());
    }

    #[test]
    fn documents_take_all_three_commands() {
        let body = br#"[{"cmd":"add","fields":{"item_id":"1","title":"t"}},{"cmd":"UPDATE","fields":{"item_id":"1","price":3}},{"cmd":"DELETE","fields":{"item_id":"2"}}]"#;
        let push = parse_push(CollectionType::ItemInfo, body, NOW, 0).unwrap();
        assert!(push.errors.is_empty());
        assert!(matches!(
            push.documents[..],
            [
                DocumentOp::Add(_),
                DocumentOp::Update(_),
                DocumentOp::Delete(_)
            ]
        ));
    }
}
