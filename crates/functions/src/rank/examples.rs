//! The examples of a run: the window read, exposures graded and grouped by search, the generators computed
//! day by day (each search sees only the days before it), categorical columns encoded from the fitted searches,
//! and the searches cut into fit, validation and held-out parts. Public so that a benchmark can hand the very
//! same features to another learner.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use algocenter_domain::Function;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::{WindowCounts, day_of};
use algocenter_domain::document::DocumentKind;
use algocenter_domain::feature_generator::{Source, specs, system_feature};
use algocenter_domain::resource::Generator;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use super::cross_fit::CtrFeature;
use super::defaults;
use super::encoding::{Counting, Encoding};
use super::facts::{Counts, Documents, History};
use super::features::{Generators, Row, Side, Situation, Text, text_key};
use super::model::CTR_COLUMN;
use super::propensity::{Propensities, estimate};
use super::training::{BUILDING_EXAMPLES, CROSS_FITTING, Config, READING_BEHAVIOUR, READING_ITEMS};
use crate::held_out::HeldOutSplit;
use crate::progress::Steps;
use crate::query::normalise;
use crate::{TrainError, TrainingJob, ensure_ready};

/// The examples of one part (fit, validation or held-out): one column per feature, searches as row ranges.
#[derive(Debug, Default)]
pub struct Part {
    pub columns: Vec<Vec<f32>>,
    pub ranges: Vec<Range<u32>>,
    pub grades: Vec<f32>,
    pub positions: Vec<u32>,
    /// Dense item ids (see [`Prepared::items`]).
    pub items: Vec<u32>,
    /// Held-out part with `ctr_instance` only: each cross-fitted ctr model's score of each row, to evaluate the
    /// fold models against the served one (not a feature).
    pub ctr_folds: Vec<Vec<f32>>,
}

impl Part {
    pub fn rows(&self) -> usize {
        self.grades.len()
    }
}

/// Everything the boosting, the evaluation and the artifact need.
pub struct Prepared {
    /// Feature names, in column order.
    pub names: Vec<String>,
    pub fit: Part,
    pub validation: Part,
    pub held_out: Part,
    /// Items seen in the window.
    pub items: usize,
    pub propensities: Propensities,
    pub(crate) generators: Vec<Generator>,
    pub(crate) encodings: Vec<Option<Encoding>>,
    pub(crate) counts: Counts,
    pub(crate) documents: Documents,
    pub(crate) item_attributes: HashSet<String>,
    pub(crate) user_attributes: HashSet<String>,
    /// What `ExtendInfo` says about the cross-fitted ctr feature (empty without `ctr_instance`).
    pub ctr_report: Map<String, Value>,
    pub read_s: f64,
    pub cross_fit_s: f64,
    pub examples_s: f64,
}

/// Strings to dense ids.
#[derive(Default)]
struct Interner(FxHashMap<String, u32>, Vec<String>);

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
        // Searches in time order, exposures of a search in their logged order. `rn`s are dense ids; after the
        // dedup no two exposures share (rn, item), so the key is unique and an unstable sort is exact.
        let mut first_time = vec![i64::MAX; self.searches.len()];
        for e in ex.iter() {
            let t = &mut first_time[e.rn as usize];
            *t = (*t).min(e.time);
        }
        ex.sort_unstable_by_key(|e| (first_time[e.rn as usize], e.rn, e.position, e.item));
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
    /// Per cross-fitted ctr model: its score of each held-out row (NaN on the other rows).
    ctr_folds: Vec<Vec<f32>>,
}

