//! Items and users: documents of an app group with free-form attributes, pushed to its `item_info` and `user`
//! data collections. `ADD` replaces a document, `UPDATE` merges attributes into it (creating it if needed),
//! `DELETE` removes it.

use serde_json::{Map, Value};

use crate::behaviour::{FieldError, MAX_EXTRA_LEN, MAX_FIELD_LEN, text};

/// Most attributes of one document.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most elements of an array attribute (e.g. `tags`).
pub const MAX_ARRAY_LEN: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    Item,
    User,
}

impl DocumentKind {
    /// The field holding the document's id.
    pub fn id_field(self) -> &'static str {
        match self {
            DocumentKind::Item => "item_id",
            DocumentKind::User => "user_id",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Item => "item",
            DocumentKind::User => "user",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub id: String,
    /// Every field but the id: strings, numbers, booleans, arrays of strings or numbers.
    pub attributes: Map<String, Value>,
}

impl Document {
    /// The document as push-record `fields`.
    pub fn to_fields(&self, kind: DocumentKind) -> Map<String, Value> {
        let mut fields = self.attributes.clone();
        fields.insert(kind.id_field().into(), Value::from(self.id.as_str()));
        fields
    }

    /// A string attribute, also when it was pushed as a number.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.attributes.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum DocumentOp {
    Add(Document),
    Update(Document),
    Delete(String),
}

/// The command of a push record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Update,
    Delete,
}

impl Cmd {
    pub fn parse(value: Option<&Value>) -> Result<Cmd, FieldError> {
        match value
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("ADD") => Ok(Cmd::Add),
            Some("UPDATE") => Ok(Cmd::Update),
            Some("DELETE") => Ok(Cmd::Delete),
            _ => Err(FieldError::new("cmd", "must be ADD, UPDATE or DELETE")),
        }
    }
}

fn attribute(name: &str, value: &Value) -> Result<Value, FieldError> {
    match value {
        Value::String(s) if s.len() > MAX_EXTRA_LEN => Err(FieldError::new(
            name,
            format!("is longer than {MAX_EXTRA_LEN} bytes"),
        )),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(value.clone()),
        Value::Array(items) => {
            if items.len() > MAX_ARRAY_LEN {
                return Err(FieldError::new(
                    name,
                    format!("has more than {MAX_ARRAY_LEN} elements"),
                ));
            }
            for item in items {
                match item {
                    Value::String(s) if s.len() <= MAX_FIELD_LEN => {}
                    Value::Number(_) => {}
                    _ => {
                        return Err(FieldError::new(
                            name,
                            "arrays may hold strings and numbers only",
                        ));
                    }
                }
            }
            Ok(value.clone())
        }
        Value::Object(_) => Err(FieldError::new(name, "nested objects are not supported")),
        Value::Null => Ok(Value::Null),
    }
}

/// Validates one item or user record.
pub fn parse_document(
    kind: DocumentKind,
    cmd: Cmd,
    fields: &Map<String, Value>,
) -> Result<DocumentOp, FieldError> {
    let id_field = kind.id_field();
    let id = match fields.get(id_field) {
        None | Some(Value::Null) => String::new(),
        Some(v) => text(id_field, v, MAX_FIELD_LEN)?,
    };
    if id.is_empty() {
        return Err(FieldError::new(id_field, "is required"));
    }
    if cmd == Cmd::Delete {
        return Ok(DocumentOp::Delete(id));
    }
    if fields.len() > MAX_ATTRIBUTES + 1 {
        return Err(FieldError::new(
            id_field,
            format!("a document may have at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    let mut attributes = Map::new();
    for (name, value) in fields {
        if name == id_field {
            continue;
        }
        if name.is_empty() || name.len() > 64 {
            return Err(FieldError::new(name, "attribute names must be 1-64 bytes"));
        }
        let value = attribute(name, value)?;
        if !value.is_null() {
            attributes.insert(name.clone(), value);
        }
    }
    let document = Document { id, attributes };
    Ok(if cmd == Cmd::Add {
        DocumentOp::Add(document)
    } else {
        DocumentOp::Update(document)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn items_keep_their_attributes() {
        let op = parse_document(
            DocumentKind::Item,
            Cmd::Add,
            &fields(json!({"item_id": 7, "title": "红色连衣裙", "category": "女装>连衣裙", "price": 199.5, "tags": ["a", "b"]})),
        )
        .unwrap();
        let DocumentOp::Add(doc) = op else { panic!() };
        assert_eq!(doc.id, "7");
        assert_eq!(doc.text("category").as_deref(), Some("女装>连衣裙"));
        assert_eq!(doc.text("price").as_deref(), Some("199.5"));
        assert!(!doc.attributes.contains_key("item_id"));
    }

    #[test]
    fn ids_and_shapes_are_checked() {
        let missing = parse_document(DocumentKind::User, Cmd::Update, &fields(json!({"age": 3})))
            .unwrap_err();
        assert_eq!(missing.field, "user_id");
        let nested = parse_document(
            DocumentKind::Item,
            Cmd::Add,
            &fields(json!({"item_id": "1", "x": {"y": 1}})),
        );
        assert_eq!(nested.unwrap_err().field, "x");
        assert_eq!(
            parse_document(
                DocumentKind::Item,
                Cmd::Delete,
                &fields(json!({"item_id": "1"}))
            )
            .unwrap(),
            DocumentOp::Delete("1".into())
        );
        assert_eq!(Cmd::parse(Some(&json!("add"))).unwrap(), Cmd::Add);
        assert!(Cmd::parse(Some(&json!("UPSERT"))).is_err());
    }
}
