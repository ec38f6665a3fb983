//! `correction`: the spelling correction of queries, with OpenSearch's `correction_level` (1 rewrite, 2 did you
//! mean).

use algocenter_domain::{Function, Result};
use algocenter_functions::correction::CorrectionModel;
pub use algocenter_functions::correction::{Level, Source};

use crate::{Served, Serving, Target};

pub struct CorrectRequest<'a> {
    pub target: Target<'a>,
    pub queries: &'a [&'a str],
}

/// The correction of one query; `corrected` is `None` when the query is right as far as the model knows.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryCorrection {
    pub query: String,
    pub corrected: Option<(String, Level, Source)>,
}

#[derive(Clone, Debug)]
pub struct Corrections {
    pub served: Served,
    /// In the order asked.
    pub corrections: Vec<QueryCorrection>,
}

impl Serving {
    /// Corrects each query; level-2 corrections are left out when the instance's `did_you_mean` is `false`.
    pub async fn correct(&self, request: CorrectRequest<'_>) -> Result<Corrections> {
        let ready = self
            .ready::<CorrectionModel>(request.target, Function::Correction)
            .await?;
        let did_you_mean = ready.usage()?.get("did_you_mean")? == "true";
        let corrections = request
            .queries
            .iter()
            .map(|query| QueryCorrection {
                query: query.to_string(),
                corrected: ready
                    .model
                    .correct(query)
                    .filter(|c| did_you_mean || c.level == Level::Rewrite)
                    .map(|c| (c.corrected, c.level, c.source)),
            })
            .collect();
        Ok(Corrections {
            served: ready.served(),
            corrections,
        })
    }
}
