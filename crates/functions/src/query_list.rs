//! `hot` (top searches) and `hint` (search-box hints): ranked lists of queries, trained from the query log.
//!
//! **hot** counts, over the last `train_window_days`, each query's searches (pv) and distinct searchers (uv)
//! after the anti-spam cap and the filters ([`crate::query::log`]), and keeps the top 30 by each. Every listed
//! query is tagged by its growth against the window before: `0` new (not searched then), `2` rising (pv grew by
//! `rising_ratio` or more), `1` popular (the rest).
//!
//! **hint** ranks queries by fresh popularity and take-up: searches decayed with `half_life_days`, times the
//! query's smoothed click-through relative to the average (a hint nobody follows up is a poor hint). A
//! `near_realtime` instance also learns each query's category (where its clicks land) and each user's affinity
//! to categories from their recent searches and clicks, decayed like the counts: how much more of the user's
//! activity a category has than of everyone's, smoothed towards 1. A request with a known `user_id` then ranks
//! the candidate hints (the overall best and the best of every category) by score times the user's affinity to
//! the hint's category.
//!
//! Both: `blacklist` queries are never listed; `whitelist` queries are listed first, in file order. Evaluation
//! trains on the window before the held-out days and compares with what happened in them (hot: overlap with the
//! real top queries; hint: how many held-out searches the hints cover). The served list is then refit on the
//! whole window, held-out days included, so that it is as fresh as the data.

use std::collections::{HashMap, HashSet};

use algocenter_domain::data::{DAY_MS, WindowCounts, readiness};
use algocenter_domain::document::DocumentKind;
use algocenter_domain::{Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::query::log::{LogFilter, QueryCount, QueryLog, dictionary, dictionary_entries};
use crate::query::normalise;
use crate::scan::{Scan, param_error, window_days};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob};

const MAGIC: &[u8; 5] = b"ACQLS";
const FORMAT_V1: u8 = 1;

/// Longest list a request may ask for (`hit`), so the longest list kept.
pub const MAX_HIT: usize = 30;
/// Queries kept per category as candidates for personalised hints.
const PER_CATEGORY: usize = 10;
/// Categories remembered per user (the others get the user's `elsewhere` ratio).
const USER_CATEGORIES: usize = 8;
/// Most user profiles kept (the most recently active).
const MAX_PROFILES: usize = 1_000_000;
/// Pseudo-searches pulling a query's click-through towards the average.
const CTR_PSEUDO_SEARCHES: f64 = 10.0;
/// Pseudo-events pulling a user's category shares towards everyone's. Smaller values trusted a handful of
/// events too much and hinted worse than the overall list on held-out searches of generated data.
const AFFINITY_PSEUDO_EVENTS: f64 = 20.0;
/// No category.
const NO_CATEGORY: u16 = u16::MAX;

/// Growth from which a hint is tagged rising (`hot` has its `rising_ratio` parameter).
const HINT_RISING_RATIO: f64 = 2.0;

/// Tags of a listed query (OpenSearch's real-time top-search tags).
pub const TAG_NEW: u8 = 0;
pub const TAG_POPULAR: u8 = 1;
pub const TAG_RISING: u8 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListedQuery {
    /// The query as users usually type it.
    pub query: String,
    /// Searches in the window (after the anti-spam cap).
    pub pv: u64,
    /// Distinct searchers in the window.
    pub uv: u64,
    pub tags: u8,
}

/// How a request wants the list ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListOrder {
    /// The instance's `sort_type`.
    Default,
    Pv,
    Uv,
}

/// A trained `hot` or `hint` generation.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct QueryListModel {
    entries: Vec<ListedQuery>,
    pinned: Vec<u32>,
    /// `hot`: by searches; `hint`: by hint score (the overall order).
    by_pv: Vec<u32>,
    /// `hot` only: by distinct searchers.
    by_uv: Vec<u32>,
    default_uv: bool,
    /// Personalised hints: every entry's score and category, the candidates, and each user's affinities
    /// (category, ratio > 1).
    scores: Vec<f32>,
    entry_category: Vec<u16>,
    candidates: Vec<u32>,
    profiles: HashMap<String, Affinity>,
}

/// A user's affinity to categories: the ratio of their share of activity in a category to everyone's.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Affinity {
    /// Categories the user was active in.
    categories: Vec<(u16, f32)>,
    /// The ratio of every other category (below 1: the user's activity went elsewhere).
    elsewhere: f32,
}

