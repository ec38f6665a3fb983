//! Name rules for app groups, instances and resources.

use crate::error::{Error, Result};

/// Longest instance, resource and app group name (spec §3.1: 1–30 characters).
pub const MAX_NAME_LEN: usize = 30;

/// `^[A-Za-z][A-Za-z0-9_]{0,29}$`, with `extra` allowed after the first character too.
fn matches_name_rule(name: &str, extra: &[char]) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    name.len() <= MAX_NAME_LEN
        && first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(&c))
}

const NAME_RULE: &str = "1-30 characters, letters, digits and underscores, starting with a letter";

pub fn validate_instance_name(name: &str) -> Result<()> {
    if matches_name_rule(name, &[]) {
        Ok(())
    } else {
        Err(Error::invalid(format_args!(
            "instanceName '{name}' is invalid: {NAME_RULE}."
        )))
    }
}

pub fn validate_resource_name(name: &str) -> Result<()> {
    if matches_name_rule(name, &[]) {
        Ok(())
    } else {
        Err(Error::ResourceInvalidName(format!(
            "'{name}' ({NAME_RULE})."
        )))
    }
}

/// App group names also allow `-` (OpenSearch samples use names such as `my-app`).
pub fn validate_app_group_name(name: &str) -> Result<()> {
    if matches_name_rule(name, &['-']) {
        Ok(())
    } else {
        Err(Error::invalid(format_args!(
            "app group name '{name}' is invalid: 1-30 characters, letters, digits, '_' and '-', starting with a letter."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_follow_the_spec_pattern() {
        for ok in ["a", "ctr_test", "A1_b2", &"x".repeat(30)] {
            assert!(validate_instance_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "_a",
            "a-b",
            "a b",
            "中文",
            &"x".repeat(31),
            "a/b",
        ] {
            let err = validate_instance_name(bad).unwrap_err();
            assert_eq!(err.code(), "InvalidParameter", "{bad}");
        }
    }

    #[test]
    fn resource_names_answer_invalid_resource_name() {
        assert!(validate_resource_name("fg_json").is_ok());
        assert_eq!(
            validate_resource_name("fg-json").unwrap_err().code(),
            "Resource.InvalidResourceName"
        );
    }

    #[test]
    fn app_group_names_allow_dashes() {
        assert!(validate_app_group_name("my-app").is_ok());
        assert!(validate_app_group_name("my app").is_err());
        assert!(validate_app_group_name("-app").is_err());
    }
}
