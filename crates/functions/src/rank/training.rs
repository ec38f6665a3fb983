//! The `rank` trainer: reading the window, grading and grouping exposures, computing the generators day by day,
//! boosting, evaluating on the held-out days and writing the served model (see the module documentation).

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use algocenter_domain::Function;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::catalogue::parse_behaviour_weights;
use algocenter_domain::data::{WindowCounts, day_of};
use algocenter_domain::document::DocumentKind;
use algocenter_domain::feature_generator::{Source, specs, system_feature};
use algocenter_domain::resource::Generator;
use serde_json::{Map, Value, json};

use super::defaults;
use super::encoding::{Counting, Encoding};
use super::facts::{Counts, Documents, History};
use super::features::{Generators, Row, Situation, Text, text_key};
use super::gbdt::{Binned, TreeConfig};
use super::lambdarank::{BoostConfig, EVAL_AT, Groups, boost, ndcg, pooled_ndcg, reciprocal_rank};
use super::model::{self, CTR_COLUMN, Stored, StoredGenerator, ctr_scores};
use super::propensity::{Propensities, estimate};
use crate::ctr::CtrModel;
use crate::evaluation::{Metrics, rounded};
use crate::held_out::{EVALUATING, HeldOutSplit};
use crate::progress::{Step, Steps, step};
use crate::query::normalise;
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob, ensure_ready};

const READING_ITEMS: &str = "reading items";
const READING_BEHAVIOUR: &str = "reading behaviour";
const BUILDING_EXAMPLES: &str = "computing the features";
const TRAINING: &str = "boosting trees";
const WRITING: &str = "writing the model";
const PLAN: &[Step] = &[
    step(READING_ITEMS, 3),
    step(READING_BEHAVIOUR, 25),
    step(BUILDING_EXAMPLES, 20),
    step(TRAINING, 42),
    step(EVALUATING, 5),
    step(WRITING, 5),
];

pub struct RankTrainer;

struct Config {
    grades: HashMap<String, f32>,
    attribution_ms: i64,
    ipw: bool,
    boost: BoostConfig,
    max_bins: usize,
    validation_share: f64,
    min_count: u32,
    threshold: f64,
}

fn config(job: &TrainingJob<'_>) -> Result<Config, TrainError> {
    let p = job.params();
    let grades = parse_behaviour_weights(p.text("label_weights")?)
        .map_err(|e| TrainError::Failed(format!("label_weights {e}")))?
        .into_iter()
        .map(|(b, w)| (b, w as f32))
        .collect();
    Ok(Config {
        grades,
        attribution_ms: p.int("attribution_window_minutes")? * 60_000,
        ipw: p.text("position_debiasing")? == "ipw",
        boost: BoostConfig {
            tree: TreeConfig {
                num_leaves: p.int("num_leaves")?.max(2) as usize,
                min_data_in_leaf: p.int("min_data_in_leaf")?.max(1) as usize,
                min_sum_hessian: 1e-3,
                l2: p.float("l2")?,
                learning_rate: p.float("learning_rate")?,
            },
            max_trees: p.int("num_trees")?.max(1) as usize,
            early_stopping_rounds: p.int("early_stopping_rounds")?.max(1) as usize,
        },
        max_bins: p.int("max_bins")?.clamp(4, 255) as usize + 1,
        validation_share: p.float("validation_share")?,
        min_count: p.int("min_count")?.max(1) as u32,
        threshold: p.float("available_threshold")?,
    })
}

/// Strings to dense ids.
#[derive(Default)]
struct Interner(HashMap<String, u32>, Vec<String>);

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.0.get(s) {
            return i;
        }
        let i = self.1.len() as u32;
        self.0.insert(s.to_string(), i);
        self.1.push(s.to_string());
        i
    }
}

#[derive(Clone, Default)]
struct Search {
    query: String,
    user: String,
    context: Vec<(String, String)>,
    known: bool,
}

#[derive(Clone, Copy)]
struct Exposure {
    rn: u32,
    item: u32,
    time: i64,
    position: u32,
    grade: f32,
}

