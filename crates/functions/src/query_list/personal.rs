//! Personalised hints (`hint`, `near_realtime`): each query's category, each user's affinity to categories,
//! the candidate hints, and how the personal hints did on the held-out days.

use std::collections::{HashMap, HashSet};

use super::model::{Affinity, ListOrder, ListedQuery, NO_CATEGORY, QueryListModel};
use crate::evaluation::{Metrics, share};
use crate::progress::Steps;
use crate::query::log::QueryLog;
use crate::query::normalise;
use crate::{TrainError, TrainingJob};

/// Queries kept per category as candidates for personalised hints.
const PER_CATEGORY: usize = 10;
/// Categories remembered per user (the others get the user's `elsewhere` ratio).
const USER_CATEGORIES: usize = 8;
/// Most user profiles kept (the most recently active).
const MAX_PROFILES: usize = 1_000_000;
/// Pseudo-events pulling a user's category shares towards everyone's. Smaller values trusted a handful of
/// events too much and hinted worse than the overall list on held-out searches of generated data.
const AFFINITY_PSEUDO_EVENTS: f64 = 20.0;

/// Per-item top-level category (the first segment of the category path), as indices into `names`.
pub(super) struct Categories {
    names: Vec<String>,
    of_item: HashMap<String, u16>,
}

pub(super) fn read_categories(
    job: &TrainingJob<'_>,
    steps: &mut Steps<'_>,
) -> Result<Categories, TrainError> {
    let field = job.params().text("category_field")?;
    let mut categories = Categories {
        names: Vec::new(),
        of_item: HashMap::new(),
    };
    let mut ids: HashMap<String, u16> = HashMap::new();
    steps.for_each_item(job.data, |item| {
        let Some(path) = item.text(field) else {
            return;
        };
        let top = path.split('>').next().unwrap_or("").trim();
        if top.is_empty() {
            return;
        }
        let id = match ids.get(top) {
            Some(&id) => id,
            None if categories.names.len() < usize::from(u16::MAX) => {
                let id = categories.names.len() as u16;
                categories.names.push(top.to_string());
                ids.insert(top.to_string(), id);
                id
            }
            None => return,
        };
        categories.of_item.insert(item.id.clone(), id);
    })?;
    Ok(categories)
}

/// Adds a query of the log to a model once (given the query → entry index) and returns its entry.
pub(super) type EntryOf<'a> =
    dyn FnMut(&mut QueryListModel, &mut HashMap<u32, u32>, u32) -> u32 + 'a;

/// Adds the candidates and user affinities of personalised hints. `ranked` is the eligible queries best first
/// with every query's score.
#[allow(clippy::too_many_arguments)]
pub(super) fn personalise(
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

/// For users known to the evaluated model who searched in the held-out days: the share of them who searched
/// one of their three personal hints, next to the share who searched one of the three overall hints.
pub(super) fn insert_personal_metrics(
    metrics: &mut Metrics,
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
    let users = searched.len() as u64;
    metrics.put("holdout_users_evaluated", users);
    metrics.put("personal_hit_rate_at_3", share(personal as u64, users));
    metrics.put("overall_hit_rate_at_3", share(overall as u64, users));
}
