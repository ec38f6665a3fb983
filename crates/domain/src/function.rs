//! The algorithm functions algocenter knows.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// An algorithm kind. The path segment `{functionName}` of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    Ctr,
    Pop,
    Category,
    Hot,
    Hint,
    Suggest,
    /// A tokenizer that knows the app's own words (modelType `text`).
    Analyzer,
    /// How much each word of a query matters (modelType `tf_checkpoint`).
    Termweight,
}

impl Function {
    pub const ALL: [Function; 8] = [
        Function::Ctr,
        Function::Pop,
        Function::Category,
        Function::Hot,
        Function::Hint,
        Function::Suggest,
        Function::Analyzer,
        Function::Termweight,
    ];

    /// The names of every function, for messages.
    pub fn known_names() -> String {
        Function::ALL.map(Function::as_str).join(", ")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Function::Ctr => "ctr",
            Function::Pop => "pop",
            Function::Category => "category",
            Function::Hot => "hot",
            Function::Hint => "hint",
            Function::Suggest => "suggest",
            Function::Analyzer => "analyzer",
            Function::Termweight => "termweight",
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Function {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Function::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| Error::FunctionNotExist(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for f in Function::ALL {
            assert_eq!(f.as_str().parse::<Function>().unwrap(), f);
        }
        assert_eq!(
            "CTR".parse::<Function>().unwrap_err().code(),
            "Function.NotExist"
        );
        let unknown = "synonym".parse::<Function>().unwrap_err();
        assert_eq!(unknown.code(), "Function.NotExist");
        let message = unknown.to_string();
        for f in Function::ALL {
            assert!(message.contains(f.as_str()), "{message}");
        }
    }
}
