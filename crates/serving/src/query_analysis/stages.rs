//! The stages of the analysis, in the order [`super`] lists them. Each reads the rule's instance for its
//! function, skips itself when the rule names none (answering `false`: nothing ran, nothing to time), and records
//! the instance and generation it used.

use algocenter_domain::query_rule::QueryAnalysisRule;
use algocenter_domain::{Function, Result};
use algocenter_functions::analyzer::{AnalyzerModel, BaseAnalyzer, Token};
use algocenter_functions::category::CategoryModel;
use algocenter_functions::correction::{CorrectionModel, Level as CorrectionLevel};
use algocenter_functions::query::normalise;
use algocenter_functions::synonym::SynonymModel;
use algocenter_functions::termweight::TermweightModel;

use super::{AnalysedQuery, AnalysedToken, CorrectionInfo, StagePart, phrases};
use crate::{Serving, Target};

/// Categories a query-analysis answer lists.
const CATEGORIES: usize = 3;

fn part(stage: &'static str, function: Function, instance: &str, generation: i64) -> StagePart {
    StagePart {
        stage,
        function: function.as_str(),
        instance: instance.to_string(),
        generation,
    }
}

fn tokens_of(tokens: Vec<Token>) -> Vec<AnalysedToken> {
    tokens
        .into_iter()
        .map(|t| AnalysedToken {
            text: t.text,
            start: t.start,
            end: t.end,
            source: t.source,
            entity: t.entity,
            weight: None,
            level: None,
            stop_word: false,
            synonyms: Vec::new(),
        })
        .collect()
}

/// Spelling correction: a level-1 correction rewrites the query the later stages read; a level-2 one (when the
/// instance's `did_you_mean` allows) is reported and the query stands.
pub(super) async fn correct(
    serving: &Serving,
    app: &str,
    rule: &QueryAnalysisRule,
    query: &mut AnalysedQuery,
) -> Result<bool> {
    let Some(name) = rule.spec.correction.as_deref() else {
        return Ok(false);
    };
    let ready = serving
        .ready::<CorrectionModel>(Target::new(app, Some(name)), Function::Correction)
        .await?;
    let did_you_mean = ready.usage()?.get("did_you_mean")? == "true";
    if let Some(c) = ready
        .model
        .correct(&query.raw)
        .filter(|c| did_you_mean || c.level == CorrectionLevel::Rewrite)
    {
        if c.level == CorrectionLevel::Rewrite {
            query.corrected = Some(c.corrected.clone());
        }
        query.correction = Some(CorrectionInfo {
            corrected: c.corrected,
            level: c.level.number(),
            source: c.source.as_str(),
        });
    }
    query.stages.push(part(
        "correction",
        Function::Correction,
        name,
        ready.generation,
    ));
    Ok(true)
}

/// Synonyms of each token that is not a stop word (looked up by the word as written, since a token's key may be a
/// stem), as the synonym instance's usage parameters allow. A run of tokens the instance knows as one phrase is
/// joined into one token first ([`phrases`]).
pub(super) async fn expand(
    serving: &Serving,
    app: &str,
    rule: &QueryAnalysisRule,
    query: &mut AnalysedQuery,
) -> Result<bool> {
    let Some(name) = rule.spec.synonym.as_deref() else {
        return Ok(false);
    };
    let ready = serving
        .ready::<SynonymModel>(Target::new(app, Some(name)), Function::Synonym)
        .await?;
    let usage = ready.usage()?;
    let max = usage.int("max_expansions")?.max(1) as usize;
    let min_score = usage.float("min_score")? as f32;
    let served = |written: &str| -> Vec<String> {
        let own = normalise(written);
        ready
            .model
            .synonyms_of(written)
            .iter()
            .filter(|s| (s.intervened || s.score >= min_score) && s.text != own)
            .take(max)
            .map(|s| s.text.clone())
            .collect()
    };
    let text: Vec<char> = query.text().chars().collect();
    query.tokens = phrases::join(std::mem::take(&mut query.tokens), &text, |w| {
        !served(w).is_empty()
    });
    for token in query.tokens.iter_mut().filter(|t| !t.stop_word) {
        let mut synonyms = served(&phrases::written(&text, token.start, token.end));
        if synonyms.is_empty() {
            synonyms = served(&token.text);
        }
        token.synonyms = synonyms;
    }
    query.synonym_boost = Some(usage.float("boost")? as f32);
    query
        .stages
        .push(part("synonyms", Function::Synonym, name, ready.generation));
    Ok(true)
}

/// Segmentation: the rule's analyzer; without one, the termweight model's own analyzer (it weighs the words it
/// was trained with); without either, lower-cased words.
pub(super) async fn segment(
    serving: &Serving,
    app: &str,
    rule: &QueryAnalysisRule,
    query: &mut AnalysedQuery,
) -> Result<()> {
    let text = query.text().to_string();
    if let Some(name) = rule.spec.analyzer.as_deref() {
        let ready = serving
            .ready::<AnalyzerModel>(Target::new(app, Some(name)), Function::Analyzer)
            .await?;
        query.tokens = tokens_of(ready.model.analyze(&text));
        query.stages.push(part(
            "segmentation",
            Function::Analyzer,
            name,
            ready.generation,
        ));
    } else if let Some(name) = rule.spec.termweight.as_deref() {
        let ready = serving
            .ready::<TermweightModel>(Target::new(app, Some(name)), Function::Termweight)
            .await?;
        query.tokens = tokens_of(ready.model.analyzer().analyze(&text));
        query.stages.push(part(
            "segmentation",
            Function::Termweight,
            name,
            ready.generation,
        ));
    } else {
        query.tokens = tokens_of(AnalyzerModel::base(BaseAnalyzer::Whitespace).analyze(&text));
    }
    Ok(())
}

/// Weights, levels and stop words from the rule's termweight instance.
pub(super) async fn weigh(
    serving: &Serving,
    app: &str,
    rule: &QueryAnalysisRule,
    query: &mut AnalysedQuery,
) -> Result<bool> {
    let Some(name) = rule.spec.termweight.as_deref() else {
        return Ok(false);
    };
    let ready = serving
        .ready::<TermweightModel>(Target::new(app, Some(name)), Function::Termweight)
        .await?;
    let thresholds = crate::termweight::thresholds(&ready)?;
    let tokens: Vec<Token> = query
        .tokens
        .iter()
        .map(|t| Token {
            text: t.text.clone(),
            start: t.start,
            end: t.end,
            source: t.source,
            entity: t.entity.clone(),
        })
        .collect();
    for (token, weight) in query
        .tokens
        .iter_mut()
        .zip(ready.model.weigh(&tokens, thresholds))
    {
        token.weight = Some(weight.weight);
        token.level = Some(weight.level);
        token.stop_word = weight.stop_word;
    }
    query.stages.push(part(
        "weights",
        Function::Termweight,
        name,
        ready.generation,
    ));
    Ok(true)
}

/// The categories of the query from the rule's category instance.
pub(super) async fn categorise(
    serving: &Serving,
    app: &str,
    rule: &QueryAnalysisRule,
    query: &mut AnalysedQuery,
) -> Result<bool> {
    let Some(name) = rule.spec.category.as_deref() else {
        return Ok(false);
    };
    let ready = serving
        .ready::<CategoryModel>(Target::new(app, Some(name)), Function::Category)
        .await?;
    query.categories = ready.model.predict(query.text(), CATEGORIES).categories;
    query.stages.push(part(
        "categories",
        Function::Category,
        name,
        ready.generation,
    ));
    Ok(true)
}
