//! Paging and output levels shared by the list and get operations.

use crate::error::{Error, Result};

/// Largest `pageSize` accepted.
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    /// Validates `pageNumber` ≥ 1 and `pageSize` in 1..=100; absent values take the operation's defaults.
    pub fn new(number: Option<&str>, size: Option<&str>, default_size: u32) -> Result<Self> {
        let number = parse_positive("pageNumber", number, 1, u32::MAX)?;
        let size = parse_positive("pageSize", size, default_size, MAX_PAGE_SIZE)?;
        Ok(Page { number, size })
    }

    pub fn offset(&self) -> u64 {
        u64::from(self.number - 1) * u64::from(self.size)
    }
}

fn parse_positive(name: &str, raw: Option<&str>, default: u32, max: u32) -> Result<u32> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<u32>() {
        Ok(v) if (1..=max).contains(&v) => Ok(v),
        _ => Err(Error::invalid(format_args!(
            "{name} must be an integer in [1, {max}], got '{raw}'."
        ))),
    }
}

/// The `output` query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutputLevel {
    Simple,
    Normal,
    Detail,
}

impl OutputLevel {
    pub fn parse(raw: Option<&str>) -> Result<Self> {
        match raw {
            None | Some("normal") => Ok(OutputLevel::Normal),
            Some("simple") => Ok(OutputLevel::Simple),
            Some("detail") => Ok(OutputLevel::Detail),
            Some(other) => Err(Error::invalid(format_args!(
                "output '{other}' is invalid; valid: simple, normal, detail."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_bounds() {
        assert_eq!(
            Page::new(None, None, 10).unwrap(),
            Page {
                number: 1,
                size: 10
            }
        );
        assert_eq!(Page::new(Some("3"), Some("100"), 1).unwrap().offset(), 200);
        for (n, s) in [
            (Some("0"), None),
            (None, Some("0")),
            (None, Some("101")),
            (Some("x"), None),
            (Some("-1"), None),
        ] {
            assert_eq!(Page::new(n, s, 10).unwrap_err().code(), "InvalidParameter");
        }
    }

    #[test]
    fn output_levels() {
        assert_eq!(OutputLevel::parse(None).unwrap(), OutputLevel::Normal);
        assert_eq!(
            OutputLevel::parse(Some("detail")).unwrap(),
            OutputLevel::Detail
        );
        assert!(OutputLevel::parse(Some("full")).is_err());
    }
}
