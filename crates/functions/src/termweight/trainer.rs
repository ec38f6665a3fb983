//! The `termweight` trainer: items and the query log are read once; a model fitted on the window before the
//! held-out days is evaluated on them against an IDF baseline, and the served model is refit on the whole window.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::WindowCounts;

use super::model::{
    FEATURES, Level, TermStats, TermweightModel, Thresholds, idf, parse_levels, parse_stop_words,
};
use crate::analyzer::learn::LearnSettings;
use crate::analyzer::training::{
    Intervention, ItemFields, ItemTexts, fit as fit_analyzer, read_items,
};
use crate::analyzer::{AnalyzerModel, BaseAnalyzer, Token};
use crate::evaluation::{Metrics, rounded, share, spearman};
use crate::held_out::{EVALUATING, Evaluation, HeldOutSplit, REFITTING, Window};
use crate::progress::{Step, Steps, step};
use crate::query::log::{LogFilter, QueryLog, READING_LOG};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob, ensure_ready};

const READING_ITEMS: &str = "reading items";
const PLAN: &[Step] = &[
    step(READING_ITEMS, 10),
    step(READING_LOG, 40),
    step(EVALUATING, 25),
    step(REFITTING, 25),
];
/// Clicked queries a term needs, all with (almost) no clicked item holding it, to be learned as a stop word.
const STOP_WORD_QUERIES: u32 = 20;
const STOP_WORD_RECALL: f32 = 0.05;
const EPOCHS: usize = 300;
const L2: f32 = 1e-4;

/// What a fit reads, shared by the evaluated and the served fit.
struct Inputs<'a> {
    base: BaseAnalyzer,
    items: &'a ItemTexts,
    item_index: HashMap<&'a str, u32>,
    log: &'a QueryLog,
    filter: LogFilter,
    stop_words: Option<&'a str>,
    levels: Option<&'a str>,
    learn_stop_words: bool,
}

/// The distinct items clicked after a search (before `to_ms`) that the catalogue has.
fn clicked_items(inputs: &Inputs<'_>, search: u32, to_ms: i64) -> Vec<u32> {
    let mut items: Vec<u32> = inputs
        .log
        .clicks_of(search, to_ms)
        .filter_map(|c| inputs.item_index.get(inputs.log.item(c.item)).copied())
        .collect();
    items.sort_unstable();
    items.dedup();
    items
}

fn term_set(analyzer: &AnalyzerModel, text: &str) -> HashSet<String> {
    analyzer.analyze(text).into_iter().map(|t| t.text).collect()
}

/// Term recall of each term of `tokens`: the share of `clicked` items whose text holds it.
fn recalls(tokens: &[Token], sets: &[&HashSet<String>]) -> Vec<f32> {
    tokens
        .iter()
        .map(|t| sets.iter().filter(|s| s.contains(&t.text)).count() as f32 / sets.len() as f32)
        .collect()
}

