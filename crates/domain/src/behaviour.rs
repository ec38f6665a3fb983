//! Behaviour events: what users did, as pushed to an app group's behaviour data collection (spec §8.2), with
//! algocenter's documented extensions (`search` events with `raw_query` and `hits`, `position` on exposures and
//! clicks, a `context` string map).

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest id-like field (`user_id`, `item_id`, `rn`, …) and `raw_query`, in bytes.
pub const MAX_FIELD_LEN: usize = 1024;
/// Longest value of a field algocenter keeps without interpreting (`bhv_value`, `trace_info`, …).
pub const MAX_EXTRA_LEN: usize = 4096;
/// Most entries of `context`, and of fields kept without interpretation.
pub const MAX_MAP_ENTRIES: usize = 32;
/// Events may be stamped at most this far in the future (clock skew between clients and server).
pub const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;

/// The behaviour type of searches (algocenter extension): such events carry `raw_query` and no item.
pub const SEARCH: &str = "search";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BehaviourEvent {
    pub user_id: String,
    pub imei: String,
    pub biz_id: String,
    pub trace_id: String,
    /// The search page view this event belongs to (echo of the search response's request id).
    pub rn: String,
    pub item_id: String,
    pub item_type: String,
    pub bhv_type: String,
    pub bhv_time_ms: i64,
    pub reach_time_ms: i64,
    /// `search` events: what the user typed.
    pub raw_query: String,
    /// `search` events: how many results the search returned.
    pub hits: Option<u32>,
    /// 1-based rank of the item in the result list (exposures, clicks).
    pub position: Option<u32>,
    /// Extra context features (`context` object of strings).
    pub context: Vec<(String, String)>,
    /// Every other field as sent (`trace_info`, `bhv_value`, `sdk_type`, …), values as text.
    pub extra: Vec<(String, String)>,
}

/// A behaviour event borrowed from the bytes it was decoded from, for readers that look at a few fields of many
/// events (the live tail): nothing is allocated per event except for a non-empty `context` or `extra`. Field for
/// field the layout of [`BehaviourEvent`], so that the stored encoding of one decodes as the other (a store test
/// checks it).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct EventView<'a> {
    pub user_id: &'a str,
    pub imei: &'a str,
    pub biz_id: &'a str,
    pub trace_id: &'a str,
    pub rn: &'a str,
    pub item_id: &'a str,
    pub item_type: &'a str,
    pub bhv_type: &'a str,
    pub bhv_time_ms: i64,
    pub reach_time_ms: i64,
    pub raw_query: &'a str,
    pub hits: Option<u32>,
    pub position: Option<u32>,
    #[serde(borrow)]
    pub context: Vec<(&'a str, &'a str)>,
    #[serde(borrow)]
    pub extra: Vec<(&'a str, &'a str)>,
}

impl<'a> EventView<'a> {
    /// Who did it: `user_id`, else the device id.
    pub fn user(&self) -> &'a str {
        if self.user_id.is_empty() {
            self.imei
        } else {
            self.user_id
        }
    }

    /// The view of an event held in memory.
    pub fn of(e: &'a BehaviourEvent) -> EventView<'a> {
        let pairs =
            |m: &'a [(String, String)]| m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        EventView {
            user_id: &e.user_id,
            imei: &e.imei,
            biz_id: &e.biz_id,
            trace_id: &e.trace_id,
            rn: &e.rn,
            item_id: &e.item_id,
            item_type: &e.item_type,
            bhv_type: &e.bhv_type,
            bhv_time_ms: e.bhv_time_ms,
            reach_time_ms: e.reach_time_ms,
            raw_query: &e.raw_query,
            hits: e.hits,
            position: e.position,
            context: pairs(&e.context),
            extra: pairs(&e.extra),
        }
    }

    /// The event, owned.
    pub fn to_event(&self) -> BehaviourEvent {
        let pairs = |m: &[(&str, &str)]| {
            m.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        BehaviourEvent {
            user_id: self.user_id.into(),
            imei: self.imei.into(),
            biz_id: self.biz_id.into(),
            trace_id: self.trace_id.into(),
            rn: self.rn.into(),
            item_id: self.item_id.into(),
            item_type: self.item_type.into(),
            bhv_type: self.bhv_type.into(),
            bhv_time_ms: self.bhv_time_ms,
            reach_time_ms: self.reach_time_ms,
            raw_query: self.raw_query.into(),
            hits: self.hits,
            position: self.position,
            context: pairs(&self.context),
            extra: pairs(&self.extra),
        }
    }
}

