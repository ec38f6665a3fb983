//! Access keys: who may call the API, with which scope and on which app groups.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// What a key may do. Each scope includes the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The Get/List/Describe operations, data status and export, serving.
    Read,
    /// Also create, update and delete instances, resources and tasks, and push data.
    Write,
    /// Also access keys and app groups.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "admin" => Ok(Scope::Admin),
            _ => Err(Error::invalid(format_args!(
                "scope '{s}' is invalid; valid: read, write, admin."
            ))),
        }
    }
}

/// An access key without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub scope: Scope,
    /// App groups (by name) the key may act on; empty means all.
    pub apps: Vec<String>,
    pub description: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

impl AccessKey {
    pub fn allows_app(&self, app: &str) -> bool {
        self.apps.is_empty() || self.apps.iter().any(|a| a == app)
    }
}

/// Access key ids: 4-64 letters and digits (also `_` and `-`), so that they fit every Authorization format.
/// Generated ids are 20 characters.
pub fn validate_key_id(id: &str) -> Result<()> {
    let ok = (4..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "an access key id is 4-64 letters, digits, '_' or '-'.",
        ))
    }
}

/// Secrets: 8-128 printable ASCII characters without spaces. Generated secrets are 32 characters; a shorter one
/// given by an operator is accepted with a warning at start-up.
pub fn validate_secret(secret: &str) -> Result<()> {
    let ok = (8..=128).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "an access key secret is 8-128 printable characters without spaces.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_ordered_and_parse() {
        assert!(Scope::Admin > Scope::Write && Scope::Write > Scope::Read);
        assert_eq!("write".parse::<Scope>().unwrap(), Scope::Write);
        assert!("root".parse::<Scope>().is_err());
    }

    #[test]
    fn app_restrictions_and_formats() {
        let key = AccessKey {
            id: "k".into(),
            scope: Scope::Read,
            apps: vec!["a".into()],
            description: String::new(),
            created_ms: 0,
            revoked_ms: None,
        };
        assert!(key.allows_app("a") && !key.allows_app("b"));
        assert!(
            AccessKey {
                apps: vec![],
                ..key
            }
            .allows_app("b")
        );
        assert!(
            validate_key_id("testAK").is_ok()
                && validate_key_id("AK").is_err()
                && validate_key_id("has:colon").is_err()
        );
        assert!(
            validate_secret("testSecret").is_ok()
                && validate_secret("short").is_err()
                && validate_secret("with space in it!").is_err()
        );
    }
}
