//! The `correction` trainer: item titles and the query log are read once; a model learned on the window before
//! the held-out days corrects what users typed on them, and the served model is learned again on the whole
//! window.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::WindowCounts;

use super::model::{CorrectionModel, Level};
use super::training::{
    Dictionary, Settings, TitleWords, corrections_made, learn, parse_dictionary,
};
use crate::evaluation::{Metrics, share};
use crate::held_out::{EVALUATING, Evaluation, HeldOutSplit, REFITTING, Window};
use crate::progress::{Step, Steps, step};
use crate::query::log::{LogFilter, QueryLog, READING_LOG};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob, ensure_ready};

const READING_ITEMS: &str = "reading item titles";
const PLAN: &[Step] = &[
    step(READING_ITEMS, 5),
    step(READING_LOG, 65),
    step(EVALUATING, 15),
    step(REFITTING, 15),
];

/// A generation that rewrites more than this share of the held-out searches clicked as typed does not serve.
const MAX_FALSE_CORRECTIONS: f64 = 0.05;
/// Clicked held-out searches needed before the false-correction rate is trusted by the gate.
const GATE_MIN_SEARCHES: u64 = 100;

pub struct CorrectionTrainer;

fn fit(
    log: &QueryLog,
    titles: &TitleWords,
    settings: &Settings,
    window: Window,
    dictionary: &Dictionary,
) -> Result<CorrectionModel, TrainError> {
    let mut knowledge = learn(log, titles, settings, window);
    knowledge.rewrites = dictionary.rewrites.clone();
    knowledge.never = dictionary.never.clone();
    CorrectionModel::build(knowledge)
}

/// Counts of one side of the evaluation.
#[derive(Default)]
struct Tally {
    cases: u64,
    rewritten: u64,
    rewritten_right: u64,
    right_at_any_level: u64,
}

impl Tally {
    fn put(&self, metrics: &mut Metrics, suffix: &str) {
        metrics.put(format!("holdout_pairs{suffix}"), self.cases);
        metrics.put(
            format!("precision_level1{suffix}"),
            share(self.rewritten_right, self.rewritten),
        );
        metrics.put(
            format!("recall_level1{suffix}"),
            share(self.rewritten_right, self.cases),
        );
        metrics.put(
            format!("recall{suffix}"),
            share(self.right_at_any_level, self.cases),
        );
    }
}

/// Replays the held-out days on the model learned before them: the corrections users made (precision and
/// recall, also on typos never seen before), and the searches clicked as typed (false corrections).
fn score(
    log: &QueryLog,
    settings: &Settings,
    model: &CorrectionModel,
    evaluation: Evaluation,
) -> Result<Metrics, TrainError> {
    let held = evaluation.held_out;
    let (kept, _) = log.kept(held.from_ms, held.to_ms, settings.filter);
    let (fitted, _) = log.kept(
        evaluation.fit.from_ms,
        evaluation.fit.to_ms,
        settings.filter,
    );
    let seen: HashSet<u32> = fitted
        .iter()
        .map(|&s| log.searches[s as usize].query)
        .collect();
    let mut answers: HashMap<u32, Option<(String, Level)>> = HashMap::new();
    let mut answer = |query: u32| {
        answers
            .entry(query)
            .or_insert_with(|| {
                model
                    .correct(log.query(query))
                    .map(|c| (c.corrected, c.level))
            })
            .clone()
    };

    let (mut all, mut unseen) = (Tally::default(), Tally::default());
    for (first, second) in corrections_made(log, &kept, held.to_ms, settings) {
        let typed = log.searches[first as usize].query;
        let right = log.query(log.searches[second as usize].query);
        let predicted = answer(typed);
        let tallies: &mut [&mut Tally] = if seen.contains(&typed) {
            &mut [&mut all]
        } else {
            &mut [&mut all, &mut unseen]
        };
        for t in tallies.iter_mut() {
            t.cases += 1;
            if let Some((corrected, level)) = &predicted {
                let is_right = corrected == right;
                t.right_at_any_level += u64::from(is_right);
                if *level == Level::Rewrite {
                    t.rewritten += 1;
                    t.rewritten_right += u64::from(is_right);
                }
            }
        }
    }

    // Searches clicked as typed: a correction of one is a false correction.
    let (mut clicked, mut rewritten, mut suggested) = (0u64, 0u64, 0u64);
    let mut queries: HashMap<u32, Option<Level>> = HashMap::new();
    for &s in &kept {
        if log.clicks_of(s, held.to_ms).next().is_none() {
            continue;
        }
        let query = log.searches[s as usize].query;
        let level = answer(query).map(|(_, level)| level);
        queries.insert(query, level);
        clicked += 1;
        rewritten += u64::from(level == Some(Level::Rewrite));
        suggested += u64::from(level == Some(Level::Suggest));
    }
    let rewritten_queries = queries
        .values()
        .filter(|l| **l == Some(Level::Rewrite))
        .count() as u64;

    let mut metrics = Metrics::default();
    all.put(&mut metrics, "");
    unseen.put(&mut metrics, "_unseen");
    metrics.put("holdout_clicked_searches", clicked);
    metrics.put("holdout_clicked_queries", queries.len());
    metrics.put("false_correction_rate", share(rewritten, clicked));
    metrics.put(
        "false_correction_rate_queries",
        share(rewritten_queries, queries.len() as u64),
    );
    metrics.put("false_suggestion_rate", share(suggested, clicked));
    Ok(metrics)
}

