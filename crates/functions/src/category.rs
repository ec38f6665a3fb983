//! `category`: which item categories a query is about, with a confidence for every query.
//!
//! Two sources, combined:
//! 1. **Clicks.** For each query, the categories (the items' full `category_field` paths) its clicks land in,
//!    joined through `rn` and counted after the anti-spam cap. A query with at least `min_evidence` clicks answers
//!    from them, smoothed with `smoothing` pseudo-clicks of the text model's answer:
//!    `P(c|q) = (clicks(q,c) + smoothing × P_text(c|q)) / (clicks(q) + smoothing)`.
//! 2. **Text.** A multinomial naive Bayes classifier (a linear model over term counts) learned from item titles
//!    labelled with their category, each category's own name, and the training queries labelled with their
//!    clicks. Terms are words and CJK character pairs ([`crate::query::terms`]); terms with less than two
//!    documents' weight are dropped.
//!    It answers every other query, including queries never seen; a query with no known term gets the
//!    categories' prior.
//!
//! The `intervention_dict` (`query<TAB>category<TAB>level` lines) then overrides answers: level 2 (strong)
//! puts the category first with score 1, level 1 (weak) keeps it with a score of at least 0.5, level 0 (none)
//! removes it.
//!
//! **Evaluation** trains on the window before the held-out days and predicts every query searched and clicked
//! in them: precision at k (the share of the top-k predicted categories, those scored 0.05 or more, that
//! received a held-out click of the query), recall at k (the share of held-out clicks landing in the top-k
//! predicted categories), F1, top-1 accuracy against each query's most clicked category, apart for queries
//! the model had click evidence for and queries it had never seen. `recall` is recall@3 in percent, as in
//! OpenSearch's `ExtendInfo`. The served model is then refit on the whole window.

use std::collections::HashMap;

use algocenter_domain::data::{DAY_MS, WindowCounts, readiness};
use algocenter_domain::document::DocumentKind;
use algocenter_domain::{Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::query::log::{LogFilter, QueryLog};
use crate::query::{normalise, terms};
use crate::scan::{Scan, param_error, window_days};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

const MAGIC: &[u8; 5] = b"ACCAT";
const FORMAT_V1: u8 = 1;

/// Most categories a request can ask for.
pub const MAX_TOP_K: usize = 20;
/// Categories kept per known query: as many as a request can ask for.
const KEPT_PER_QUERY: usize = MAX_TOP_K;
/// Additive smoothing of the text model's term counts.
const ALPHA: f64 = 0.1;
/// Weight of a category's own name as a training document of the text model.
const NAME_WEIGHT: f64 = 5.0;
/// Predictions scored below this are not counted by the evaluation's precision.
const EVAL_MIN_SCORE: f32 = 0.05;

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// The query's own clicks (smoothed with the text model).
    Clicks,
    /// The text model.
    Text,
    /// No known term: the categories' prior.
    Prior,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Clicks => "clicks",
            Source::Text => "text",
            Source::Prior => "prior",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Categories with scores in [0, 1], best first.
    pub categories: Vec<(String, f32)>,
    pub source: Source,
    /// Whether the intervention dictionary has rules for the query (they were applied).
    pub intervened: bool,
}

/// A trained `category` generation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CategoryModel {
    categories: Vec<String>,
    /// Queries with enough clicks: their best categories.
    known: HashMap<String, Vec<(u16, f32)>>,
    vocabulary: HashMap<String, u32>,
    /// Per term: the categories it was seen with and `ln((n + α) / α)`.
    postings: Vec<Vec<(u16, f32)>>,
    /// Per category: `ln P(c)`.
    prior: Vec<f32>,
    /// Per category: `ln(α / (N_c + α V))`, the log-probability of any term not seen with it.
    unseen: Vec<f32>,
    /// Normalised query → (category, level).
    intervention: HashMap<String, Vec<(String, u8)>>,
}

