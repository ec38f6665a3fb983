//! The stages of the analysis, in the order [`super`] lists them. Each reads the rule's instance for its
//! function, skips itself when the rule names none, and records the instance and generation it used.

use algocenter_domain::query_rule::QueryAnalysisRule;
use algocenter_domain::{Function, Result};
use algocenter_functions::analyzer::{AnalyzerModel, BaseAnalyzer, Token};
use algocenter_functions::category::CategoryModel;
use algocenter_functions::termweight::TermweightModel;

use super::{AnalysedQuery, AnalysedToken, StagePart};
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
) -> Result<()> {
    let Some(name) = rule.spec.termweight.as_deref() else {
        return Ok(());
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
    Ok(())
}

/// The categories of the query from the rule's category instance.
pub(super) async fn categorise(
    serving: &Serving,
    app: &str,
    rule: &QueryAnalysisRule,
    query: &mut AnalysedQuery,
) -> Result<()> {
    let Some(name) = rule.spec.category.as_deref() else {
        return Ok(());
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
    Ok(())
}
