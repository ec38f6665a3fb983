//! `suggest`: drop-down completions of what a user typed so far.

use algocenter_domain::{Function, Result};
pub use algocenter_functions::suggest::MAX_HIT;
use algocenter_functions::suggest::SuggestIndex;

use crate::{Served, Serving, Target};

/// Suggestions returned when a request does not say.
pub const DEFAULT_HIT: usize = 10;

pub struct SuggestRequest<'a> {
    pub target: Target<'a>,
    /// What the user typed so far (an empty text has no completions).
    pub typed: &'a str,
    /// At most [`MAX_HIT`]; [`DEFAULT_HIT`] when `None`.
    pub hit: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Suggestions {
    pub served: Served,
    /// Best first.
    pub suggestions: Vec<String>,
}

impl Serving {
    pub async fn suggest(&self, request: SuggestRequest<'_>) -> Result<Suggestions> {
        let ready = self
            .ready::<SuggestIndex>(request.target, Function::Suggest)
            .await?;
        let hit = request.hit.unwrap_or(DEFAULT_HIT).min(MAX_HIT);
        let suggestions = ready
            .model
            .suggest(request.typed, hit)
            .into_iter()
            .map(str::to_string)
            .collect();
        Ok(Suggestions {
            served: ready.served(),
            suggestions,
        })
    }
}