#[derive(Default)]
struct Log {
    rns: Interner,
    searches: Vec<Search>,
    items: Interner,
    exposures: Vec<Exposure>,
    /// `(rn, item, time, grade)` of graded behaviour.
    graded: Vec<(u32, u32, i64, f32)>,
    clicks: HashMap<String, Vec<(i64, String)>>,
    buys: HashMap<String, Vec<(i64, String)>>,
}

impl Log {
    fn rn(&mut self, rn: &str) -> u32 {
        let id = self.rns.id(rn);
        if id as usize == self.searches.len() {
            self.searches.push(Search::default());
        }
        id
    }

    fn add(&mut self, e: &BehaviourEvent, grades: &HashMap<String, f32>) {
        match e.bhv_type.as_str() {
            "search" => {
                let rn = self.rn(&e.rn);
                self.searches[rn as usize] = Search {
                    query: e.raw_query.clone(),
                    user: e.user().to_string(),
                    context: e.context.clone(),
                    known: true,
                };
            }
            _ if e.item_id.is_empty() || e.rn.is_empty() => {}
            "expose" => {
                let rn = self.rn(&e.rn);
                let search = &mut self.searches[rn as usize];
                if !search.known && search.user.is_empty() {
                    search.user = e.user().to_string();
                    search.context.clone_from(&e.context);
                }
                let item = self.items.id(&e.item_id);
                self.exposures.push(Exposure {
                    rn,
                    item,
                    time: e.bhv_time_ms,
                    position: e.position.unwrap_or(0),
                    grade: grades.get("expose").copied().unwrap_or(0.0),
                });
            }
            kind => {
                if kind == "click" || kind == "buy" {
                    let by = if kind == "click" {
                        &mut self.clicks
                    } else {
                        &mut self.buys
                    };
                    by.entry(e.user().to_string())
                        .or_default()
                        .push((e.bhv_time_ms, e.item_id.clone()));
                }
                if let Some(&g) = grades.get(kind).filter(|&&g| g > 0.0) {
                    let rn = self.rn(&e.rn);
                    let item = self.items.id(&e.item_id);
                    self.graded.push((rn, item, e.bhv_time_ms, g));
                }
            }
        }
    }

    /// Grades and deduplicates the exposures, and cuts them into searches in time order.
    fn groups(&mut self, attribution_ms: i64) -> Vec<Range<usize>> {
        let ex = &mut self.exposures;
        ex.sort_unstable_by_key(|e| (e.rn, e.item, e.time));
        ex.dedup_by(|later, first| later.rn == first.rn && later.item == first.item);
        self.graded.sort_unstable_by_key(|g| (g.0, g.1, g.2));
        let mut p = 0;
        for e in ex.iter_mut() {
            while p < self.graded.len() && (self.graded[p].0, self.graded[p].1) < (e.rn, e.item) {
                p += 1;
            }
            let mut q = p;
            while q < self.graded.len() && (self.graded[q].0, self.graded[q].1) == (e.rn, e.item) {
                let (_, _, t, g) = self.graded[q];
                if t >= e.time && t <= e.time + attribution_ms && g > e.grade {
                    e.grade = g;
                }
                q += 1;
            }
        }
        // Searches in time order, exposures of a search in their logged order.
        let mut first_time: HashMap<u32, i64> = HashMap::new();
        for e in ex.iter() {
            let t = first_time.entry(e.rn).or_insert(e.time);
            *t = (*t).min(e.time);
        }
        ex.sort_by_key(|e| (first_time[&e.rn], e.rn, e.position, e.item));
        let mut out = Vec::new();
        let mut start = 0;
        for i in 0..ex.len() {
            if i + 1 == ex.len() || ex[i + 1].rn != ex[i].rn {
                out.push(start..i + 1);
                start = i + 1;
            }
        }
        out
    }
}