fn fit(inputs: &Inputs<'_>, window: Window) -> Result<TermweightModel, TrainError> {
    let analyzer = fit_analyzer(
        inputs.base,
        LearnSettings::DEFAULT,
        inputs.items,
        inputs.log,
        window,
        inputs.filter,
        &Intervention::default(),
    );
    let item_terms: Vec<HashSet<String>> = inputs
        .items
        .texts
        .iter()
        .map(|t| term_set(&analyzer, t))
        .collect();
    let mut stats: HashMap<String, TermStats> = HashMap::new();
    for terms in &item_terms {
        for t in terms {
            stats.entry(t.clone()).or_default().item_df += 1;
        }
    }
    let (kept, _) = inputs.log.kept(window.from_ms, window.to_ms, inputs.filter);
    let mut query_tokens: HashMap<u32, Vec<Token>> = HashMap::new();
    // Per (query, position): summed recall and searches; per term: clicks by category.
    let mut labels: HashMap<(u32, usize), (f32, u32)> = HashMap::new();
    let mut categories: HashMap<String, HashMap<u32, u32>> = HashMap::new();
    for &s in &kept {
        let query = inputs.log.searches[s as usize].query;
        let tokens = query_tokens
            .entry(query)
            .or_insert_with(|| analyzer.analyze(inputs.log.query(query)));
        let clicked = clicked_items(inputs, s, window.to_ms);
        if clicked.is_empty() || tokens.is_empty() {
            continue;
        }
        let sets: Vec<&HashSet<String>> =
            clicked.iter().map(|&i| &item_terms[i as usize]).collect();
        let r = recalls(tokens, &sets);
        for (position, recall) in r.into_iter().enumerate() {
            let label = labels.entry((query, position)).or_default();
            label.0 += recall;
            label.1 += 1;
        }
        for t in tokens.iter() {
            let by_category = categories.entry(t.text.clone()).or_default();
            for &i in &clicked {
                if let Some(c) = inputs.items.category[i as usize] {
                    *by_category.entry(c).or_default() += 1;
                }
            }
        }
    }
    for tokens in query_tokens.values() {
        let distinct: HashSet<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        for t in distinct {
            stats.entry(t.to_string()).or_default().query_df += 1;
        }
    }
    let category_count = (inputs.items.categories.len() as f32).max(2.0);
    for (term, by_category) in &categories {
        let total: u32 = by_category.values().sum();
        if total == 0 {
            continue;
        }
        let entropy: f32 = by_category
            .values()
            .map(|&n| {
                let p = n as f32 / total as f32;
                -p * p.ln()
            })
            .sum();
        if let Some(s) = stats.get_mut(term) {
            s.click_entropy = Some((entropy / category_count.ln()).clamp(0.0, 1.0));
        }
    }
    let mut model = TermweightModel {
        analyzer,
        stats,
        items: inputs.items.texts.len() as u32,
        queries: query_tokens.len() as u32,
        coefficients: vec![0.0; FEATURES],
        stop_words: HashSet::new(),
        learned_stop_words: 0,
        intervention: HashMap::new(),
    };
    // Examples: one per (query, position), its mean recall, weighted by the square root of its searches.
    let mut examples: Vec<([f32; FEATURES], f32, f32)> = Vec::with_capacity(labels.len());
    for (&(query, position), &(sum, n)) in &labels {
        let tokens = &query_tokens[&query];
        let label = sum / n as f32;
        examples.push((
            model.features(&tokens[position], position, tokens.len()),
            label,
            (n as f32).sqrt(),
        ));
        let s = model
            .stats
            .entry(tokens[position].text.clone())
            .or_default();
        s.recall_sum += label;
        s.recall_queries += 1;
    }
    examples.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.total_cmp(&b.2)));
    model.coefficients = fit_logistic(&examples);
    let levels_source = inputs.levels;
    if let Some(content) = levels_source {
        model.intervention = parse_levels(content, &model.analyzer).map_err(TrainError::Failed)?;
    }
    if let Some(content) = inputs.stop_words {
        model.stop_words = parse_stop_words(content, &model.analyzer);
    }
    if inputs.learn_stop_words {
        let learned: Vec<String> = model
            .stats
            .iter()
            .filter(|(_, s)| {
                s.recall_queries >= STOP_WORD_QUERIES
                    && s.recall_sum / (s.recall_queries as f32) <= STOP_WORD_RECALL
            })
            .map(|(t, _)| t.clone())
            .filter(|t| !model.intervention.contains_key(t))
            .collect();
        model.learned_stop_words = learned.len();
        model.stop_words.extend(learned);
    }
    Ok(model)
}

/// Logistic regression on soft labels (cross-entropy), full-batch gradient descent with a little L2.
fn fit_logistic(examples: &[([f32; FEATURES], f32, f32)]) -> Vec<f32> {
    let mut w = vec![0.0f32; FEATURES];
    let total: f32 = examples.iter().map(|e| e.2).sum::<f32>().max(1e-6);
    let mut squared = [1e-8f32; FEATURES];
    for _ in 0..EPOCHS {
        let mut gradient = [0.0f32; FEATURES];
        for (x, y, weight) in examples {
            let z: f32 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let g = (p - y) * weight / total;
            for (gk, xk) in gradient.iter_mut().zip(x) {
                *gk += g * xk;
            }
        }
        // AdaGrad: features on very different scales converge together.
        for k in 0..FEATURES {
            let g = gradient[k] + L2 * w[k];
            squared[k] += g * g;
            w[k] -= 0.5 * g / squared[k].sqrt();
        }
    }
    w
}