fn softmax(scores: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        total += *s;
    }
    if total > 0.0 {
        for s in scores.iter_mut() {
            *s /= total;
        }
    }
}

impl CategoryModel {
    /// The text model's distribution over categories for a normalised query, or `None` when no term is known.
    fn text_distribution(&self, normal: &str) -> Option<Vec<f64>> {
        let mut scores: Vec<f64> = self.prior.iter().map(|&p| f64::from(p)).collect();
        let mut known_terms = 0usize;
        for term in terms(normal) {
            let Some(&t) = self.vocabulary.get(&term) else {
                continue;
            };
            known_terms += 1;
            for &(c, boost) in &self.postings[t as usize] {
                scores[usize::from(c)] += f64::from(boost);
            }
        }
        if known_terms == 0 {
            return None;
        }
        for (s, &u) in scores.iter_mut().zip(&self.unseen) {
            *s += known_terms as f64 * f64::from(u);
        }
        softmax(&mut scores);
        Some(scores)
    }

    fn prior_distribution(&self) -> Vec<f64> {
        let mut scores: Vec<f64> = self.prior.iter().map(|&p| f64::from(p)).collect();
        softmax(&mut scores);
        scores
    }

    fn top(&self, distribution: &[f64], k: usize) -> Vec<(u16, f32)> {
        let mut ranked: Vec<(u16, f32)> = distribution
            .iter()
            .enumerate()
            .map(|(c, &p)| (c as u16, p as f32))
            .collect();
        let order = |a: &(u16, f32), b: &(u16, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        // Only the best k need sorting, however many categories the shop has.
        if k < ranked.len() {
            ranked.select_nth_unstable_by(k, order);
            ranked.truncate(k);
        }
        ranked.sort_by(order);
        ranked
    }

    /// The best `top_k` categories of a query (normalised here).
    pub fn predict(&self, query: &str, top_k: usize) -> Prediction {
        let normal = normalise(query);
        let top_k = top_k.clamp(1, MAX_TOP_K);
        let (ranked, source) = match self.known.get(&normal) {
            Some(known) => (known.clone(), Source::Clicks),
            None => match self.text_distribution(&normal) {
                Some(d) => (self.top(&d, KEPT_PER_QUERY.max(top_k)), Source::Text),
                None => (
                    self.top(&self.prior_distribution(), KEPT_PER_QUERY.max(top_k)),
                    Source::Prior,
                ),
            },
        };
        let mut categories: Vec<(String, f32)> = ranked
            .into_iter()
            .filter_map(|(c, p)| {
                self.categories
                    .get(usize::from(c))
                    .map(|name| (name.clone(), p))
            })
            .collect();
        let mut intervened = false;
        if let Some(rules) = self.intervention.get(&normal) {
            intervened = true;
            for (category, level) in rules {
                let at = categories.iter().position(|(c, _)| c == category);
                match (level, at) {
                    (0, Some(i)) => {
                        categories.remove(i);
                    }
                    (0, None) => {}
                    (1, Some(i)) => categories[i].1 = categories[i].1.max(0.5),
                    (1, None) => categories.push((category.clone(), 0.5)),
                    (_, Some(i)) => categories[i].1 = 1.0,
                    (_, None) => categories.push((category.clone(), 1.0)),
                }
            }
            // Strong rules first, then by score.
            let strong = |c: &str| rules.iter().any(|(rule, level)| rule == c && *level == 2);
            categories.sort_by(|a, b| strong(&b.0).cmp(&strong(&a.0)).then(b.1.total_cmp(&a.1)));
        }
        categories.truncate(top_k);
        Prediction {
            categories,
            source,
            intervened,
        }
    }

    pub fn category_count(&self) -> usize {
        self.categories.len()
    }

    pub fn known_queries(&self) -> usize {
        self.known.len()
    }

    pub fn vocabulary_size(&self) -> usize {
        self.vocabulary.len()
    }

    fn encode(&self) -> Result<Vec<u8>, TrainError> {
        let body = postcard::to_allocvec(self)
            .map_err(|e| TrainError::Failed(format!("encoding the model: {e}")))?;
        let mut out = Vec::with_capacity(body.len() + MAGIC.len() + 1);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_V1);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads an artifact; a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not a category model artifact"))?;
        let model: CategoryModel = match body.split_first() {
            Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest).map_err(|e| {
                Error::internal(format_args!("corrupt category model artifact: {e}"))
            })?,
            Some((format, _)) => {
                return Err(Error::internal(format_args!(
                    "category model artifact of unknown format {format}"
                )));
            }
            None => return Err(Error::internal("truncated category model artifact")),
        };
        // Indices must stay inside the model: a corrupt file must not panic a request.
        let n = model.categories.len();
        let consistent = model.prior.len() == n
            && model.unseen.len() == n
            && model
                .vocabulary
                .values()
                .all(|&t| (t as usize) < model.postings.len())
            && model
                .postings
                .iter()
                .flatten()
                .chain(model.known.values().flatten())
                .all(|&(c, _)| usize::from(c) < n);
        if !consistent {
            return Err(Error::internal(
                "corrupt category model artifact: an index points outside the model",
            ));
        }
        Ok(model)
    }
}