/// The examples of the searches that have a positive grade, as model columns.
#[derive(Default)]
struct Examples {
    columns: Vec<Vec<f32>>,
    /// Per categorical column: keys of each row (`offsets[c][r]..offsets[c][r + 1]`).
    keys: Vec<Vec<u64>>,
    offsets: Vec<Vec<u32>>,
    grades: Vec<f32>,
    positions: Vec<u32>,
    items: Vec<u32>,
    groups: Vec<Range<u32>>,
    /// Per group: whether it is held out.
    held_out: Vec<bool>,
}

impl Examples {
    fn new(columns: usize) -> Examples {
        Examples {
            columns: vec![Vec::new(); columns],
            keys: vec![Vec::new(); columns],
            offsets: vec![vec![0]; columns],
            ..Default::default()
        }
    }

    fn push(&mut self, row: &Row, ctr: Option<f32>, e: &Exposure) {
        for (c, &v) in row.numbers.iter().enumerate() {
            self.columns[c].push(v);
            self.keys[c].extend_from_slice(&row.keys[c]);
            self.offsets[c].push(self.keys[c].len() as u32);
        }
        if let Some(s) = ctr {
            self.columns[row.numbers.len()].push(s);
        }
        self.grades.push(e.grade);
        self.positions.push(e.position);
        self.items.push(e.item);
    }

    fn keys_of(&self, c: usize, r: usize) -> &[u64] {
        &self.keys[c][self.offsets[c][r] as usize..self.offsets[c][r + 1] as usize]
    }
}

/// Attribute names the generators read from documents of `source`.
fn attributes_read(generators: &[Generator], source: Source) -> HashSet<String> {
    let mut out = HashSet::new();
    for g in generators {
        for f in &g.features {
            if f.feature_type == source.as_str() && system_feature(&f.name).is_none() {
                out.insert(f.name.clone());
            }
            // A sequence maps the user's items through the candidate's attribute.
            if source == Source::Item
                && f.feature_type == "item"
                && g.generator.starts_with("sequence")
            {
                out.insert(f.name.clone());
            }
        }
    }
    out
}

/// Held-out figures of ordering by `scores`, as `{name}_ndcg_at_10` …: NDCG@5 and NDCG@10 pooled over the
/// searches with gains weighted by `weights` (inverse propensities with debiasing), and the plain per-search
/// mean NDCG@10 and MRR of the observed grades. Returns the pooled NDCG@10.
fn metrics_of(
    name: &str,
    groups: &[Range<u32>],
    scores: &[f64],
    (grades, weights): (&[f32], &[f32]),
    metrics: &mut Metrics,
) -> f64 {
    let (mut observed, mut mrr, mut n) = (0.0, 0.0, 0usize);
    for g in groups {
        let r = g.start as usize..g.end as usize;
        if let Some(v) = ndcg(EVAL_AT, &scores[r.clone()], &grades[r.clone()]) {
            observed += v;
            mrr += reciprocal_rank(&scores[r.clone()], &grades[r]).unwrap_or(0.0);
            n += 1;
        }
    }
    let n = n.max(1) as f64;
    let prefix = if name.is_empty() {
        String::new()
    } else {
        format!("{name}_")
    };
    let at10 = pooled_ndcg(EVAL_AT, groups, scores, grades, weights);
    metrics.put(
        format!("{prefix}ndcg_at_5"),
        rounded(pooled_ndcg(5, groups, scores, grades, weights)),
    );
    metrics.put(format!("{prefix}ndcg_at_10"), rounded(at10));
    metrics.put(
        format!("{prefix}observed_ndcg_at_10"),
        rounded(observed / n),
    );
    metrics.put(format!("{prefix}mrr"), rounded(mrr / n));
    at10
}

