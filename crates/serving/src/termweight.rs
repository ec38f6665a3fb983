//! `termweight`: the weight and level of each term of a query.

use algocenter_domain::{Function, Result};
use algocenter_functions::analyzer::Token;
use algocenter_functions::termweight::TermweightModel;
pub use algocenter_functions::termweight::{Level, TermWeight, Thresholds};

use crate::generations::Ready;
use crate::{Served, Serving, Target};

pub struct WeighRequest<'a> {
    pub target: Target<'a>,
    pub queries: &'a [&'a str],
}

/// One term of a weighed query.
#[derive(Clone, Debug)]
pub struct WeighedTerm {
    pub token: Token,
    pub weight: TermWeight,
}

#[derive(Clone, Debug)]
pub struct Weighed {
    pub served: Served,
    /// The terms of each query, in the order asked.
    pub queries: Vec<Vec<WeighedTerm>>,
}

/// The level thresholds of an instance: its usage parameters.
pub(crate) fn thresholds(ready: &Ready<TermweightModel>) -> Result<Thresholds> {
    let usage = ready.usage()?;
    Ok(Thresholds {
        high: usage.float("high_weight")? as f32,
        low: usage.float("low_weight")? as f32,
    })
}

impl Serving {
    /// Weighs queries segmented by the termweight model's own analyzer.
    pub async fn weigh(&self, request: WeighRequest<'_>) -> Result<Weighed> {
        let ready = self
            .ready::<TermweightModel>(request.target, Function::Termweight)
            .await?;
        let thresholds = thresholds(&ready)?;
        let queries = request
            .queries
            .iter()
            .map(|q| {
                let tokens = ready.model.analyzer().analyze(q);
                let weights = ready.model.weigh(&tokens, thresholds);
                tokens
                    .into_iter()
                    .zip(weights)
                    .map(|(token, weight)| WeighedTerm { token, weight })
                    .collect()
            })
            .collect();
        Ok(Weighed {
            served: ready.served(),
            queries,
        })
    }
}