/// Parses the intervention dictionary: `query<TAB>category<TAB>0|1|2` lines; `#` comments and blank lines are
/// skipped. A malformed line fails the training run with its line number.
pub fn parse_intervention(content: &str) -> Result<HashMap<String, Vec<(String, u8)>>, String> {
    let mut rules: HashMap<String, Vec<(String, u8)>> = HashMap::new();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split('\t').collect();
        let [query, category, level] = parts.as_slice() else {
            return Err(format!(
                "intervention_dict line {}: expected 'query<TAB>category<TAB>0|1|2'",
                n + 1
            ));
        };
        let level = match level.trim() {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            other => {
                return Err(format!(
                    "intervention_dict line {}: level must be 0, 1 or 2, got '{other}'",
                    n + 1
                ));
            }
        };
        let query = normalise(query);
        let category = category.trim();
        if query.is_empty() || category.is_empty() {
            return Err(format!(
                "intervention_dict line {}: query and category must not be empty",
                n + 1
            ));
        }
        let list = rules.entry(query).or_default();
        list.retain(|(c, _)| c != category);
        list.push((category.to_string(), level));
    }
    Ok(rules)
}

/// The item side of training: categories, each item's category, and the text model's item documents.
struct Catalogue {
    categories: Vec<String>,
    category_ids: HashMap<String, u16>,
    item_category: HashMap<String, u16>,
    /// (terms, category) of every item title, terms as numbers of `terms`.
    titles: Vec<(Vec<u32>, u16)>,
    /// Every term seen in titles, category names and queries, numbered once (a title's terms as strings took
    /// gigabytes for a million Chinese titles).
    terms: Terms,
    /// The terms of each category's name.
    name_terms: Vec<Vec<u32>>,
    /// The terms of each query of the log, by query id.
    query_terms: Vec<Vec<u32>>,
}