impl Trainer for RankTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let started = std::time::Instant::now();
        let config = config(job)?;
        let split = HeldOutSplit::read(job)?;
        let p = job.params();
        let mut steps = Steps::new(progress, PLAN);

        steps.enter(READING_ITEMS)?;
        let mut documents = Documents::default();
        steps.for_each_item(job.data, |item| {
            documents
                .items
                .insert(item.id.clone(), item.attributes.clone());
        })?;
        let generators: Vec<Generator> = match job.resource("feature_generator") {
            Some(json) => serde_json::from_str(json).map_err(|e| {
                TrainError::Failed(format!(
                    "the feature_generator resource cannot be read: {e}"
                ))
            })?,
            None => defaults::generators(
                p.text("title_field")?,
                p.text("category_field")?,
                &documents.items,
            ),
        };
        let specs = specs(&generators)
            .map_err(|e| TrainError::Failed(format!("feature_generator: {e}")))?;
        let generators_spec = Generators::new(specs);
        let user_attributes = attributes_read(&generators, Source::User);
        if !user_attributes.is_empty() {
            job.data
                .for_each_document(DocumentKind::User, &mut |u| {
                    documents.users.insert(u.id.clone(), u.attributes.clone());
                    Ok(())
                })
                .map_err(|e| TrainError::Failed(e.to_string()))?;
        }
        let ctr = match job.artifact("ctr_instance") {
            Some(bytes) => Some(CtrModel::decode(bytes).map_err(|e| {
                TrainError::Failed(format!("the ctr_instance's model cannot be read: {e}"))
            })?),
            None => None,
        };

        steps.enter(READING_BEHAVIOUR)?;
        let mut log = Log::default();
        steps.for_each_event(job.data, split.whole_window(), |e| {
            log.add(e, &config.grades)
        })?;
        let read_s = started.elapsed().as_secs_f64();

        steps.enter(BUILDING_EXAMPLES)?;
        let groups = log.groups(config.attribution_ms);
        let held_from = split.held_out().from_ms;
        let exposures = &log.exposures;
        let is_held = |g: &Range<usize>| exposures[g.start].time >= held_from;
        let trained: Vec<&Range<usize>> = groups.iter().filter(|g| !is_held(g)).collect();
        let counts = WindowCounts {
            exposures: trained.iter().map(|g| g.len() as u64).sum(),
            clicks: trained
                .iter()
                .flat_map(|g| &exposures[(*g).clone()])
                .filter(|e| e.grade > 0.0)
                .count() as u64,
            ..Default::default()
        };
        ensure_ready(
            Function::Rank,
            &counts,
            format_args!(
                "(exposures graded by label_weights) in the {} days before the {} held-out days",
                split.window_days() - split.holdout_days(),
                split.holdout_days()
            ),
        )?;
        let propensities: Propensities = if config.ipw {
            estimate(trained.iter().flat_map(|g| {
                let q = &log.searches[exposures[g.start].rn as usize].query;
                let key = text_key(&normalise(q));
                exposures[(*g).clone()]
                    .iter()
                    .map(move |e| (key, e.item, e.position, e.grade > 0.0))
            }))
        } else {
            Propensities::none()
        };

        // Histories of each user in time order, for the sequence generators.
        let mut counts = Counts::default();
        for (by, into) in [
            (&mut log.clicks, &mut counts.clicks_by_user),
            (&mut log.buys, &mut counts.buys_by_user),
        ] {
            for (user, mut list) in by.drain() {
                list.sort();
                let (times, items) = list.into_iter().unzip();
                into.insert(user, History { times, items });
            }
        }
        let columns = generators_spec.columns() + usize::from(ctr.is_some());
        let mut examples = Examples::new(columns);
        let mut item_sides: HashMap<u32, super::features::Side> = HashMap::new();
        let mut row = Row::default();
        let mut day_start = 0;
        let total = groups.len().max(1);
        for (gi, g) in groups.iter().enumerate() {
            let day = day_of(exposures[g.start].time);
            // A new day: the days before it are counted for the features.
            if gi == day_start || day != day_of(exposures[groups[day_start].start].time) {
                for done in &groups[day_start..gi] {
                    let s = &log.searches[exposures[done.start].rn as usize];
                    let text = Text::new(&s.query);
                    let query = (!text.normalised.is_empty()).then(|| text_key(&text.normalised));
                    for e in &exposures[done.clone()] {
                        let item = counts.item(&log.items.1[e.item as usize]);
                        counts.add(item, day_of(e.time), e.grade > 0.0, query, &text.terms);
                    }
                }
                day_start = gi;
            }
            if gi % 4096 == 0 {
                steps.fraction(gi as f64 / total as f64)?;
            }
            let group = &exposures[g.clone()];
            if group.iter().all(|e| e.grade <= 0.0) {
                continue;
            }
            let search = &log.searches[group[0].rn as usize];
            let situation = Situation {
                user: &search.user,
                query: &search.query,
                context: &search.context,
            };
            let facts = counts.at(&documents, day, group[0].time);
            let side = generators_spec.situation_side(&situation, &facts);
            let ctr_of_group = ctr.as_ref().map(|m| {
                let list: Vec<(&str, Option<&Map<String, Value>>)> = group
                    .iter()
                    .map(|e| {
                        let id = log.items.1[e.item as usize].as_str();
                        (id, documents.items.get(id))
                    })
                    .collect();
                ctr_scores(m, &situation, &list)
            });
            let start = examples.grades.len() as u32;
            for (k, e) in group.iter().enumerate() {
                let id = &log.items.1[e.item as usize];
                let item_side = item_sides
                    .entry(e.item)
                    .or_insert_with(|| generators_spec.item_side(id, None, &facts));
                generators_spec.compute((&situation, &side), (id, item_side), &facts, &mut row);
                examples.push(&row, ctr_of_group.as_ref().map(|s| s[k]), e);
            }
            examples.groups.push(start..examples.grades.len() as u32);
            examples.held_out.push(is_held(g));
        }
        for done in &groups[day_start..] {
            let s = &log.searches[exposures[done.start].rn as usize];
            let text = Text::new(&s.query);
            let query = (!text.normalised.is_empty()).then(|| text_key(&text.normalised));
            for e in &exposures[done.clone()] {
                let item = counts.item(&log.items.1[e.item as usize]);
                counts.add(item, day_of(e.time), e.grade > 0.0, query, &text.terms);
            }
        }
        drop(item_sides);

        // Fit, validation and held-out searches.
        let training_groups: Vec<usize> = (0..examples.groups.len())
            .filter(|&g| !examples.held_out[g])
            .collect();
        let held_groups: Vec<usize> = (0..examples.groups.len())
            .filter(|&g| examples.held_out[g])
            .collect();
        if held_groups.is_empty() {
            return Err(TrainError::InsufficientData(format!(
                "the held-out last {} days have no search with a graded exposure to evaluate on",
                split.holdout_days()
            )));
        }
        let fit_len =
            ((training_groups.len() as f64) * (1.0 - config.validation_share)).round() as usize;
        let fit_len = fit_len.clamp(1, training_groups.len().saturating_sub(1).max(1));
        let (fit_groups, validation_groups) = training_groups.split_at(fit_len);

        // Target statistics of the categorical columns: from the fitted searches only.
        let gen_columns = generators_spec.columns();
        let mut encodings: Vec<Option<Encoding>> = vec![None; gen_columns];
        for c in (0..gen_columns).filter(|&c| generators_spec.is_categorical(c)) {
            let mut counting = Counting::default();
            for &g in fit_groups {
                for r in examples.groups[g].clone() {
                    counting.add(examples.keys_of(c, r as usize), examples.grades[r as usize]);
                }
            }
            let mut encoded = vec![f32::NAN; examples.grades.len()];
            for &g in fit_groups {
                let r = examples.groups[g].clone();
                let keys: Vec<&[u64]> =
                    r.clone().map(|i| examples.keys_of(c, i as usize)).collect();
                let range = r.start as usize..r.end as usize;
                counting.encode_group_out(
                    &keys,
                    &examples.grades[range.clone()],
                    config.min_count,
                    &mut encoded[range],
                );
            }
            let table = counting.finish(config.min_count);
            for &g in validation_groups.iter().chain(&held_groups) {
                for r in examples.groups[g].clone() {
                    encoded[r as usize] = table.encode(examples.keys_of(c, r as usize));
                }
            }
            examples.columns[c] = encoded;
            encodings[c] = Some(table);
        }
        examples.keys = Vec::new();
        examples.offsets = Vec::new();
        let examples_s = started.elapsed().as_secs_f64() - read_s;

        // The matrices of each part, and their groups renumbered.
        let take = |groups: &[usize]| -> (Vec<Vec<f32>>, Vec<Range<u32>>, Vec<usize>) {
            let mut rows = Vec::new();
            let mut ranges = Vec::with_capacity(groups.len());
            for &g in groups {
                let start = rows.len() as u32;
                rows.extend(examples.groups[g].clone().map(|r| r as usize));
                ranges.push(start..rows.len() as u32);
            }
            let columns = examples
                .columns
                .iter()
                .map(|c| rows.iter().map(|&r| c[r]).collect())
                .collect();
            (columns, ranges, rows)
        };
        let (fit_columns, fit_ranges, fit_rows) = take(fit_groups);
        let (val_columns, val_ranges, val_rows) = take(validation_groups);
        let (held_columns, held_ranges, held_rows) = take(&held_groups);
        let fit_data = Binned::new(&fit_columns, config.max_bins);
        drop(fit_columns);
        let val_data = Binned::with_edges(&val_columns, &fit_data.edges);
        drop(val_columns);
        let fit_grades: Vec<f32> = fit_rows.iter().map(|&r| examples.grades[r]).collect();
        let val_grades: Vec<f32> = val_rows.iter().map(|&r| examples.grades[r]).collect();
        let val_weights: Vec<f32> = val_rows
            .iter()
            .map(|&r| (1.0 / propensities.of(examples.positions[r])) as f32)
            .collect();
        let weights = propensities.weights(
            fit_rows
                .iter()
                .map(|&r| (examples.positions[r], examples.grades[r])),
        );

        steps.enter(TRAINING)?;
        let training_started = std::time::Instant::now();
        let fit = Groups {
            ranges: &fit_ranges,
            grades: &fit_grades,
            weights: &weights,
        };
        let (ensemble, report) = boost(
            config.boost,
            (&fit_data, &fit),
            (&val_data, &val_ranges, &val_grades, &val_weights),
            &mut |done| steps.fraction(done).is_ok(),
        )
        .ok_or(TrainError::Cancelled)?;
        let training_s = training_started.elapsed().as_secs_f64();

        // Held-out evaluation, beside the logged order, popularity and the ctr instance.
        let (metrics, passed) = split.evaluate(&mut steps, |_, _| {
            let held_grades: Vec<f32> = held_rows.iter().map(|&r| examples.grades[r]).collect();
            let inverse: Vec<f32> = held_rows
                .iter()
                .map(|&r| (1.0 / propensities.of(examples.positions[r])) as f32)
                .collect();
            let graded = (held_grades.as_slice(), inverse.as_slice());
            let mut row = Vec::with_capacity(columns);
            let scores: Vec<f64> = (0..held_rows.len())
                .map(|i| {
                    row.clear();
                    row.extend(held_columns.iter().map(|c| c[i]));
                    f64::from(ensemble.predict(&row))
                })
                .collect();
            let mut m = Metrics::default();
            let ndcg10 = metrics_of("", &held_ranges, &scores, graded, &mut m);
            let logged: Vec<f64> = held_rows
                .iter()
                .map(|&r| -f64::from(examples.positions[r]))
                .collect();
            metrics_of("logged", &held_ranges, &logged, graded, &mut m);
            let mut clicks = vec![0u32; log.items.1.len()];
            for &g in &training_groups {
                for r in examples.groups[g].clone() {
                    clicks[examples.items[r as usize] as usize] +=
                        u32::from(examples.grades[r as usize] > 0.0);
                }
            }
            let popular: Vec<f64> = held_rows
                .iter()
                .map(|&r| f64::from(clicks[examples.items[r] as usize]))
                .collect();
            metrics_of("popularity", &held_ranges, &popular, graded, &mut m);
            if ctr.is_some() {
                let scores: Vec<f64> = held_columns[columns - 1]
                    .iter()
                    .map(|&s| f64::from(s))
                    .collect();
                metrics_of("ctr_instance", &held_ranges, &scores, graded, &mut m);
            }
            Ok((m, ndcg10))
        })?;
        let mut metrics = metrics;
        let passed_gate = passed >= config.threshold;
        let mut names = generators_spec.column_names();
        if ctr.is_some() {
            names.push(CTR_COLUMN.to_string());
        }
        let gains = ensemble.gains(columns);
        let total_gain: f64 = gains.iter().sum::<f64>().max(1e-12);
        let mut importance: Vec<(String, f64)> = names
            .iter()
            .cloned()
            .zip(gains.iter().map(|g| g / total_gain))
            .collect();
        importance.sort_by(|a, b| b.1.total_cmp(&a.1));
        metrics.put(
            "feature_importance",
            Value::Object(
                importance
                    .iter()
                    .map(|(n, v)| (n.clone(), json!(rounded(*v))))
                    .collect(),
            ),
        );
        metrics.put("features", names.len());
        metrics.put("groups_fit", fit_groups.len());
        metrics.put("groups_validation", validation_groups.len());
        metrics.put("groups_holdout", held_groups.len());
        metrics.put("examples_fit", fit_rows.len());
        metrics.put("examples_validation", val_rows.len());
        metrics.put("examples_holdout", held_rows.len());
        metrics.put("trees", ensemble.trees.len());
        metrics.put("trees_built", report.trees_built);
        metrics.put("validation_ndcg_at_10", rounded(report.validation_ndcg));
        metrics.put(
            "position_debiasing",
            if config.ipw { "ipw" } else { "none" },
        );
        metrics.put(
            "evaluated_with",
            if config.ipw {
                "NDCG pooled over the held-out searches, gains divided by the examination propensity of their logged position; observed_ndcg_at_10 and mrr: plain per-search means"
            } else {
                "NDCG pooled over the held-out searches; observed_ndcg_at_10 and mrr: per-search means"
            },
        );
        metrics.put("position_propensities", propensities.describe());
        metrics.put(
            "quality_gate",
            if passed_gate {
                format!("passed: held-out NDCG@10 {} ≥ available_threshold {}", rounded(passed), config.threshold)
            } else {
                format!(
                    "not passed: held-out NDCG@10 {} < available_threshold {}; this generation does not serve",
                    rounded(passed),
                    config.threshold
                )
            },
        );

        steps.enter(WRITING)?;
        let mut facts = counts.served(day_of(job.now_ms) + 1);
        for (names, from, into) in [
            (
                attributes_read(&generators, Source::Item),
                &documents.items,
                &mut facts.item_attributes,
            ),
            (
                user_attributes,
                &documents.users,
                &mut facts.user_attributes,
            ),
        ] {
            if names.is_empty() {
                continue;
            }
            for (id, attributes) in from {
                let kept: Map<String, Value> = attributes
                    .iter()
                    .filter(|(k, _)| names.contains(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !kept.is_empty() {
                    into.insert(id.clone(), Value::Object(kept).to_string());
                }
            }
        }
        let stored = Stored {
            generators: generators.iter().map(StoredGenerator::from).collect(),
            encodings,
            ensemble,
            facts,
            ctr: job.artifact("ctr_instance").map(<[u8]>::to_vec),
        };
        let artifact = model::encode(&stored).map_err(|e| TrainError::Failed(e.to_string()))?;
        metrics.put(
            "seconds",
            json!({
                "reading": rounded(read_s),
                "features": rounded(examples_s),
                "boosting": rounded(training_s),
                "total": rounded(started.elapsed().as_secs_f64()),
            }),
        );
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into_map(),
            passed_quality_gate: passed_gate,
        })
    }
}
