//! `synonym`: the synonyms of the terms and phrases of queries, and the instance's pairs as a synonym file.

use algocenter_domain::{Function, Result};
use algocenter_functions::synonym::SynonymModel;
pub use algocenter_functions::synonym::{Expansion, Synonym};

use crate::{Served, Serving, Target};

pub struct ExpandRequest<'a> {
    pub target: Target<'a>,
    pub queries: &'a [&'a str],
}

/// The expansions of one query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryExpansions {
    pub query: String,
    /// The query normalised: the offsets of the expansions count its characters.
    pub normalised: String,
    pub expansions: Vec<Expansion>,
}

#[derive(Clone, Debug)]
pub struct Expanded {
    pub served: Served,
    /// In the order asked.
    pub queries: Vec<QueryExpansions>,
}

/// The synonym file of a generation.
#[derive(Clone, Debug)]
pub struct SynonymFile {
    pub served: Served,
    pub text: String,
}

impl Serving {
    /// The synonyms of each term of each query, as the instance's usage parameters allow (`max_expansions`,
    /// `min_score`).
    pub async fn expand(&self, request: ExpandRequest<'_>) -> Result<Expanded> {
        let ready = self
            .ready::<SynonymModel>(request.target, Function::Synonym)
            .await?;
        let usage = ready.usage()?;
        let max = usage.int("max_expansions")?.max(1) as usize;
        let min_score = usage.float("min_score")? as f32;
        let queries = request
            .queries
            .iter()
            .map(|query| {
                let (normalised, expansions) = ready.model.expand(query, max, min_score);
                QueryExpansions {
                    query: query.to_string(),
                    normalised,
                    expansions,
                }
            })
            .collect();
        Ok(Expanded {
            served: ready.served(),
            queries,
        })
    }

    /// The serving generation's pairs (scored at least the instance's `min_score`) in the synonym file format of
    /// Solr and Elasticsearch, headed by a comment naming the instance and generation.
    pub async fn synonym_file(&self, target: Target<'_>) -> Result<SynonymFile> {
        let ready = self
            .ready::<SynonymModel>(target, Function::Synonym)
            .await?;
        let min_score = ready.usage()?.float("min_score")? as f32;
        let served = ready.served();
        let text = format!(
            "# synonyms of instance {} generation {} (algocenter): 'a, b' both ways, 'a => a, b' one way\n{}",
            served.instance,
            served.generation,
            ready.model.solr(min_score)
        );
        Ok(SynonymFile { served, text })
    }
}
