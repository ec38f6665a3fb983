//! `category`: the categories a query's searchers look for, with scores in [0, 1].

use algocenter_domain::{Function, Result};
use algocenter_functions::category::CategoryModel;
pub use algocenter_functions::category::{MAX_TOP_K, Source};

use crate::{Served, Serving, Target};

pub struct CategoriseRequest<'a> {
    pub target: Target<'a>,
    pub queries: &'a [&'a str],
    /// Categories per query, at most [`MAX_TOP_K`]; the instance's `top_k` usage parameter when `None`.
    pub top_k: Option<usize>,
}

/// The categories of one query.
#[derive(Clone, Debug, PartialEq)]
pub struct Categories {
    pub query: String,
    /// Best first.
    pub categories: Vec<(String, f32)>,
    pub source: Source,
    /// The instance's intervention dictionary has rules for the query (they were applied).
    pub intervened: bool,
}

#[derive(Clone, Debug)]
pub struct Categorised {
    pub served: Served,
    /// In the order asked.
    pub predictions: Vec<Categories>,
}

impl Serving {
    pub async fn categorise(&self, request: CategoriseRequest<'_>) -> Result<Categorised> {
        let ready = self
            .ready::<CategoryModel>(request.target, Function::Category)
            .await?;
        let top_k = match request.top_k {
            Some(k) => k,
            None => ready.usage()?.int("top_k")?.clamp(1, MAX_TOP_K as i64) as usize,
        };
        let predictions = request
            .queries
            .iter()
            .map(|query| {
                let p = ready.model.predict(query, top_k);
                Categories {
                    query: query.to_string(),
                    categories: p.categories,
                    source: p.source,
                    intervened: p.intervened,
                }
            })
            .collect();
        Ok(Categorised {
            served: ready.served(),
            predictions,
        })
    }
}
