//! The `analyzer` trainer: the items are read once, then words are learned on the window before the held-out
//! days and measured on the held-out searches; the served lexicon is learned again on the whole window.

use super::learn::LearnSettings;
use super::model::{AnalyzerModel, BaseAnalyzer};
use super::training::{ItemFields, fit, parse_intervention, read_items};
use crate::evaluation::{Metrics, share};
use crate::held_out::{EVALUATING, Evaluation, HeldOutSplit, REFITTING, Window};
use crate::progress::{Step, Steps, step};
use crate::query::log::{LogFilter, QueryLog, READING_LOG};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

pub(crate) const READING_ITEMS: &str = "reading items";
const PLAN: &[Step] = &[
    step(READING_ITEMS, 15),
    step(READING_LOG, 35),
    step(EVALUATING, 25),
    step(REFITTING, 25),
];

/// The base analyzer a run's parameters name.
pub(crate) fn base_analyzer(job: &TrainingJob<'_>) -> Result<BaseAnalyzer, TrainError> {
    let name = job.params().text("base_analyzer")?;
    BaseAnalyzer::parse(name)
        .ok_or_else(|| TrainError::Failed(format!("unknown base_analyzer '{name}'")))
}

/// How the analyzer segments the held-out searches, next to the base analyzer alone.
fn evaluate(model: &AnalyzerModel, log: &QueryLog, held_out: Window, filter: LogFilter) -> Metrics {
    let base = AnalyzerModel::base(model.base_analyzer());
    let (kept, _) = log.kept(held_out.from_ms, held_out.to_ms, filter);
    let (mut cjk_base, mut single_base, mut cjk_model, mut single_model) = (0u64, 0u64, 0u64, 0u64);
    let (mut with_word, mut tokens_base, mut tokens_model) = (0u64, 0u64, 0u64);
    let is_cjk_token = |t: &str| t.chars().any(crate::query::is_cjk);
    for &s in &kept {
        let query = log.query(log.searches[s as usize].query);
        let b = base.analyze(query);
        let m = model.analyze(query);
        tokens_base += b.len() as u64;
        tokens_model += m.len() as u64;
        for t in b.iter().filter(|t| is_cjk_token(&t.text)) {
            cjk_base += 1;
            single_base += u64::from(t.text.chars().count() == 1);
        }
        for t in m.iter().filter(|t| is_cjk_token(&t.text)) {
            cjk_model += 1;
            single_model += u64::from(t.text.chars().count() == 1);
        }
        with_word += u64::from(m.iter().any(|t| t.source.is_some()));
    }
    let mut metrics = Metrics::default();
    metrics.put("holdout_searches", kept.len() as u64);
    if let Some(v) = share(with_word, kept.len() as u64) {
        metrics.put("holdout_searches_with_lexicon_word", v);
    }
    if let Some(v) = share(single_base, cjk_base) {
        metrics.put("holdout_single_char_share_base", v);
    }
    if let Some(v) = share(single_model, cjk_model) {
        metrics.put("holdout_single_char_share", v);
    }
    if !kept.is_empty() {
        metrics.put(
            "holdout_tokens_per_search_base",
            crate::evaluation::rounded(tokens_base as f64 / kept.len() as f64),
        );
        metrics.put(
            "holdout_tokens_per_search",
            crate::evaluation::rounded(tokens_model as f64 / kept.len() as f64),
        );
    }
    metrics
}

pub struct AnalyzerTrainer;

impl Trainer for AnalyzerTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let p = job.params();
        let split = HeldOutSplit::read(job)?;
        let base = base_analyzer(job)?;
        let fields = ItemFields::read(job)?;
        let settings = LearnSettings {
            min_count: p.int("min_count")?.max(1) as f64,
            min_cohesion: p.float("min_cohesion")?,
            min_boundary_entropy: p.float("min_boundary_entropy")?,
            learn_phrases: p.flag("learn_phrases")?,
        };
        let filter = LogFilter {
            user_query_cap: p.int("user_query_cap")?.max(1) as u32,
            drop_no_result: false,
            drop_no_click: false,
        };
        let intervention = match job.resource("intervention_dict") {
            Some(content) => parse_intervention(content, base).map_err(TrainError::Failed)?,
            None => Default::default(),
        };
        let mut steps = Steps::new(progress, PLAN);
        steps.enter(READING_ITEMS)?;
        let items = read_items(job, &fields, base, &mut steps)?;
        steps.enter(READING_LOG)?;
        let read = Window {
            from_ms: split.evaluated_window().from_ms,
            to_ms: split.whole_window().to_ms,
        };
        let log = QueryLog::read(job.data, read, &mut steps)?;
        let no_intervention = Default::default();
        let (served, mut metrics) = split.evaluate_then_refit(
            &mut steps,
            |fit_on| {
                // The dictionary applies to the served model only: the evaluation measures what was learned.
                let rules = if fit_on.is_served() {
                    &intervention
                } else {
                    &no_intervention
                };
                Ok(fit(
                    base,
                    settings,
                    &items,
                    &log,
                    fit_on.window(),
                    filter,
                    rules,
                ))
            },
            |model, evaluation: Evaluation| Ok(evaluate(model, &log, evaluation.held_out, filter)),
        )?;
        let words = served.words();
        let learned = words
            .iter()
            .filter(|w| w.source == super::WordSource::Learned);
        metrics.put("base_analyzer", base.as_str());
        metrics.put(
            "learned_words",
            learned.clone().filter(|w| !w.text.contains(' ')).count(),
        );
        metrics.put(
            "learned_names",
            learned.filter(|w| w.text.contains(' ')).count(),
        );
        metrics.put(
            "entities",
            words.iter().filter(|w| w.entity.is_some()).count(),
        );
        metrics.put("dictionary_words", intervention.words.len());
        metrics.put("dictionary_splits", intervention.splits.len());
        metrics.put("items", items.texts.len());
        metrics.put("log_searches", log.stats.searches);
        let artifact = served.encode()?;
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into(),
            passed_quality_gate: true,
        })
    }
}
