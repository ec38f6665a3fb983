//! `rank`: candidates reranked by a custom sort model, for a query, a user and a context; with `explain`, each
//! item's feature values as the generators computed them and the largest contributions to its score. A
//! candidate's attributes are the request's, else those the generation kept, else the item's stored ones.

use algocenter_domain::{Function, Result};
use algocenter_functions::rank::features::Situation;
use algocenter_functions::rank::{Candidate, Explanation, RankModel};

use crate::ctr::{Features, Wanted};
use crate::{Served, Serving, Target};

pub struct RankRequest<'a> {
    pub target: Target<'a>,
    pub query: Option<&'a str>,
    pub user: Option<&'a str>,
    pub context: &'a [(String, String)],
    pub items: &'a [Wanted<'a>],
    pub explain: bool,
}

/// A scored candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct RankedItem {
    pub item: String,
    pub score: f32,
    /// Its place in the request.
    pub input_index: usize,
    pub features: Features,
    pub explanation: Option<Explanation>,
}

#[derive(Clone, Debug)]
pub struct Ranked {
    pub served: Served,
    /// Best first; equal scores keep the order they came in.
    pub items: Vec<RankedItem>,
}

impl Serving {
    pub async fn rank(&self, request: RankRequest<'_>) -> Result<Ranked> {
        let ready = self
            .ready::<RankModel>(request.target, Function::Rank)
            .await?;
        let explain_top = if request.explain {
            Some(ready.usage()?.int("explain_top")?.clamp(1, 100) as usize)
        } else {
            None
        };
        let model = &ready.model;
        let candidates = request.items;
        // Each candidate's id looked up once: a rerank's cost is mostly lookups of random items.
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
                    Some(a) => (Some(&a.attributes), Features::Request),
                    None if known => (None, Features::Model),
                    None => match stored.get(c.id.as_ref()) {
                        Some(d) => (Some(&d.attributes), Features::Store),
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
            user: request.user.unwrap_or(""),
            query: request.query.unwrap_or(""),
            context: request.context,
        };
        let mut results = model.score(&situation, &scored, explain_top);
        let mut order: Vec<usize> = (0..results.len()).collect();
        order.sort_by(|&a, &b| results[b].score.total_cmp(&results[a].score));
        let items = order
            .into_iter()
            .map(|i| RankedItem {
                item: candidates[i].id.to_string(),
                score: results[i].score,
                input_index: i,
                features: sources[i],
                explanation: results[i].explanation.take(),
            })
            .collect();
        Ok(Ranked {
            served: ready.served(),
            items,
        })
    }
}