#[derive(Default)]
struct Terms {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Terms {
    fn of(&mut self, text: &str) -> Vec<u32> {
        terms(text)
            .into_iter()
            .map(|term| match self.ids.get(&term) {
                Some(&id) => id,
                None => {
                    let id = self.names.len() as u32;
                    self.names.push(term.clone());
                    self.ids.insert(term, id);
                    id
                }
            })
            .collect()
    }
}

impl Catalogue {
    /// Numbers the terms of category names and of the log's queries, before fitting.
    fn add_text(&mut self, log: &QueryLog) {
        self.name_terms = (0..self.categories.len())
            .map(|c| {
                let name = normalise(&self.categories[c]);
                self.terms.of(&name)
            })
            .collect();
        self.query_terms = (0..log.query_count() as u32)
            .map(|q| self.terms.of(log.query(q)))
            .collect();
    }
}

fn read_catalogue(job: &TrainingJob<'_>, scan: &mut Scan<'_>) -> Result<Catalogue, TrainError> {
    let title_field = job
        .parameters
        .get("title_field")
        .map_err(param_error)?
        .to_string();
    let category_field = job
        .parameters
        .get("category_field")
        .map_err(param_error)?
        .to_string();
    let mut catalogue = Catalogue {
        categories: Vec::new(),
        category_ids: HashMap::new(),
        item_category: HashMap::new(),
        titles: Vec::new(),
        terms: Terms::default(),
        name_terms: Vec::new(),
        query_terms: Vec::new(),
    };
    let result = job.data.for_each_document(DocumentKind::Item, &mut |item| {
        let Some(path) = item.text(&category_field) else {
            return Ok(());
        };
        let path = path.trim();
        if path.is_empty() {
            return Ok(());
        }
        let c = match catalogue.category_ids.get(path) {
            Some(&c) => c,
            None if catalogue.categories.len() < usize::from(u16::MAX) => {
                let c = catalogue.categories.len() as u16;
                catalogue.categories.push(path.to_string());
                catalogue.category_ids.insert(path.to_string(), c);
                c
            }
            None => return Ok(()),
        };
        catalogue.item_category.insert(item.id.clone(), c);
        if let Some(title) = item.text(&title_field) {
            let title_terms = catalogue.terms.of(&normalise(&title));
            catalogue.titles.push((title_terms, c));
        }
        Ok(())
    });
    scan.finish(result)?;
    Ok(catalogue)
}

struct CategorySettings {
    window_days: i64,
    min_evidence: u32,
    smoothing: f64,
    filter: LogFilter,
}

/// Per query: clicks per category, from the kept searches of `[from, to)`.
fn click_counts(
    log: &QueryLog,
    catalogue: &Catalogue,
    settings: &CategorySettings,
    from: i64,
    to: i64,
) -> HashMap<u32, HashMap<u16, u32>> {
    let (kept, _) = log.kept(from, to, settings.filter);
    let mut counts: HashMap<u32, HashMap<u16, u32>> = HashMap::new();
    for s in kept {
        let query = log.searches[s as usize].query;
        for click in log.clicks_of(s, to) {
            if let Some(&c) = catalogue.item_category.get(log.item(click.item)) {
                *counts.entry(query).or_default().entry(c).or_default() += 1;
            }
        }
    }
    counts
}

/// Trains a model on the clicks of `[to - window, to)` and the catalogue.
fn fit(
    log: &QueryLog,
    catalogue: &Catalogue,
    settings: &CategorySettings,
    to: i64,
    intervention: &HashMap<String, Vec<(String, u8)>>,
) -> CategoryModel {
    let clicks = click_counts(
        log,
        catalogue,
        settings,
        to - settings.window_days * DAY_MS,
        to,
    );
    let n = catalogue.categories.len();

    // Text model: weighted term counts per category.
    let mut counts: Vec<HashMap<u16, f64>> = vec![HashMap::new(); catalogue.terms.names.len()];
    let mut class_terms = vec![0.0f64; n];
    let mut class_docs = vec![0.0f64; n];
    let mut add = |terms: &[u32], c: u16, weight: f64| {
        class_docs[usize::from(c)] += weight;
        for &t in terms {
            *counts[t as usize].entry(c).or_default() += weight;
            class_terms[usize::from(c)] += weight;
        }
    };
    for (terms, c) in &catalogue.titles {
        add(terms, *c, 1.0);
    }
    for (c, terms) in catalogue.name_terms.iter().enumerate() {
        add(terms, c as u16, NAME_WEIGHT);
    }
    for (&query, by_category) in &clicks {
        let query_terms = &catalogue.query_terms[query as usize];
        for (&c, &k) in by_category {
            add(query_terms, c, f64::from(k));
        }
    }
    // A term with less than two documents' weight says nothing general.
    let mut vocabulary = HashMap::new();
    let mut postings = Vec::new();
    for (t, by_category) in counts.iter().enumerate() {
        if by_category.values().sum::<f64>() < 2.0 {
            continue;
        }
        vocabulary.insert(catalogue.terms.names[t].clone(), postings.len() as u32);
        let mut posting: Vec<(u16, f32)> = by_category
            .iter()
            .map(|(&c, &k)| (c, ((k + ALPHA) / ALPHA).ln() as f32))
            .collect();
        posting.sort_by_key(|p| p.0);
        postings.push(posting);
    }
    let v = vocabulary.len().max(1) as f64;
    let total_docs: f64 = class_docs.iter().sum::<f64>().max(1.0);
    let prior = class_docs
        .iter()
        .map(|&d| ((d + 1.0) / (total_docs + n as f64)).ln() as f32)
        .collect();
    let unseen = class_terms
        .iter()
        .map(|&k| (ALPHA / (k + ALPHA * v)).ln() as f32)
        .collect();
    let mut model = CategoryModel {
        categories: catalogue.categories.clone(),
        known: HashMap::new(),
        vocabulary,
        postings,
        prior,
        unseen,
        intervention: intervention.clone(),
    };

    // Queries with enough clicks: their clicks, smoothed towards the text model.
    let mut known = HashMap::new();
    for (&query, by_category) in &clicks {
        let total: u32 = by_category.values().sum();
        if total < settings.min_evidence {
            continue;
        }
        let normal = log.query(query);
        let text = model
            .text_distribution(normal)
            .unwrap_or_else(|| model.prior_distribution());
        let mut distribution: Vec<f64> = text
            .iter()
            .enumerate()
            .map(|(c, &p)| {
                let k = by_category.get(&(c as u16)).copied().unwrap_or(0);
                (f64::from(k) + settings.smoothing * p) / (f64::from(total) + settings.smoothing)
            })
            .collect();
        let sum: f64 = distribution.iter().sum();
        if sum > 0.0 {
            distribution.iter_mut().for_each(|p| *p /= sum);
        }
        known.insert(normal.to_string(), model.top(&distribution, KEPT_PER_QUERY));
    }
    model.known = known;
    model
}

/// Sums of the evaluation.
#[derive(Default)]
struct Tally {
    queries: u64,
    clicks: u64,
    predicted: [u64; 2],
    predicted_clicked: [u64; 2],
    clicks_covered: [u64; 2],
    seen: (u64, u64),
    unseen: (u64, u64),
}

fn evaluate(
    model: &CategoryModel,
    log: &QueryLog,
    catalogue: &Catalogue,
    settings: &CategorySettings,
    holdout: (i64, i64),
    trained: &HashMap<u32, HashMap<u16, u32>>,
) -> Map<String, Value> {
    let truth = click_counts(log, catalogue, settings, holdout.0, holdout.1);
    let mut t = Tally::default();
    for (&query, by_category) in &truth {
        let total: u32 = by_category.values().sum();
        if total == 0 {
            continue;
        }
        t.queries += 1;
        t.clicks += u64::from(total);
        // Compare by category name: the evaluated model numbers categories as the catalogue does.
        let prediction = model.predict(log.query(query), 3);
        let predicted: Vec<u16> = prediction
            .categories
            .iter()
            .filter(|(_, p)| *p >= EVAL_MIN_SCORE)
            .filter_map(|(name, _)| catalogue.category_ids.get(name).copied())
            .collect();
        for (i, k) in [1usize, 3].into_iter().enumerate() {
            let top = &predicted[..predicted.len().min(k)];
            t.predicted[i] += top.len() as u64;
            t.predicted_clicked[i] +=
                top.iter().filter(|c| by_category.contains_key(c)).count() as u64;
            t.clicks_covered[i] += top
                .iter()
                .map(|c| u64::from(by_category.get(c).copied().unwrap_or(0)))
                .sum::<u64>();
        }
        let majority = by_category
            .iter()
            .max_by_key(|(c, k)| (**k, std::cmp::Reverse(**c)))
            .map(|(c, _)| *c);
        let correct = u64::from(predicted.first().copied() == majority);
        let evidence: u32 = trained.get(&query).map_or(0, |m| m.values().sum());
        if evidence >= settings.min_evidence {
            t.seen.0 += 1;
            t.seen.1 += correct;
        } else if log.first_seen_ms(query) >= holdout.0 {
            t.unseen.0 += 1;
            t.unseen.1 += correct;
        }
    }
    let ratio =
        |a: u64, b: u64| (b > 0).then(|| ((a as f64 / b as f64) * 10_000.0).round() / 10_000.0);
    let mut metrics = Map::new();
    metrics.insert("holdout_queries".into(), json!(t.queries));
    metrics.insert("holdout_clicks".into(), json!(t.clicks));
    for (i, k) in [1, 3].into_iter().enumerate() {
        let precision = ratio(t.predicted_clicked[i], t.predicted[i]);
        let recall = ratio(t.clicks_covered[i], t.clicks);
        let f1 = match (precision, recall) {
            (Some(p), Some(r)) if p + r > 0.0 => {
                Some(((2.0 * p * r / (p + r)) * 10_000.0).round() / 10_000.0)
            }
            _ => None,
        };
        metrics.insert(format!("precision_at_{k}"), json!(precision));
        metrics.insert(format!("recall_at_{k}"), json!(recall));
        metrics.insert(format!("f1_at_{k}"), json!(f1));
    }
    metrics.insert(
        "recall".into(),
        json!(ratio(t.clicks_covered[1], t.clicks).map(|r| (r * 100.0).round() as i64)),
    );
    metrics.insert(
        "top1_accuracy_seen".into(),
        json!(ratio(t.seen.1, t.seen.0)),
    );
    metrics.insert("holdout_queries_seen".into(), json!(t.seen.0));
    metrics.insert(
        "top1_accuracy_unseen".into(),
        json!(ratio(t.unseen.1, t.unseen.0)),
    );
    metrics.insert("holdout_queries_unseen".into(), json!(t.unseen.0));
    metrics
}

pub struct CategoryTrainer;

impl Trainer for CategoryTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let p = job.parameters;
        let (window_days, holdout_days) = window_days(p)?;
        let settings = CategorySettings {
            window_days,
            min_evidence: p.int("min_evidence").map_err(param_error)?.max(1) as u32,
            smoothing: p.float("smoothing").map_err(param_error)?,
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap").map_err(param_error)?.max(1) as u32,
                drop_no_result: false,
                drop_no_click: false,
            },
        };
        let intervention = match job.resource("intervention_dict") {
            Some(content) => parse_intervention(content).map_err(TrainError::Failed)?,
            None => HashMap::new(),
        };
        let window = window_days * DAY_MS;
        let holdout_start = job.now_ms - holdout_days * DAY_MS;
        let mut scan = Scan::new(progress);
        scan.step("reading items", 1)?;
        let mut catalogue = read_catalogue(job, &mut scan)?;
        if catalogue.categories.is_empty() {
            return Err(TrainError::InsufficientData(format!(
                "no item has a '{}' attribute: the categories to predict come from the items",
                p.get("category_field").map_err(param_error)?
            )));
        }
        let log = QueryLog::read(
            job.data,
            holdout_start - window,
            job.now_ms,
            &mut scan,
            (10, 70),
        )?;
        catalogue.add_text(&log);
        let searches = log
            .searches
            .iter()
            .filter(|s| s.at_ms >= job.now_ms - window)
            .count() as u64;
        let joined_clicks = log
            .clicks
            .iter()
            .filter(|c| log.searches[c.search as usize].at_ms >= job.now_ms - window)
            .count() as u64;
        let ready = readiness(
            Function::Category,
            &WindowCounts {
                searches,
                clicks: joined_clicks,
                ..Default::default()
            },
        );
        if !ready.ready {
            return Err(TrainError::InsufficientData(format!(
                "{} (searches with a usable raw_query, and clicks joined to them by rn, in the last {window_days} days)",
                ready.reason
            )));
        }

        scan.step("evaluating on held-out days", 70)?;
        let evaluated = fit(&log, &catalogue, &settings, holdout_start, &HashMap::new());
        let trained = click_counts(
            &log,
            &catalogue,
            &settings,
            holdout_start - window,
            holdout_start,
        );
        let mut metrics = evaluate(
            &evaluated,
            &log,
            &catalogue,
            &settings,
            (holdout_start, job.now_ms),
            &trained,
        );

        scan.step("fitting the served model", 85)?;
        let served = fit(&log, &catalogue, &settings, job.now_ms, &intervention);
        metrics.insert("categories".into(), json!(served.category_count()));
        metrics.insert(
            "queries_with_click_evidence".into(),
            json!(served.known_queries()),
        );
        metrics.insert("vocabulary".into(), json!(served.vocabulary_size()));
        metrics.insert("intervention_queries".into(), json!(intervention.len()));
        metrics.insert("log_searches".into(), json!(log.stats.searches));
        metrics.insert("unjoined_clicks".into(), json!(log.stats.unjoined_clicks));
        Ok(TrainedModel {
            artifact: served.encode()?,
            metrics,
            passed_quality_gate: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervention_lines_parse_and_bad_ones_name_their_line() {
        let rules =
            parse_intervention("# rules\nApple\t数码>手机\t2\napple\t食品>水果\t0\n\n").unwrap();
        assert_eq!(
            rules["apple"],
            [("数码>手机".to_string(), 2), ("食品>水果".to_string(), 0)]
        );
        assert!(parse_intervention("a\tb").unwrap_err().contains("line 1"));
        assert!(
            parse_intervention("ok\tc\t1\nq\tc\t7")
                .unwrap_err()
                .contains("line 2")
        );
    }

    fn model() -> CategoryModel {
        CategoryModel {
            categories: vec!["a".into(), "b".into(), "c".into()],
            known: HashMap::from([("q".to_string(), vec![(0, 0.6), (1, 0.3), (2, 0.1)])]),
            vocabulary: HashMap::new(),
            postings: Vec::new(),
            prior: vec![(0.5f32).ln(), (0.3f32).ln(), (0.2f32).ln()],
            unseen: vec![0.0; 3],
            intervention: HashMap::new(),
        }
    }

    #[test]
    fn interventions_override_the_answer() {
        let mut m = model();
        m.intervention = parse_intervention("q\tc\t2\nq\ta\t0\nq\td\t1\n").unwrap();
        let p = m.predict("Q", 5);
        assert!(p.intervened);
        assert_eq!(
            p.categories,
            [
                ("c".to_string(), 1.0),
                ("d".to_string(), 0.5),
                ("b".to_string(), 0.3)
            ]
        );
    }

    #[test]
    fn unknown_terms_get_the_prior() {
        let p = model().predict("zzz", 2);
        assert_eq!(p.source, Source::Prior);
        assert_eq!(p.categories.len(), 2);
        assert_eq!(p.categories[0].0, "a");
        assert!((p.categories[0].1 - 0.5).abs() < 1e-3);
    }

    #[test]
    fn corrupt_artifacts_are_errors() {
        let mut m = model();
        let bytes = m.encode().unwrap();
        assert!(CategoryModel::decode(&bytes).is_ok());
        m.known.insert("x".into(), vec![(9, 1.0)]);
        assert!(CategoryModel::decode(&m.encode().unwrap()).is_err());
        assert!(CategoryModel::decode(&bytes[..bytes.len() - 3]).is_err());
    }
}
