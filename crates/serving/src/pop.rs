//! `pop`: the popularity of items, in [0, 1]. Items the generation did not score get the instance's
//! `default_score` usage parameter.

use algocenter_domain::{Function, Result};
use algocenter_functions::pop::PopModel;

use crate::{Served, Serving, Target};

pub struct ScoreRequest<'a> {
    pub target: Target<'a>,
    pub items: &'a [String],
}

/// The score of one asked-for item.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemScore {
    pub item: String,
    pub score: f32,
    /// Scored by the generation (else the instance's `default_score`).
    pub known: bool,
}

#[derive(Clone, Debug)]
pub struct Scores {
    pub served: Served,
    /// In the order asked.
    pub items: Vec<ItemScore>,
}

impl Serving {
    pub async fn pop(&self, request: ScoreRequest<'_>) -> Result<Scores> {
        let ready = self
            .ready::<PopModel>(request.target, Function::Pop)
            .await?;
        let default_score = ready.usage()?.float("default_score")? as f32;
        let items = request
            .items
            .iter()
            .map(|id| match ready.model.score(id) {
                Some(score) => ItemScore {
                    item: id.clone(),
                    score,
                    known: true,
                },
                None => ItemScore {
                    item: id.clone(),
                    score: default_score,
                    known: false,
                },
            })
            .collect();
        Ok(Scores {
            served: ready.served(),
            items,
        })
    }
}