impl Examples {
    fn new(columns: usize, ctr_folds: usize) -> Examples {
        Examples {
            columns: vec![Vec::new(); columns],
            ctr_folds: vec![Vec::new(); ctr_folds],
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

    /// Appends the rows of `other` (computed after this one's).
    fn append(&mut self, other: Examples) {
        let base = self.grades.len() as u32;
        for c in 0..self.columns.len() {
            self.columns[c].extend_from_slice(&other.columns[c]);
            let shift = self.keys[c].len() as u32;
            self.keys[c].extend_from_slice(&other.keys[c]);
            self.offsets[c].extend(other.offsets[c][1..].iter().map(|o| o + shift));
        }
        self.grades.extend_from_slice(&other.grades);
        self.positions.extend_from_slice(&other.positions);
        self.items.extend_from_slice(&other.items);
        self.groups
            .extend(other.groups.iter().map(|g| g.start + base..g.end + base));
        self.held_out.extend_from_slice(&other.held_out);
        for (mine, theirs) in self.ctr_folds.iter_mut().zip(other.ctr_folds) {
            mine.extend_from_slice(&theirs);
        }
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

/// Reads the window and builds the examples (the steps up to boosting).
pub(super) fn prepare(
    job: &TrainingJob<'_>,
    config: &Config,
    split: &HeldOutSplit,
    steps: &mut Steps<'_>,
) -> Result<Prepared, TrainError> {
    let started = std::time::Instant::now();
    let p = job.params();
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
    let specs =
        specs(&generators).map_err(|e| TrainError::Failed(format!("feature_generator: {e}")))?;
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
    steps.enter(READING_BEHAVIOUR)?;
    let mut log = Log::default();
    steps.for_each_event(job.data, split.whole_window(), |e| {
        log.add(e, &config.grades)
    })?;
    let read_s = started.elapsed().as_secs_f64();

    let ctr = match job.artifact("ctr_instance") {
        Some(bytes) => {
            steps.enter(CROSS_FITTING)?;
            Some(CtrFeature::fit(job, bytes, config.ctr_folds, split, steps)?)
        }
        None => None,
    };
    let cross_fit_s = started.elapsed().as_secs_f64() - read_s;

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
    let folds = ctr.as_ref().map_or(0, CtrFeature::folds);
    let mut examples = Examples::new(columns, folds);
    // An item's attribute inputs do not change with time: resolved once per item.
    let item_sides: Vec<Side> = {
        let facts = counts.at(&documents, 0, 0);
        log.items
            .1
            .iter()
            .map(|id| generators_spec.item_side(id, None, &facts))
            .collect()
    };
    // The rows of some searches of one day, read against the counts of the days before.
    let compute = |groups: &[Range<usize>], counts: &Counts, day: i64| -> Examples {
        let mut out = Examples::new(columns, folds);
        let mut row = Row::default();
        for g in groups {
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
            let ctr_of_group = ctr.as_ref().map(|feature| {
                let list: Vec<(&str, Option<&Map<String, Value>>)> = group
                    .iter()
                    .map(|e| {
                        let id = log.items.1[e.item as usize].as_str();
                        (id, documents.items.get(id))
                    })
                    .collect();
                let fold_scores = if is_held(g) {
                    feature.fold_scores(&situation, &list)
                } else {
                    vec![vec![f32::NAN; list.len()]; folds]
                };
                for (into, scores) in out.ctr_folds.iter_mut().zip(fold_scores) {
                    into.extend_from_slice(&scores);
                }
                feature.scores(day, is_held(g), &situation, &list)
            });
            let start = out.grades.len() as u32;
            for (k, e) in group.iter().enumerate() {
                let id = &log.items.1[e.item as usize];
                let item = &item_sides[e.item as usize];
                generators_spec.compute((&situation, &side), (id, item), &facts, &mut row);
                out.push(&row, ctr_of_group.as_ref().map(|s| s[k]), e);
            }
            out.groups.push(start..out.grades.len() as u32);
            out.held_out.push(is_held(g));
        }
        out
    };
    // The log's item ids to the counts' (given in first-exposure order), so the sweep hashes no id.
    let mut counts_index = vec![u32::MAX; log.items.1.len()];
    let total = groups.len().max(1);
    let mut day_start = 0;
    while day_start < groups.len() {
        let day = day_of(exposures[groups[day_start].start].time);
        let day_end = day_start
            + groups[day_start..].partition_point(|g| day_of(exposures[g.start].time) == day);
        // Each day's searches on both cores: they read the counts, which change only between days.
        let day_groups = &groups[day_start..day_end];
        let mid = day_groups.len() / 2;
        let counted = &counts;
        let (first, second) = std::thread::scope(|s| {
            let second = s.spawn(|| compute(&day_groups[mid..], counted, day));
            let first = compute(&day_groups[..mid], counted, day);
            (first, second.join())
        });
        let second =
            second.map_err(|_| TrainError::Failed("computing the features panicked".into()))?;
        examples.append(first);
        examples.append(second);
        for done in day_groups {
            let s = &log.searches[exposures[done.start].rn as usize];
            let text = Text::new(&s.query);
            let query = (!text.normalised.is_empty()).then(|| text_key(&text.normalised));
            for e in &exposures[done.clone()] {
                let item = match counts_index[e.item as usize] {
                    u32::MAX => {
                        let i = counts.item(&log.items.1[e.item as usize]);
                        counts_index[e.item as usize] = i;
                        i
                    }
                    i => i,
                };
                counts.add(item, day_of(e.time), e.grade > 0.0, query, &text.terms);
            }
        }
        day_start = day_end;
        steps.fraction(day_start as f64 / total as f64)?;
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
            let keys: Vec<&[u64]> = r.clone().map(|i| examples.keys_of(c, i as usize)).collect();
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
    let examples_s = started.elapsed().as_secs_f64() - read_s - cross_fit_s;

    // The matrices of each part, and their groups renumbered.
    let take = |groups: &[usize], held: bool| -> Part {
        let mut rows = Vec::new();
        let mut ranges = Vec::with_capacity(groups.len());
        for &g in groups {
            let start = rows.len() as u32;
            rows.extend(examples.groups[g].clone().map(|r| r as usize));
            ranges.push(start..rows.len() as u32);
        }
        Part {
            columns: examples
                .columns
                .iter()
                .map(|c| rows.iter().map(|&r| c[r]).collect())
                .collect(),
            ranges,
            grades: rows.iter().map(|&r| examples.grades[r]).collect(),
            positions: rows.iter().map(|&r| examples.positions[r]).collect(),
            items: rows.iter().map(|&r| examples.items[r]).collect(),
            ctr_folds: if held {
                examples
                    .ctr_folds
                    .iter()
                    .map(|c| rows.iter().map(|&r| c[r]).collect())
                    .collect()
            } else {
                Vec::new()
            },
        }
    };
    let mut names = generators_spec.column_names();
    if ctr.is_some() {
        names.push(CTR_COLUMN.to_string());
    }
    let item_attributes = attributes_read(&generators, Source::Item);
    Ok(Prepared {
        names,
        fit: take(fit_groups, false),
        validation: take(validation_groups, false),
        held_out: take(&held_groups, true),
        items: log.items.1.len(),
        propensities,
        generators,
        encodings,
        counts,
        documents,
        item_attributes,
        user_attributes,
        ctr_report: ctr.map(|c| c.report().clone()).unwrap_or_default(),
        read_s,
        cross_fit_s,
        examples_s,
    })
}