impl Trainer for CorrectionTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let p = job.params();
        let split = HeldOutSplit::read(job)?;
        let settings = Settings {
            // Misspelled searches often find nothing: they count here.
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap")?.max(1) as u32,
                drop_no_result: false,
                drop_no_click: false,
            },
            min_target_users: p.int("min_target_users")?.max(1) as u32,
            max_edits: p.int("max_edit_distance")?.clamp(1, 2) as u8,
            session_ms: p.int("session_minutes")?.max(1) * 60_000,
            min_reformulations: p.int("min_reformulations")?.max(1) as u32,
            pinyin: p.flag("pinyin")?,
        };
        let title_field = p.text("title_field")?;
        let dictionary = parse_dictionary(job.resource("intervention_dict"))?;

        let mut steps = Steps::new(progress, PLAN);
        steps.enter(READING_ITEMS)?;
        let mut titles = TitleWords::default();
        steps.for_each_item(job.data, |item| {
            if let Some(title) = item.attributes.get(title_field).and_then(|v| v.as_str()) {
                titles.add(title);
            }
        })?;
        steps.enter(READING_LOG)?;
        let whole = split.whole_window();
        let read = Window {
            from_ms: split.evaluated_window().from_ms,
            to_ms: whole.to_ms,
        };
        let log = QueryLog::read(job.data, read, &mut steps)?;
        let counts = WindowCounts {
            searches: log.searches_in(whole),
            ..Default::default()
        };
        ensure_ready(
            Function::Correction,
            &counts,
            format_args!(
                "(searches with a usable raw_query in the last {} days)",
                split.window_days()
            ),
        )?;

        let (served, mut metrics) = split.evaluate_then_refit(
            &mut steps,
            |fit_on| fit(&log, &titles, &settings, fit_on.window(), &dictionary),
            |evaluated, evaluation| score(&log, &settings, evaluated, evaluation),
        )?;
        let artifact = served.encode()?;
        let false_rate = metrics_value(&metrics, "false_correction_rate");
        let clicked = metrics_value(&metrics, "holdout_clicked_searches").unwrap_or(0.0) as u64;
        let gate_open = clicked < GATE_MIN_SEARCHES
            || false_rate.is_none_or(|rate| rate <= MAX_FALSE_CORRECTIONS);
        let passed = gate_open && !served.is_empty();
        metrics.put(
            "quality_gate",
            if passed {
                "passed".to_string()
            } else if served.is_empty() {
                "failed: nothing to correct towards (no clicked queries, no titles)".to_string()
            } else {
                format!(
                    "failed: false_correction_rate above {MAX_FALSE_CORRECTIONS} on held-out searches clicked as typed"
                )
            },
        );
        metrics.put("words", served.words());
        metrics.put("target_queries", served.targets());
        metrics.put("chinese_entries", served.chinese_entries());
        metrics.put("observed_corrections", served.observed());
        metrics.put("deletion_keys", served.deletion_keys());
        metrics.put("dictionary_rewrites", dictionary.rewrites.len());
        metrics.put("dictionary_never", dictionary.never.len());
        metrics.put("distinct_queries", log.query_count());
        metrics.put("log_searches", log.stats.searches);
        metrics.put("unusable_queries", log.stats.unusable_queries);
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into(),
            passed_quality_gate: passed,
        })
    }
}

fn metrics_value(metrics: &Metrics, name: &str) -> Option<f64> {
    metrics.get(name).and_then(serde_json::Value::as_f64)
}