impl QueryListModel {
    /// Reads an artifact; a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not a query list artifact"))?;
        match body.split_first() {
            Some((&FORMAT_V1, rest)) => {
                let model: QueryListModel = postcard::from_bytes(rest).map_err(|e| {
                    Error::internal(format_args!("corrupt query list artifact: {e}"))
                })?;
                model.check()?;
                Ok(model)
            }
            Some((format, _)) => Err(Error::internal(format_args!(
                "query list artifact of unknown format {format}"
            ))),
            None => Err(Error::internal("truncated query list artifact")),
        }
    }

    /// Every index stays inside the model: a corrupt file must not panic a request.
    fn check(&self) -> Result<(), Error> {
        let n = self.entries.len();
        let inside = |list: &[u32]| list.iter().all(|&id| (id as usize) < n);
        let personal = self.scores.len() == self.entry_category.len()
            && (self.candidates.is_empty() || self.scores.len() == n);
        if inside(&self.pinned)
            && inside(&self.by_pv)
            && inside(&self.by_uv)
            && inside(&self.candidates)
            && personal
        {
            Ok(())
        } else {
            Err(Error::internal(
                "corrupt query list artifact: an index points outside the model",
            ))
        }
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

    /// The first `hit` queries: whitelisted ones first, then, for a user with a profile (personalised `hint`),
    /// the candidates by score times the user's affinity to their category, else the list in `order`.
    pub fn top(&self, hit: usize, order: ListOrder, user: Option<&str>) -> Vec<&ListedQuery> {
        let mut chosen: Vec<u32> = Vec::with_capacity(hit);
        let take = |id: u32, chosen: &mut Vec<u32>| {
            if chosen.len() < hit && !chosen.contains(&id) {
                chosen.push(id);
            }
        };
        for &id in &self.pinned {
            take(id, &mut chosen);
        }
        if let Some(affinity_of) = user.and_then(|u| self.profiles.get(u)) {
            let affinity = |id: u32| {
                let c = self.entry_category[id as usize];
                if c == NO_CATEGORY {
                    return 1.0;
                }
                affinity_of
                    .categories
                    .iter()
                    .find(|(a, _)| *a == c)
                    .map_or(affinity_of.elsewhere, |(_, ratio)| *ratio)
            };
            let mut ranked: Vec<(u32, f32)> = self
                .candidates
                .iter()
                .map(|&id| (id, self.scores[id as usize] * affinity(id)))
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for (id, _) in ranked {
                take(id, &mut chosen);
            }
        }
        let uv = match order {
            ListOrder::Default => self.default_uv,
            ListOrder::Pv => false,
            ListOrder::Uv => true,
        };
        let list = if uv && !self.by_uv.is_empty() {
            &self.by_uv
        } else {
            &self.by_pv
        };
        for &id in list {
            take(id, &mut chosen);
        }
        chosen
            .into_iter()
            .map(|id| &self.entries[id as usize])
            .collect()
    }

    /// Whether `user` gets personalised hints.
    pub fn knows_user(&self, user: &str) -> bool {
        self.profiles.contains_key(user)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds `id` (a query of `log`) as an entry once, returning its index.
    fn entry(
        &mut self,
        index: &mut HashMap<u32, u32>,
        id: u32,
        make: impl FnOnce() -> ListedQuery,
    ) -> u32 {
        *index.entry(id).or_insert_with(|| {
            self.entries.push(make());
            (self.entries.len() - 1) as u32
        })
    }

    /// Adds the whitelist, entries of its own (a whitelisted query may never have been searched), shown as the
    /// dictionary writes them.
    fn pin(&mut self, whitelist: &[(String, String)], log: &QueryLog, counts: &[QueryCount]) {
        for (query, display) in whitelist {
            let count = log
                .query_id_of(query)
                .and_then(|id| counts.get(id as usize))
                .copied()
                .unwrap_or_default();
            self.entries.push(ListedQuery {
                query: display.clone(),
                pv: u64::from(count.searches),
                uv: u64::from(count.users),
                tags: if count.searches == 0 {
                    TAG_NEW
                } else {
                    TAG_POPULAR
                },
            });
            self.pinned.push((self.entries.len() - 1) as u32);
        }
    }
}

/// Parameters shared by `hot` and `hint`.
struct ListSettings {
    window_days: i64,
    holdout_days: i64,
    filter: LogFilter,
    blacklist: HashSet<String>,
    /// (normal form, as written), in file order.
    whitelist: Vec<(String, String)>,
    whitelisted: HashSet<String>,
}

impl ListSettings {
    fn read(job: &TrainingJob<'_>) -> Result<Self, TrainError> {
        let p = job.parameters;
        let (window_days, holdout_days) = window_days(p)?;
        let whitelist: Vec<(String, String)> = dictionary_entries(job.resource("whitelist"));
        let blacklist: HashSet<String> =
            dictionary(job.resource("blacklist")).into_iter().collect();
        Ok(ListSettings {
            window_days,
            holdout_days,
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap").map_err(param_error)?.max(1) as u32,
                drop_no_result: p.get("drop_no_result").map_err(param_error)? == "true",
                drop_no_click: p.get("drop_no_click").map_err(param_error)? == "true",
            },
            whitelisted: whitelist
                .iter()
                .filter(|(q, _)| !blacklist.contains(q))
                .map(|(q, _)| q.clone())
                .collect(),
            whitelist: whitelist
                .into_iter()
                .filter(|(q, _)| !blacklist.contains(q))
                .collect(),
            blacklist,
        })
    }

    fn window_ms(&self) -> i64 {
        self.window_days * DAY_MS
    }

    /// Whether a query may be listed (not blacklisted, not already pinned).
    fn listable(&self, normal: &str) -> bool {
        !self.blacklist.contains(normal) && !self.whitelisted.contains(normal)
    }

    fn check_ready(
        &self,
        function: Function,
        log: &QueryLog,
        from: i64,
        to: i64,
    ) -> Result<(), TrainError> {
        let searches = log
            .searches
            .iter()
            .filter(|s| s.at_ms >= from && s.at_ms < to)
            .count() as u64;
        let ready = readiness(
            function,
            &WindowCounts {
                searches,
                ..Default::default()
            },
        );
        if ready.ready {
            Ok(())
        } else {
            Err(TrainError::InsufficientData(format!(
                "{} (searches with a usable raw_query in the last {} days)",
                ready.reason, self.window_days
            )))
        }
    }
}

