//! `analyzer`: texts cut into tokens with the app's own words, and the lexicon as a user dictionary.

use algocenter_domain::{Function, Result};
use algocenter_functions::analyzer::AnalyzerModel;
pub use algocenter_functions::analyzer::{DictionaryFormat, Token, WordSource};

use crate::{Served, Serving, Target};

pub struct AnalyzeRequest<'a> {
    pub target: Target<'a>,
    pub texts: &'a [&'a str],
}

#[derive(Clone, Debug)]
pub struct Analysed {
    pub served: Served,
    /// The tokens of each text, in the order asked.
    pub tokens: Vec<Vec<Token>>,
}

#[derive(Clone, Debug)]
pub struct Dictionary {
    pub served: Served,
    pub text: String,
}

impl Serving {
    pub async fn analyze(&self, request: AnalyzeRequest<'_>) -> Result<Analysed> {
        let ready = self
            .ready::<AnalyzerModel>(request.target, Function::Analyzer)
            .await?;
        let tokens = request
            .texts
            .iter()
            .map(|t| ready.model.analyze(t))
            .collect();
        Ok(Analysed {
            served: ready.served(),
            tokens,
        })
    }

    /// The serving generation's lexicon as a jieba or IK user dictionary.
    pub async fn dictionary(
        &self,
        target: Target<'_>,
        format: DictionaryFormat,
    ) -> Result<Dictionary> {
        let ready = self
            .ready::<AnalyzerModel>(target, Function::Analyzer)
            .await?;
        Ok(Dictionary {
            text: ready.model.dictionary(format),
            served: ready.served(),
        })
    }
}
