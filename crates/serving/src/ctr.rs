//! `ctr`: candidates reranked by their click probability at the instance's `serving_position`, for a user, a
//! query and a context. A candidate is scored by the attributes the request gives, else by those the generation
//! learnt, else by the item's stored attributes, else as an unknown item.

use std::borrow::Cow;
use std::collections::HashMap;

use algocenter_domain::document::{Document, DocumentKind};
use algocenter_domain::{Function, Result};
use algocenter_functions::ctr::{Candidate, CtrModel, Situation};

use crate::{Served, Serving, Target};

/// A candidate as asked for: its id, and its attributes when the request gives them.
#[derive(Clone, Debug)]
pub struct Wanted<'a> {
    pub id: Cow<'a, str>,
    pub attributes: Option<Document>,
}

pub struct RerankRequest<'a> {
    pub target: Target<'a>,
    pub query: Option<&'a str>,
    pub user: Option<&'a str>,
    pub context: &'a [(String, String)],
    pub items: &'a [Wanted<'a>],
}

/// Where a candidate's attributes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Features {
    Request,
    Model,
    Store,
    /// None anywhere: scored by the model's out-of-vocabulary rows.
    Unknown,
}

impl Features {
    pub fn as_str(self) -> &'static str {
        match self {
            Features::Request => "request",
            Features::Model => "model",
            Features::Store => "store",
            Features::Unknown => "unknown",
        }
    }
}

/// A scored candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub item: String,
    /// Click probability.
    pub score: f32,
    /// Its place in the request.
    pub input_index: usize,
    pub features: Features,
}

#[derive(Clone, Debug)]
pub struct Reranked {
    pub served: Served,
    /// The position every candidate was scored at (the instance's `serving_position`).
    pub position: u32,
    /// Best first; equal scores keep the order they came in.
    pub items: Vec<Ranked>,
}

impl Serving {
    /// The stored documents of candidates that neither the request nor the model describes, in one read.
    pub(crate) async fn stored_items(
        &self,
        app: &str,
        ids: Vec<String>,
    ) -> Result<HashMap<String, Document>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .store()
            .documents(app, DocumentKind::Item, ids)
            .await?
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect())
    }

    pub async fn rerank(&self, request: RerankRequest<'_>) -> Result<Reranked> {
        let ready = self
            .ready::<CtrModel>(request.target, Function::Ctr)
            .await?;
        let position = ready.usage()?.int("serving_position")?.clamp(1, 100) as u32;
        let model = &ready.model;
        let candidates = request.items;

        // Looked up once per candidate (a hash map probe into the model's items, a cache miss each).
        let known: Vec<bool> = candidates
            .iter()
            .map(|c| c.attributes.is_none() && model.knows_item(&c.id))
            .collect();
        let missing: Vec<String> = candidates
            .iter()
            .zip(&known)
            .filter(|(c, known)| c.attributes.is_none() && !**known)
            .map(|(c, _)| c.id.to_string())
            .collect();
        let stored = self.stored_items(request.target.app, missing).await?;
        let mut sources = Vec::with_capacity(candidates.len());
        let scored: Vec<Candidate<'_>> = candidates
            .iter()
            .zip(&known)
            .map(|(c, &known)| {
                let (attributes, source) = match &c.attributes {
                    Some(a) => (Some(a), Features::Request),
                    None if known => (None, Features::Model),
                    None => match stored.get(c.id.as_ref()) {
                        Some(d) => (Some(d), Features::Store),
                        None => (None, Features::Unknown),
                    },
                };
                sources.push(source);
                Candidate {
                    id: &c.id,
                    attributes,
                }
            })
            .collect();
        let situation = Situation {
            user: request.user,
            query: request.query,
            context: request.context,
            position,
        };
        let scores = model.score(&situation, &scored);
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let items = order
            .into_iter()
            .map(|i| Ranked {
                item: candidates[i].id.to_string(),
                score: scores[i],
                input_index: i,
                features: sources[i],
            })
            .collect();
        Ok(Reranked {
            served: ready.served(),
            position,
            items,
        })
    }
}