fn tag(now: &QueryCount, before: Option<&QueryCount>, rising_ratio: f64) -> u8 {
    match before.map_or(0, |b| b.searches) {
        0 => TAG_NEW,
        b if f64::from(now.searches) >= rising_ratio * f64::from(b) => TAG_RISING,
        _ => TAG_POPULAR,
    }
}

fn rounded(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Ids of queries with a count, best first by `key`, ties by query text.
fn ranked<K: Ord>(
    log: &QueryLog,
    counts: &[QueryCount],
    key: impl Fn(&QueryCount) -> K,
) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..counts.len() as u32)
        .filter(|&id| counts[id as usize].searches > 0)
        .collect();
    ids.sort_by(|&a, &b| {
        key(&counts[b as usize])
            .cmp(&key(&counts[a as usize]))
            .then_with(|| log.query(a).cmp(log.query(b)))
    });
    ids
}

/// Share of the real top list the predicted list has, both cut to the real list's length (when the held-out
/// days have fewer queries than asked for, more guesses must not inflate the figure).
fn overlap(predicted: &[u32], real: &[u32]) -> Option<f64> {
    if real.is_empty() {
        return None;
    }
    let predicted = &predicted[..predicted.len().min(real.len())];
    let real: HashSet<u32> = real.iter().copied().collect();
    let hits = predicted.iter().filter(|id| real.contains(id)).count();
    Some(hits as f64 / real.len() as f64)
}

pub struct HotTrainer;

struct HotList {
    model: QueryListModel,
    /// The query ids listed by the default order, without the pinned ones.
    order: Vec<u32>,
}