impl BehaviourEvent {
    /// Who did it: `user_id`, else the device id.
    pub fn user(&self) -> &str {
        if self.user_id.is_empty() {
            &self.imei
        } else {
            &self.user_id
        }
    }

    /// The event as push-record `fields`, in the form [`parse_behaviour`] reads back to the same event (times in
    /// epoch milliseconds). Used by export and by the generator.
    pub fn to_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        let mut text = |name: &str, value: &str| {
            if !value.is_empty() {
                fields.insert(name.into(), Value::from(value));
            }
        };
        text("user_id", &self.user_id);
        text("imei", &self.imei);
        text("biz_id", &self.biz_id);
        text("trace_id", &self.trace_id);
        text("rn", &self.rn);
        text("item_id", &self.item_id);
        text("item_type", &self.item_type);
        text("bhv_type", &self.bhv_type);
        text("raw_query", &self.raw_query);
        fields.insert("bhv_time".into(), Value::from(self.bhv_time_ms));
        fields.insert("reach_time".into(), Value::from(self.reach_time_ms));
        if let Some(hits) = self.hits {
            fields.insert("hits".into(), Value::from(hits));
        }
        if let Some(position) = self.position {
            fields.insert("position".into(), Value::from(position));
        }
        if !self.context.is_empty() {
            let context = self
                .context
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            fields.insert("context".into(), Value::Object(context));
        }
        for (name, value) in &self.extra {
            fields.insert(name.clone(), Value::from(value.as_str()));
        }
        fields
    }

    pub fn is_search(&self) -> bool {
        self.bhv_type == SEARCH
    }

    /// Identity for de-duplication: the same user, `rn`, item, behaviour type and time is one event.
    pub fn dedup_key(&self) -> u64 {
        let mut buf = Vec::with_capacity(64);
        for part in [self.user(), &self.rn, &self.item_id, &self.bhv_type] {
            buf.extend_from_slice(part.as_bytes());
            buf.push(0);
        }
        buf.extend_from_slice(&self.bhv_time_ms.to_le_bytes());
        xxhash_rust::xxh3::xxh3_64(&buf)
    }
}

/// Why one record was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Text of a string or integer field (ids are sent either way, e.g. `biz_id: 123`).
pub fn text(field: &str, value: &Value, max: usize) -> Result<String, FieldError> {
    let s = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(FieldError::new(field, "must be a string or a number")),
    };
    if s.len() > max {
        return Err(FieldError::new(
            field,
            format!("is longer than {max} bytes"),
        ));
    }
    Ok(s)
}

/// Parses `bhv_time` / `reach_time`: Unix seconds or milliseconds (number or digits), `yyyyMMddHHmmss` (UTC), or
/// RFC 3339. Returns epoch milliseconds.
pub fn parse_time(field: &str, value: &Value) -> Result<i64, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            "must be Unix seconds or milliseconds, yyyyMMddHHmmss (UTC) or an RFC 3339 time",
        )
    };
    let from_number = |n: f64| -> Result<i64, FieldError> {
        if !n.is_finite() || n < 0.0 {
            return Err(bad());
        }
        // 10^11 seconds is year 5138 and 10^11 ms is 1973: below it the number is seconds.
        Ok(if n >= 1e11 {
            n as i64
        } else {
            (n * 1000.0) as i64
        })
    };
    match value {
        Value::Number(n) => from_number(n.as_f64().ok_or_else(bad)?),
        Value::String(s) => {
            let s = s.trim();
            if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
                return NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S")
                    .map(|t| t.and_utc().timestamp_millis())
                    .map_err(|_| bad());
            }
            if let Ok(n) = s.parse::<f64>() {
                return from_number(n);
            }
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis())
                .map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

fn behaviour_type(value: &Value) -> Result<String, FieldError> {
    let s = text("bhv_type", value, 32)?.to_ascii_lowercase();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(FieldError::new(
            "bhv_type",
            "must be a word such as expose, click, cart, buy or search",
        ));
    }
    Ok(s)
}

fn small_count(field: &str, value: &Value, min: u64) -> Result<u32, FieldError> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= min && n <= u64::from(u32::MAX) => Ok(n as u32),
        _ => Err(FieldError::new(
            field,
            format!("must be an integer ≥ {min}"),
        )),
    }
}