/// Rank correlation with held-out term recall and the share of clicked items still matched when only high- and
/// mid-level terms are required, for the model and for IDF weights.
fn evaluate(
    model: &TermweightModel,
    inputs: &Inputs<'_>,
    held_out: Window,
    thresholds: Thresholds,
) -> Metrics {
    let (kept, _) = inputs
        .log
        .kept(held_out.from_ms, held_out.to_ms, inputs.filter);
    let analyzer = model.analyzer();
    let mut item_terms: HashMap<u32, HashSet<String>> = HashMap::new();
    let (mut predicted, mut baseline, mut truth) = (Vec::new(), Vec::new(), Vec::new());
    let (mut matched, mut matched_idf, mut clicked_total) = (0u64, 0u64, 0u64);
    let (mut required, mut required_idf, mut searches) = (0u64, 0u64, 0u64);
    let mut filler = (0.0f64, 0u64);
    for &s in &kept {
        let query = inputs.log.query(inputs.log.searches[s as usize].query);
        let tokens = analyzer.analyze(query);
        let clicked = clicked_items(inputs, s, held_out.to_ms);
        if clicked.is_empty() || tokens.is_empty() {
            continue;
        }
        for &i in &clicked {
            item_terms
                .entry(i)
                .or_insert_with(|| term_set(analyzer, &inputs.items.texts[i as usize]));
        }
        let sets: Vec<&HashSet<String>> = clicked.iter().map(|i| &item_terms[i]).collect();
        let r = recalls(&tokens, &sets);
        let weights = model.weigh(&tokens, thresholds);
        let idf_weights: Vec<f32> = tokens
            .iter()
            .map(|t| {
                idf(
                    model.stats.get(&t.text).map_or(0, |s| s.item_df),
                    model.items,
                )
            })
            .collect();
        for ((w, b), y) in weights.iter().zip(&idf_weights).zip(&r) {
            predicted.push(f64::from(w.weight));
            baseline.push(f64::from(*b));
            truth.push(f64::from(*y));
            if *y == 0.0 {
                filler.0 += f64::from(w.weight);
                filler.1 += 1;
            }
        }
        searches += 1;
        let needed = |levels: Vec<Level>| -> Vec<&str> {
            tokens
                .iter()
                .zip(levels)
                .filter(|(_, l)| *l != Level::Low)
                .map(|(t, _)| t.text.as_str())
                .collect()
        };
        let by_model = needed(weights.iter().map(|w| w.level).collect());
        let by_idf = needed(idf_weights.iter().map(|&w| thresholds.level(w)).collect());
        required += by_model.len() as u64;
        required_idf += by_idf.len() as u64;
        for &i in &clicked {
            let terms = &item_terms[&i];
            clicked_total += 1;
            matched += u64::from(by_model.iter().all(|t| terms.contains(*t)));
            matched_idf += u64::from(by_idf.iter().all(|t| terms.contains(*t)));
        }
    }
    let mut metrics = Metrics::default();
    metrics.put("holdout_searches", searches);
    metrics.put("holdout_terms", truth.len() as u64);
    if let Some(r) = spearman(&predicted, &truth) {
        metrics.put("spearman", rounded(r));
    }
    if let Some(r) = spearman(&baseline, &truth) {
        metrics.put("baseline_idf_spearman", rounded(r));
    }
    if let Some(v) = share(matched, clicked_total) {
        metrics.put("holdout_clicked_matched", v);
    }
    if let Some(v) = share(matched_idf, clicked_total) {
        metrics.put("baseline_idf_clicked_matched", v);
    }
    if searches > 0 {
        metrics.put(
            "required_terms_per_search",
            rounded(required as f64 / searches as f64),
        );
        metrics.put(
            "baseline_idf_required_terms_per_search",
            rounded(required_idf as f64 / searches as f64),
        );
    }
    if filler.1 > 0 {
        metrics.put(
            "mean_weight_of_unmatched_terms",
            rounded(filler.0 / filler.1 as f64),
        );
    }
    metrics
}

pub struct TermweightTrainer;

impl Trainer for TermweightTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let p = job.params();
        let split = HeldOutSplit::read(job)?;
        let base = crate::analyzer::base_analyzer(job)?;
        let fields = ItemFields::read(job)?;
        let usage = crate::Params::new(job.usage_parameters);
        let thresholds = Thresholds {
            high: usage.float("high_weight")? as f32,
            low: usage.float("low_weight")? as f32,
        };
        let filter = LogFilter {
            user_query_cap: p.int("user_query_cap")?.max(1) as u32,
            drop_no_result: false,
            drop_no_click: false,
        };
        let mut steps = Steps::new(progress, PLAN);
        steps.enter(READING_ITEMS)?;
        let items = read_items(job, &fields, base, &mut steps)?;
        if items.texts.is_empty() {
            return Err(TrainError::InsufficientData(format!(
                "no items: term recall is measured on the text of clicked items ({})",
                fields.text.join(", ")
            )));
        }
        steps.enter(READING_LOG)?;
        let whole = split.whole_window();
        let read = Window {
            from_ms: split.evaluated_window().from_ms,
            to_ms: whole.to_ms,
        };
        let log = QueryLog::read(job.data, read, &mut steps)?;
        let clicks = log
            .clicks
            .iter()
            .filter(|c| log.searches[c.search as usize].at_ms >= whole.from_ms)
            .count() as u64;
        let counts = WindowCounts {
            searches: log.searches_in(whole),
            clicks,
            ..Default::default()
        };
        ensure_ready(
            Function::Termweight,
            &counts,
            format_args!(
                "(searches with a usable raw_query, and clicks joined to them by rn, in the last {} days)",
                split.window_days()
            ),
        )?;
        let inputs = Inputs {
            base,
            items: &items,
            item_index: items
                .ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.as_str(), i as u32))
                .collect(),
            log: &log,
            filter,
            stop_words: job.resource("stop_words"),
            levels: job.resource("intervention_dict"),
            learn_stop_words: p.flag("learn_stop_words")?,
        };
        let (served, mut metrics) = split.evaluate_then_refit(
            &mut steps,
            |fit_on| fit(&inputs, fit_on.window()),
            |model, evaluation: Evaluation| {
                Ok(evaluate(model, &inputs, evaluation.held_out, thresholds))
            },
        )?;
        metrics.put("terms", served.terms());
        metrics.put("stop_words", served.stop_words.len());
        metrics.put("learned_stop_words", served.learned_stop_words);
        metrics.put("intervention_terms", served.intervention.len());
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