fn build_hot(
    log: &QueryLog,
    settings: &ListSettings,
    to: i64,
    rising_ratio: f64,
    default_uv: bool,
) -> HotList {
    let window = settings.window_ms();
    let (kept, _) = log.kept(to - window, to, settings.filter);
    let counts = log.counts(&kept, to, None);
    // For the evaluated model the window before may start before the log does: its tags are then partial, and
    // unused (the evaluation compares lists, not tags).
    let (before_kept, _) = log.kept(to - 2 * window, to - window, settings.filter);
    let before = log.counts(&before_kept, to - window, None);
    let mut model = QueryListModel {
        default_uv,
        ..Default::default()
    };
    model.pin(&settings.whitelist, log, &counts);
    let listable = |id: &u32| settings.listable(log.query(*id));
    let by_pv: Vec<u32> = ranked(log, &counts, |c| (c.searches, c.users))
        .into_iter()
        .filter(listable)
        .take(MAX_HIT)
        .collect();
    let by_uv: Vec<u32> = ranked(log, &counts, |c| (c.users, c.searches))
        .into_iter()
        .filter(listable)
        .take(MAX_HIT)
        .collect();
    let mut index = HashMap::new();
    let mut entry_of = |model: &mut QueryListModel, id: u32| {
        let c = counts[id as usize];
        model.entry(&mut index, id, || ListedQuery {
            query: log.display(id).to_string(),
            pv: u64::from(c.searches),
            uv: u64::from(c.users),
            tags: tag(&c, before.get(id as usize), rising_ratio),
        })
    };
    model.by_pv = by_pv.iter().map(|&id| entry_of(&mut model, id)).collect();
    model.by_uv = by_uv.iter().map(|&id| entry_of(&mut model, id)).collect();
    HotList {
        model,
        order: if default_uv { by_uv } else { by_pv },
    }
}

impl Trainer for HotTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let settings = ListSettings::read(job)?;
        let p = job.parameters;
        let rising_ratio = p.float("rising_ratio").map_err(param_error)?;
        let default_uv = p.get("sort_type").map_err(param_error)? == "uv";
        let window = settings.window_ms();
        let holdout_start = job.now_ms - settings.holdout_days * DAY_MS;
        let mut scan = Scan::new(progress);
        // Two windows: tags compare with the window before.
        let log = QueryLog::read(
            job.data,
            job.now_ms - 2 * window,
            job.now_ms,
            &mut scan,
            (1, 80),
        )?;
        settings.check_ready(Function::Hot, &log, job.now_ms - window, job.now_ms)?;

        scan.step("evaluating on held-out days", 80)?;
        let evaluated = build_hot(&log, &settings, holdout_start, rising_ratio, default_uv);
        let (held_out, _) = log.kept(holdout_start, job.now_ms, settings.filter);
        let held_out_counts = log.counts(&held_out, job.now_ms, None);
        let key = |c: &QueryCount| {
            if default_uv {
                (c.users, c.searches)
            } else {
                (c.searches, c.users)
            }
        };
        let real: Vec<u32> = ranked(&log, &held_out_counts, key)
            .into_iter()
            .filter(|id| settings.listable(log.query(*id)))
            .collect();
        let mut metrics = Map::new();
        for k in [10, 30] {
            let predicted = &evaluated.order[..evaluated.order.len().min(k)];
            let real = &real[..real.len().min(k)];
            metrics.insert(
                format!("holdout_top{k}_overlap"),
                json!(overlap(predicted, real).map(rounded)),
            );
        }
        metrics.insert("holdout_searches".into(), json!(held_out.len()));

        scan.step("ranking queries", 90)?;
        let served = build_hot(&log, &settings, job.now_ms, rising_ratio, default_uv);
        let (kept, capped) = log.kept(job.now_ms - window, job.now_ms, settings.filter);
        metrics.insert("searches_counted".into(), json!(kept.len()));
        metrics.insert("searches_capped_as_spam".into(), json!(capped));
        metrics.insert("distinct_queries".into(), json!(log.query_count()));
        metrics.insert(
            "listed".into(),
            json!(served.model.top(MAX_HIT, ListOrder::Default, None).len()),
        );
        insert_log_stats(&mut metrics, &log);
        Ok(TrainedModel {
            artifact: served.model.encode()?,
            metrics,
            passed_quality_gate: true,
        })
    }
}

fn insert_log_stats(metrics: &mut Map<String, Value>, log: &QueryLog) {
    metrics.insert("log_events".into(), json!(log.stats.events));
    metrics.insert("log_searches".into(), json!(log.stats.searches));
    metrics.insert("unusable_queries".into(), json!(log.stats.unusable_queries));
    metrics.insert("unjoined_clicks".into(), json!(log.stats.unjoined_clicks));
}

pub struct HintTrainer;