fn string_map(field: &str, value: &Value) -> Result<Vec<(String, String)>, FieldError> {
    let Value::Object(map) = value else {
        return Err(FieldError::new(field, "must be an object of strings"));
    };
    if map.len() > MAX_MAP_ENTRIES {
        return Err(FieldError::new(
            field,
            format!("has more than {MAX_MAP_ENTRIES} entries"),
        ));
    }
    map.iter()
        .map(|(k, v)| {
            if k.is_empty() || k.len() > 64 {
                return Err(FieldError::new(field, "keys must be 1-64 bytes"));
            }
            Ok((k.clone(), text(&format!("{field}.{k}"), v, MAX_FIELD_LEN)?))
        })
        .collect()
}

/// Validates the `fields` of one behaviour record. `now_ms` bounds future times; events older than
/// `oldest_ms` (the retention horizon) are refused rather than stored and deleted at once.
pub fn parse_behaviour(
    fields: &Map<String, Value>,
    now_ms: i64,
    oldest_ms: i64,
) -> Result<BehaviourEvent, FieldError> {
    let optional = |name: &str| -> Result<String, FieldError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(v) => text(name, v, MAX_FIELD_LEN),
        }
    };
    let required = |name: &str| -> Result<String, FieldError> {
        let v = optional(name)?;
        if v.is_empty() {
            Err(FieldError::new(name, "is required"))
        } else {
            Ok(v)
        }
    };
    let bhv_type = behaviour_type(
        fields
            .get("bhv_type")
            .ok_or_else(|| FieldError::new("bhv_type", "is required"))?,
    )?;
    let user_id = optional("user_id")?;
    let imei = optional("imei")?;
    if user_id.is_empty() && imei.is_empty() {
        return Err(FieldError::new("user_id", "user_id or imei is required"));
    }
    let search = bhv_type == SEARCH;
    let item_id = if search {
        optional("item_id")?
    } else {
        required("item_id")?
    };
    let item_type = if search {
        optional("item_type")?
    } else {
        required("item_type")?
    };
    let raw_query = if search {
        required("raw_query")?
    } else {
        optional("raw_query")?
    };
    let time = |name: &str| -> Result<i64, FieldError> {
        let v = fields
            .get(name)
            .filter(|v| !v.is_null())
            .ok_or_else(|| FieldError::new(name, "is required"))?;
        parse_time(name, v)
    };
    let bhv_time_ms = time("bhv_time")?;
    if bhv_time_ms > now_ms + MAX_FUTURE_MS {
        return Err(FieldError::new(
            "bhv_time",
            "is more than a day in the future",
        ));
    }
    if bhv_time_ms < oldest_ms {
        return Err(FieldError::new(
            "bhv_time",
            "is older than the event retention period",
        ));
    }
    let reach_time_ms = time("reach_time")?;
    let hits = match fields.get("hits") {
        None | Some(Value::Null) => None,
        Some(v) => Some(small_count("hits", v, 0)?),
    };
    let position = match fields.get("position") {
        None | Some(Value::Null) => None,
        Some(v) => Some(small_count("position", v, 1)?),
    };
    let context = match fields.get("context") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => string_map("context", v)?,
    };
    let mut extra = Vec::new();
    for (name, value) in fields {
        if INTERPRETED.contains(&name.as_str()) || value.is_null() {
            continue;
        }
        if extra.len() == MAX_MAP_ENTRIES {
            return Err(FieldError::new(
                name,
                format!("more than {MAX_MAP_ENTRIES} further fields"),
            ));
        }
        extra.push((name.clone(), text(name, value, MAX_EXTRA_LEN)?));
    }
    Ok(BehaviourEvent {
        user_id,
        imei,
        biz_id: required("biz_id")?,
        trace_id: required("trace_id")?,
        rn: required("rn")?,
        item_id,
        item_type,
        bhv_type,
        bhv_time_ms,
        reach_time_ms,
        raw_query,
        hits,
        position,
        context,
        extra,
    })
}

