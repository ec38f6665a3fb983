//! `suggest`: drop-down completions of what a user typed so far, personal when the request names the user
//! (their own earlier searches blended with everyone's; with `near_realtime`, their searches since training too).

use algocenter_domain::{Function, Result, now_ms};
pub use algocenter_functions::suggest::MAX_HIT;
use algocenter_functions::suggest::SuggestModel;

use crate::{Served, Serving, Target};

/// The model type whose instances count searches pushed after training.
pub const NEAR_REALTIME: &str = "near_realtime";

/// Suggestions returned when a request does not say.
pub const DEFAULT_HIT: usize = 10;

pub struct SuggestRequest<'a> {
    pub target: Target<'a>,
    /// What the user typed so far (an empty text has no completions).
    pub typed: &'a str,
    /// At most [`MAX_HIT`]; [`DEFAULT_HIT`] when `None`.
    pub hit: Option<usize>,
    /// The user typing: their own searches take part (see `algocenter_functions::suggest::personal`).
    pub user: Option<&'a str>,
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
            .ready::<SuggestModel>(request.target, Function::Suggest)
            .await?;
        let hit = request.hit.unwrap_or(DEFAULT_HIT).min(MAX_HIT);
        let model = &ready.model;
        // The tail matters only when the weight search kept the user's history in the blend.
        let live = match request.user {
            Some(user)
                if ready.instance.model_type == NEAR_REALTIME
                    && model.blend().personal_weight > 0.0 =>
            {
                self.live_tail(&ready.instance.app_group, model.trained_until_ms())
                    .searches_of(user)
            }
            _ => Vec::new(),
        };
        let suggestions = model.suggest_for(request.typed, hit, request.user, &live, now_ms());
        Ok(Suggestions {
            served: ready.served(),
            suggestions,
        })
    }
}