/// Per-item top-level category (the first segment of the category path), as indices into `names`.
struct Categories {
    names: Vec<String>,
    of_item: HashMap<String, u16>,
}

fn read_categories(job: &TrainingJob<'_>, scan: &mut Scan<'_>) -> Result<Categories, TrainError> {
    let field = job
        .parameters
        .get("category_field")
        .map_err(param_error)?
        .to_string();
    let mut categories = Categories {
        names: Vec::new(),
        of_item: HashMap::new(),
    };
    let mut ids: HashMap<String, u16> = HashMap::new();
    let result = job.data.for_each_document(DocumentKind::Item, &mut |item| {
        let Some(path) = item.text(&field) else {
            return Ok(());
        };
        let top = path.split('>').next().unwrap_or("").trim();
        if top.is_empty() {
            return Ok(());
        }
        let id = match ids.get(top) {
            Some(&id) => id,
            None if categories.names.len() < usize::from(u16::MAX) => {
                let id = categories.names.len() as u16;
                categories.names.push(top.to_string());
                ids.insert(top.to_string(), id);
                id
            }
            None => return Ok(()),
        };
        categories.of_item.insert(item.id.clone(), id);
        Ok(())
    });
    scan.finish(result)?;
    Ok(categories)
}

struct HintList {
    model: QueryListModel,
    /// Query ids of the overall list, best first, without the pinned ones.
    order: Vec<u32>,
}

fn build_hint(
    log: &QueryLog,
    settings: &ListSettings,
    to: i64,
    half_life_ms: f64,
    categories: Option<&Categories>,
) -> HintList {
    let window = settings.window_ms();
    let (kept, _) = log.kept(to - window, to, settings.filter);
    let counts = log.counts(&kept, to, Some(half_life_ms));
    let (before_kept, _) = log.kept(to - 2 * window, to - window, settings.filter);
    let before = log.counts(&before_kept, to - window, None);
    let (searches, clicked) = counts.iter().fold((0u64, 0u64), |(s, c), q| {
        (s + u64::from(q.searches), c + u64::from(q.clicked))
    });
    // Without any click joined there is no take-up to weigh by: fresh popularity alone ranks.
    let average_ctr = (searches > 0 && clicked > 0).then(|| clicked as f64 / searches as f64);
    let score: Vec<f64> = counts
        .iter()
        .map(|c| match average_ctr {
            Some(average) => {
                let ctr = (f64::from(c.clicked) + CTR_PSEUDO_SEARCHES * average)
                    / (f64::from(c.searches) + CTR_PSEUDO_SEARCHES);
                c.weight * ctr / average
            }
            None => c.weight,
        })
        .collect();
    let mut ids: Vec<u32> = (0..counts.len() as u32)
        .filter(|&id| counts[id as usize].searches > 0 && settings.listable(log.query(id)))
        .collect();
    ids.sort_by(|&a, &b| {
        score[b as usize]
            .total_cmp(&score[a as usize])
            .then_with(|| log.query(a).cmp(log.query(b)))
    });

    let mut model = QueryListModel::default();
    model.pin(&settings.whitelist, log, &counts);
    let mut index: HashMap<u32, u32> = HashMap::new();
    let mut entry_of = |model: &mut QueryListModel, index: &mut HashMap<u32, u32>, id: u32| {
        let c = counts[id as usize];
        model.entry(index, id, || ListedQuery {
            query: log.display(id).to_string(),
            pv: u64::from(c.searches),
            uv: u64::from(c.users),
            tags: tag(&c, before.get(id as usize), HINT_RISING_RATIO),
        })
    };
    let order: Vec<u32> = ids.iter().copied().take(MAX_HIT).collect();
    model.by_pv = order
        .iter()
        .map(|&id| entry_of(&mut model, &mut index, id))
        .collect();

    if let Some(categories) = categories {
        personalise(
            &mut model,
            &mut index,
            &mut entry_of,
            log,
            &kept,
            categories,
            (to, half_life_ms),
            (&ids, &score),
        );
    }
    HintList { model, order }
}

/// Adds a query of the log to a model once (given the query → entry index) and returns its entry.
type EntryOf<'a> = dyn FnMut(&mut QueryListModel, &mut HashMap<u32, u32>, u32) -> u32 + 'a;