/// Fields with a place of their own in [`BehaviourEvent`].
const INTERPRETED: [&str; 14] = [
    "user_id",
    "imei",
    "biz_id",
    "trace_id",
    "rn",
    "item_id",
    "item_type",
    "bhv_type",
    "bhv_time",
    "reach_time",
    "raw_query",
    "hits",
    "position",
    "context",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_790_000_000_000;

    fn base() -> Map<String, Value> {
        json!({
            "user_id": "10469628", "biz_id": 123, "trace_id": "Alibaba", "rn": "r1", "item_id": "id",
            "item_type": "item", "bhv_type": "click", "bhv_time": "1789999999", "reach_time": "20260910105931",
            "position": 3, "sdk_type": "opensearch_sdk", "context": {"device": "ios"},
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn a_documented_record_parses_with_extensions_and_extra_fields() {
        let e = parse_behaviour(&base(), NOW, 0).unwrap();
        assert_eq!(
            (e.user(), e.biz_id.as_str(), e.position),
            ("10469628", "123", Some(3))
        );
        assert_eq!(e.bhv_time_ms, 1_789_999_999_000);
        assert_eq!(
            e.reach_time_ms, 1_789_037_971_000,
            "yyyyMMddHHmmss read as UTC"
        );
        assert_eq!(e.context, vec![("device".to_string(), "ios".to_string())]);
        assert_eq!(
            e.extra,
            vec![("sdk_type".to_string(), "opensearch_sdk".to_string())]
        );
    }

    #[test]
    fn each_required_field_is_named_when_missing() {
        for field in [
            "biz_id",
            "trace_id",
            "rn",
            "item_id",
            "item_type",
            "bhv_type",
            "bhv_time",
            "reach_time",
        ] {
            let mut fields = base();
            fields.remove(field);
            assert_eq!(parse_behaviour(&fields, NOW, 0).unwrap_err().field, field);
        }
        let mut anonymous = base();
        anonymous.remove("user_id");
        assert_eq!(
            parse_behaviour(&anonymous, NOW, 0).unwrap_err().field,
            "user_id"
        );
        anonymous.insert("imei".into(), json!("device-1"));
        assert_eq!(
            parse_behaviour(&anonymous, NOW, 0).unwrap().user(),
            "device-1"
        );
    }

    #[test]
    fn searches_need_a_query_but_no_item() {
        let mut fields = base();
        fields.insert("bhv_type".into(), json!("SEARCH"));
        fields.remove("item_id");
        fields.remove("item_type");
        assert_eq!(
            parse_behaviour(&fields, NOW, 0).unwrap_err().field,
            "raw_query"
        );
        fields.insert("raw_query".into(), json!("连衣裙 red"));
        fields.insert("hits".into(), json!(42));
        let e = parse_behaviour(&fields, NOW, 0).unwrap();
        assert!(e.is_search());
        assert_eq!((e.raw_query.as_str(), e.hits), ("连衣裙 red", Some(42)));
    }

    #[test]
    fn bad_values_are_refused_with_their_field() {
        let cases = [
            ("bhv_time", json!("yesterday")),
            ("bhv_time", json!(-5)),
            ("bhv_time", json!(NOW / 1000 + 3 * 86400)),
            ("position", json!(0)),
            ("hits", json!("many")),
            ("bhv_type", json!("cl ick")),
            ("item_id", json!({"nested": true})),
            ("rn", json!("x".repeat(MAX_FIELD_LEN + 1))),
            ("context", json!({"k": [1]})),
        ];
        for (field, value) in cases {
            let mut fields = base();
            fields.insert(field.into(), value.clone());
            let err = parse_behaviour(&fields, NOW, 0).unwrap_err();
            assert!(err.field.starts_with(field), "{field} {value}: {err:?}");
        }
        assert_eq!(
            parse_behaviour(&base(), NOW, NOW).unwrap_err().field,
            "bhv_time",
            "older than retention"
        );
    }

    #[test]
    fn times_in_every_accepted_format() {
        assert_eq!(
            parse_time("t", &json!(1_600_000_000)).unwrap(),
            1_600_000_000_000
        );
        assert_eq!(
            parse_time("t", &json!(1_600_000_000_123i64)).unwrap(),
            1_600_000_000_123
        );
        assert_eq!(
            parse_time("t", &json!("1600000000")).unwrap(),
            1_600_000_000_000
        );
        assert_eq!(
            parse_time("t", &json!("20200913122640")).unwrap(),
            1_600_000_000_000
        );
        assert_eq!(
            parse_time("t", &json!("2020-09-13T12:26:40Z")).unwrap(),
            1_600_000_000_000
        );
        assert!(parse_time("t", &json!("20201313122640")).is_err());
    }

    #[test]
    fn fields_round_trip_through_parsing() {
        let mut e = parse_behaviour(&base(), NOW, 0).unwrap();
        e.imei = "device".into();
        assert_eq!(parse_behaviour(&e.to_fields(), NOW, 0).unwrap(), e);
    }

    #[test]
    fn dedup_key_depends_on_the_identity_fields_only() {
        let a = parse_behaviour(&base(), NOW, 0).unwrap();
        let mut b = a.clone();
        b.reach_time_ms += 1000;
        b.extra.clear();
        assert_eq!(a.dedup_key(), b.dedup_key());
        b.bhv_time_ms += 1;
        assert_ne!(a.dedup_key(), b.dedup_key());
    }
}