/// Adds the candidates and user affinities of personalised hints. `ranked` is the eligible queries best first
/// with every query's score.
#[allow(clippy::too_many_arguments)]
fn personalise(
    model: &mut QueryListModel,
    index: &mut HashMap<u32, u32>,
    entry_of: &mut EntryOf<'_>,
    log: &QueryLog,
    kept: &[u32],
    categories: &Categories,
    (to, half_life_ms): (i64, f64),
    (ranked, score): (&[u32], &[f64]),
) {
    // A query's category: where most of its clicks land.
    let mut query_clicks: HashMap<u32, HashMap<u16, u32>> = HashMap::new();
    for &s in kept {
        for click in log.clicks_of(s, to) {
            if let Some(&c) = categories.of_item.get(log.item(click.item)) {
                *query_clicks
                    .entry(log.searches[s as usize].query)
                    .or_default()
                    .entry(c)
                    .or_default() += 1;
            }
        }
    }
    let query_category: HashMap<u32, u16> = query_clicks
        .iter()
        .filter_map(|(q, m)| {
            m.iter()
                .max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c)))
                .map(|(c, _)| (*q, *c))
        })
        .collect();

    // A user's activity per category: their searches of categorised queries and their clicks, decayed.
    let mut activity: HashMap<u32, (i64, HashMap<u16, f64>)> = HashMap::new();
    let mut everyone: HashMap<u16, f64> = HashMap::new();
    for &s in kept {
        let search = &log.searches[s as usize];
        if search.identity == 0 {
            continue;
        }
        let decay = 0.5f64.powf((to - search.at_ms).max(0) as f64 / half_life_ms);
        let (last, by_category) = activity.entry(search.identity).or_default();
        *last = (*last).max(search.at_ms);
        let clicked = log
            .clicks_of(s, to)
            .filter_map(|click| categories.of_item.get(log.item(click.item)).copied());
        for c in query_category
            .get(&search.query)
            .copied()
            .into_iter()
            .chain(clicked)
        {
            *by_category.entry(c).or_default() += decay;
            *everyone.entry(c).or_default() += decay;
        }
    }
    let total: f64 = everyone.values().sum();

    // Candidates: the overall best and the best of every category.
    let mut candidates: Vec<u32> = model.by_pv.clone();
    let mut is_candidate: HashSet<u32> = candidates.iter().copied().collect();
    let mut per_category: HashMap<u16, usize> = HashMap::new();
    for &id in ranked {
        let Some(&c) = query_category.get(&id) else {
            continue;
        };
        let n = per_category.entry(c).or_default();
        if *n < PER_CATEGORY {
            *n += 1;
            let entry = entry_of(model, index, id);
            if is_candidate.insert(entry) {
                candidates.push(entry);
            }
        }
    }
    model.candidates = candidates;
    model.scores = vec![0.0; model.entries.len()];
    model.entry_category = vec![NO_CATEGORY; model.entries.len()];
    for (&query, &entry) in index.iter() {
        model.scores[entry as usize] = score[query as usize] as f32;
        if let Some(&c) = query_category.get(&query) {
            model.entry_category[entry as usize] = c;
        }
    }

    // Affinity: the user's share of a category over everyone's, smoothed towards 1.
    let mut users: Vec<(u32, i64, HashMap<u16, f64>)> = activity
        .into_iter()
        .map(|(u, (last, by_category))| (u, last, by_category))
        .collect();
    // Keep the most recently active users when there are too many.
    users.sort_by_key(|(_, last, _)| std::cmp::Reverse(*last));
    users.truncate(MAX_PROFILES);
    for (user, _, by_category) in users {
        let own: f64 = by_category.values().sum();
        if own <= 0.0 || total <= 0.0 {
            continue;
        }
        let mut affinities: Vec<(u16, f32)> = by_category
            .iter()
            .map(|(&c, &w)| {
                let global = everyone.get(&c).copied().unwrap_or(0.0) / total;
                let ratio = (w + AFFINITY_PSEUDO_EVENTS * global)
                    / ((own + AFFINITY_PSEUDO_EVENTS) * global);
                (c, ratio as f32)
            })
            .collect();
        affinities.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        affinities.truncate(USER_CATEGORIES);
        model.profiles.insert(
            log.identity(user).to_string(),
            Affinity {
                categories: affinities,
                elsewhere: (AFFINITY_PSEUDO_EVENTS / (own + AFFINITY_PSEUDO_EVENTS)) as f32,
            },
        );
    }
}

impl Trainer for HintTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let settings = ListSettings::read(job)?;
        let half_life_ms = job
            .parameters
            .float("half_life_days")
            .map_err(param_error)?
            * DAY_MS as f64;
        let personal = job.model_type == "near_realtime";
        let window = settings.window_ms();
        let holdout_start = job.now_ms - settings.holdout_days * DAY_MS;
        let mut scan = Scan::new(progress);
        let categories = if personal {
            scan.step("reading item categories", 1)?;
            Some(read_categories(job, &mut scan)?)
        } else {
            None
        };
        let log = QueryLog::read(
            job.data,
            job.now_ms - 2 * window,
            job.now_ms,
            &mut scan,
            (5, 75),
        )?;
        settings.check_ready(Function::Hint, &log, job.now_ms - window, job.now_ms)?;

        scan.step("evaluating on held-out days", 75)?;
        let evaluated = build_hint(
            &log,
            &settings,
            holdout_start,
            half_life_ms,
            categories.as_ref(),
        );
        let (held_out, _) = log.kept(holdout_start, job.now_ms, settings.filter);
        let mut metrics = Map::new();
        metrics.insert("holdout_searches".into(), json!(held_out.len()));
        for k in [3, 10] {
            let hinted: HashSet<u32> = evaluated.order.iter().take(k).copied().collect();
            let covered = held_out
                .iter()
                .filter(|&&s| hinted.contains(&log.searches[s as usize].query))
                .count();
            metrics.insert(
                format!("holdout_coverage_at_{k}"),
                json!(
                    (!held_out.is_empty()).then(|| rounded(covered as f64 / held_out.len() as f64))
                ),
            );
        }
        if personal {
            insert_personal_metrics(&mut metrics, &log, &held_out, &evaluated.model);
        }

        scan.step("ranking queries", 90)?;
        let served = build_hint(
            &log,
            &settings,
            job.now_ms,
            half_life_ms,
            categories.as_ref(),
        );
        let (kept, capped) = log.kept(job.now_ms - window, job.now_ms, settings.filter);
        metrics.insert("searches_counted".into(), json!(kept.len()));
        metrics.insert("searches_capped_as_spam".into(), json!(capped));
        metrics.insert("distinct_queries".into(), json!(log.query_count()));
        metrics.insert("listed".into(), json!(served.model.len()));
        if personal {
            metrics.insert("user_profiles".into(), json!(served.model.profiles.len()));
        }
        insert_log_stats(&mut metrics, &log);
        Ok(TrainedModel {
            artifact: served.model.encode()?,
            metrics,
            passed_quality_gate: true,
        })
    }
}

/// For users known to the evaluated model who searched in the held-out days: the share of them who searched
/// one of their three personal hints, next to the share who searched one of the three overall hints.
fn insert_personal_metrics(
    metrics: &mut Map<String, Value>,
    log: &QueryLog,
    held_out: &[u32],
    model: &QueryListModel,
) {
    let mut searched: HashMap<u32, HashSet<String>> = HashMap::new();
    for &s in held_out {
        let search = &log.searches[s as usize];
        if search.identity != 0 && model.knows_user(log.identity(search.identity)) {
            searched
                .entry(search.identity)
                .or_default()
                .insert(log.query(search.query).to_string());
        }
    }
    let normal_forms = |hints: Vec<&ListedQuery>| -> Vec<String> {
        hints.iter().map(|h| normalise(&h.query)).collect()
    };
    let hit =
        |hints: &[String], queries: &HashSet<String>| hints.iter().any(|h| queries.contains(h));
    let overall_hints = normal_forms(model.top(3, ListOrder::Default, None));
    let (mut personal, mut overall) = (0usize, 0usize);
    for (user, queries) in &searched {
        let name = log.identity(*user);
        let personal_hints = normal_forms(model.top(3, ListOrder::Default, Some(name)));
        personal += usize::from(hit(&personal_hints, queries));
        overall += usize::from(hit(&overall_hints, queries));
    }
    let users = searched.len();
    let share = |n: usize| (users > 0).then(|| rounded(n as f64 / users as f64));
    metrics.insert("holdout_users_evaluated".into(), json!(users));
    metrics.insert("personal_hit_rate_at_3".into(), json!(share(personal)));
    metrics.insert("overall_hit_rate_at_3".into(), json!(share(overall)));
}
