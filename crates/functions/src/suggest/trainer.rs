//! The `suggest` trainer: the query log with its bots spotted, the weight search, a model fitted before the
//! held-out days replayed on them next to the baselines, and the served model rebuilt on the whole window.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::{DAY_MS, WindowCounts as DataCounts};
use serde_json::json;

use super::index::SuggestIndex;
use super::model::SuggestModel;
use super::personal::{Blend, Histories, PersonalQuery, Use};
use super::replay::{self, Alphabet, DEPTH};
use super::selection::{self, Choice, Ground};
use super::weights::{Count, Eligibility, Weighting, WindowCounts};
use crate::evaluation::{Metrics, rounded, share};
use crate::held_out::{EVALUATING, Evaluation, HeldOutSplit, REFITTING, Window};
use crate::progress::{Step, Steps, step};
use crate::query::bots::Bots;
use crate::query::log::{LogFilter, QueryLog, READING_LOG, dictionary};
use crate::query::{normalise, pinyin_keys};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob, ensure_ready};

const PLAN: &[Step] = &[
    step(READING_LOG, 60),
    step(EVALUATING, 20),
    step(REFITTING, 20),
];

pub struct SuggestTrainer;

struct SuggestSettings {
    drop_no_result: bool,
    min_count: u32,
    min_users: u32,
    configured: (Weighting, Blend),
    search: bool,
    history_per_user: usize,
    pinyin: bool,
    blacklist: HashSet<String>,
    holdout_ms: i64,
}

impl SuggestSettings {
    fn read(job: &TrainingJob<'_>, split: &HeldOutSplit) -> Result<Self, TrainError> {
        let p = job.params();
        let count = match p.int("user_query_cap")? {
            cap if cap <= 0 => Count::Searches,
            cap => Count::CappedPerDay(cap as u32),
        };
        Ok(SuggestSettings {
            drop_no_result: p.flag("drop_no_result")?,
            min_count: p.int("min_count")?.max(1) as u32,
            min_users: p.int("min_users")?.max(1) as u32,
            configured: (
                Weighting {
                    count,
                    half_life_days: Some(p.float("half_life_days")?),
                    click_weight: p.float("click_weight")?,
                },
                Blend {
                    personal_weight: p.float("personal_weight")?,
                    half_life_days: p.float("personal_half_life_days")?,
                },
            ),
            search: p.text("weight_search")? == "held_out",
            history_per_user: p.int("history_per_user")?.max(1) as usize,
            pinyin: p.flag("pinyin")?,
            blacklist: dictionary(job.resource("blacklist")).into_iter().collect(),
            holdout_ms: split.holdout_days() * DAY_MS,
        })
    }

    fn eligibility(&self) -> Eligibility<'_> {
        Eligibility {
            min_count: self.min_count,
            min_users: self.min_users,
            blacklist: &self.blacklist,
        }
    }
}

/// The log and settings with what every fit needs of them.
struct Fitting<'a> {
    log: &'a QueryLog,
    bots: &'a Bots,
    alphabet: Alphabet,
    settings: &'a SuggestSettings,
}

impl Fitting<'_> {
    /// The searches of `window` that count: not of bots, with results when `drop_no_result`; every repeat kept.
    fn searches(&self, window: Window) -> Vec<u32> {
        let filter = LogFilter {
            user_query_cap: u32::MAX,
            drop_no_result: self.settings.drop_no_result,
            drop_no_click: false,
        };
        let (mut kept, _) = self.log.kept(window.from_ms, window.to_ms, filter);
        self.bots.remove_from(self.log, &mut kept);
        kept
    }

    /// The weights of a fit on `window`: searched for on its last days, or as configured.
    fn choose(&self, window: Window) -> Choice {
        let s = self.settings;
        if !s.search {
            return Choice::configured(s.configured.0, s.configured.1);
        }
        let searches = |w: Window| self.searches(w);
        let eligibility = s.eligibility();
        let ground = Ground {
            log: self.log,
            alphabet: &self.alphabet,
            searches: &searches,
            eligibility: &eligibility,
        };
        selection::choose(&ground, window, s.holdout_ms, s.configured)
    }

    /// The model fitted on `window` with the weights `choice` chose.
    fn build(&self, window: Window, choice: &Choice) -> Result<SuggestModel, TrainError> {
        let s = self.settings;
        let log = self.log;
        let searches = self.searches(window);
        let counts = WindowCounts::new(log, &searches, window.to_ms);
        let weights = counts.weights(log, &searches, choice.weighting);
        let candidates = counts.candidates(log, &weights, &s.eligibility());
        let index = SuggestIndex::build(candidates, s.pinyin)?;
        let histories = if choice.blend.personal_weight > 0.0 {
            histories(log, &searches, window.to_ms, choice.blend, &index, s)
        } else {
            Histories::default()
        };
        Ok(SuggestModel::new(
            index,
            histories,
            choice.blend,
            window.to_ms,
        ))
    }
}

/// Each user's most used queries of `searches` (at most `history_per_user`), weighted by the blend's half-life.
fn histories(
    log: &QueryLog,
    searches: &[u32],
    to_ms: i64,
    blend: Blend,
    index: &SuggestIndex,
    s: &SuggestSettings,
) -> Histories {
    let mut per_user: HashMap<u32, HashMap<u32, (f64, i64)>> = HashMap::new();
    for &i in searches {
        let search = &log.searches[i as usize];
        // The anonymous identity is many people: it has no history.
        if search.identity == 0 || s.blacklist.contains(log.query(search.query)) {
            continue;
        }
        let entry = per_user
            .entry(search.identity)
            .or_default()
            .entry(search.query)
            .or_insert((0.0, i64::MIN));
        entry.0 += blend.decay(to_ms - search.at_ms);
        entry.1 = entry.1.max(search.at_ms);
    }
    let mut histories = Histories::default();
    let mut personal_ids: HashMap<u32, u32> = HashMap::new();
    for (identity, used) in per_user {
        let mut used: Vec<(u32, (f64, i64))> = used.into_iter().collect();
        used.sort_by(|a, b| {
            b.1.0
                .total_cmp(&a.1.0)
                .then(b.1.1.cmp(&a.1.1))
                .then(a.0.cmp(&b.0))
        });
        used.truncate(s.history_per_user);
        let uses = used
            .into_iter()
            .map(|(query, (weight, last_ms))| {
                let id = *personal_ids.entry(query).or_insert_with(|| {
                    let normal = log.query(query);
                    histories.queries.push(PersonalQuery {
                        normal: normal.to_string(),
                        display: log.display(query).to_string(),
                        pinyin: if s.pinyin { pinyin_keys(normal) } else { None },
                        global: index.id_of(normal),
                    });
                    (histories.queries.len() - 1) as u32
                });
                Use {
                    query: id,
                    weight: weight as f32,
                    last_ms,
                }
            })
            .collect();
        histories
            .users
            .insert(log.identity(identity).to_string(), uses);
    }
    histories
}

/// MRR of the served kind of model on `targets`: global completions, or blended for each target's user.
fn model_mrr(
    log: &QueryLog,
    model: &SuggestModel,
    targets: &[replay::Target],
    with_user: bool,
    now_ms: i64,
) -> f64 {
    let mut cache: HashMap<&str, Vec<String>> = HashMap::new();
    let (mut sum, mut pairs) = (0.0, 0u64);
    for t in targets {
        let normal = log.query(t.query);
        let user = (with_user && t.identity != 0).then(|| log.identity(t.identity));
        for &end in &t.ends {
            pairs += 1;
            let prefix = &normal[..end];
            let found = match user {
                Some(user) => model
                    .suggest_for(prefix, DEPTH, Some(user), &[], now_ms)
                    .into_iter()
                    .map(|d| normalise(&d))
                    .collect(),
                None => cache
                    .entry(prefix)
                    .or_insert_with(|| {
                        model
                            .suggest(prefix, DEPTH)
                            .into_iter()
                            .map(normalise)
                            .collect()
                    })
                    .clone(),
            };
            if let Some(rank) = found.iter().position(|q| q == normal) {
                sum += 1.0 / (rank + 1) as f64;
            }
        }
    }
    if pairs > 0 { sum / pairs as f64 } else { 0.0 }
}

/// Replays the held-out days on the model fitted before them and on the baselines fitted on the same window.
fn score(
    ground: &Fitting<'_>,
    (model, choice): &(SuggestModel, Choice),
    evaluation: Evaluation,
) -> Metrics {
    let log = ground.log;
    let held_out = ground.searches(evaluation.held_out);
    let targets = replay::targets(log, &held_out);
    let pairs: u64 = targets.iter().map(|t| t.ends.len() as u64).sum();
    let fit = evaluation.fit;
    let now = fit.to_ms;
    let mut metrics = Metrics::default();
    metrics.put("holdout_searches", held_out.len());
    metrics.put("holdout_prefixes", pairs);
    if pairs > 0 {
        metrics.put("mrr", rounded(model_mrr(log, model, &targets, false, now)));
        metrics.put(
            "mrr_with_user_id",
            rounded(model_mrr(log, model, &targets, true, now)),
        );
        // The baselines are served as the model is (the same index, pinyin keys included). Most-popular
        // completion counts every search of the window, bots and one-off queries included.
        let (all, _) = log.kept(
            fit.from_ms,
            fit.to_ms,
            LogFilter {
                user_query_cap: u32::MAX,
                drop_no_result: false,
                drop_no_click: false,
            },
        );
        let counts = WindowCounts::new(log, &all, fit.to_ms);
        let weights = counts.weights(log, &all, Weighting::MOST_POPULAR);
        let nothing_barred = HashSet::new();
        let everyone = Eligibility {
            min_count: 1,
            min_users: 1,
            blacklist: &nothing_barred,
        };
        let settings = ground.settings;
        let most_popular =
            SuggestIndex::build(counts.candidates(log, &weights, &everyone), settings.pinyin);
        // Most-popular completion over the queries the privacy rule lets everyone see: what the model's global
        // list is measured against when only the rule's cost is to be left out.
        let shared = SuggestIndex::build(
            counts.candidates(log, &weights, &settings.eligibility()),
            settings.pinyin,
        );
        if let Ok(index) = shared {
            let model = SuggestModel::new(index, Histories::default(), Blend::GLOBAL_ONLY, now);
            metrics.put(
                "baseline_most_popular_shared_mrr",
                rounded(model_mrr(log, &model, &targets, false, now)),
            );
        }
        let (baseline, own_first) = match most_popular {
            Ok(index) => {
                let own_first = Blend {
                    personal_weight: 1e9,
                    half_life_days: 1e9,
                };
                let histories = histories(log, &all, fit.to_ms, own_first, &index, settings);
                let model = SuggestModel::new(index, histories, own_first, fit.to_ms);
                (
                    model_mrr(log, &model, &targets, false, now),
                    model_mrr(log, &model, &targets, true, now),
                )
            }
            Err(_) => (0.0, 0.0),
        };
        metrics.put("baseline_most_popular_mrr", rounded(baseline));
        metrics.put(
            "baseline_own_history_then_most_popular_mrr",
            rounded(own_first),
        );
    }
    let covered = targets
        .iter()
        .filter(|t| model.index().id_of(log.query(t.query)).is_some())
        .count();
    metrics.put(
        "holdout_query_coverage",
        share(covered as u64, targets.len() as u64),
    );
    metrics.put("evaluated_choice", choice.to_json());
    metrics
}

impl Trainer for SuggestTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let split = HeldOutSplit::read(job)?;
        let settings = SuggestSettings::read(job, &split)?;
        let mut steps = Steps::new(progress, PLAN);
        steps.enter(READING_LOG)?;
        let whole = split.whole_window();
        let read = Window {
            from_ms: split.evaluated_window().from_ms,
            to_ms: whole.to_ms,
        };
        let log = QueryLog::read(job.data, read, &mut steps)?;
        let counts = DataCounts {
            searches: log.searches_in(whole),
            ..Default::default()
        };
        ensure_ready(
            Function::Suggest,
            &counts,
            format_args!(
                "(searches with a usable raw_query in the last {} days)",
                split.window_days()
            ),
        )?;
        let bots = Bots::spot(&log);
        let ground = Fitting {
            log: &log,
            bots: &bots,
            alphabet: Alphabet::new(&log),
            settings: &settings,
        };

        let ((served, choice), mut metrics) = split.evaluate_then_refit(
            &mut steps,
            |fit| {
                let choice = ground.choose(fit.window());
                let model = ground.build(fit.window(), &choice)?;
                Ok((model, choice))
            },
            |evaluated, evaluation| Ok(score(&ground, evaluated, evaluation)),
        )?;
        let artifact = served.encode()?;
        let histories = served.histories();
        metrics.put("chosen", choice.to_json());
        metrics.put("weight_candidates", choice.tried_json());
        metrics.put("weight_search_cut_short", choice.cut_short);
        metrics.put("validation_prefixes", choice.pairs);
        metrics.put("suggestions", served.index().len());
        metrics.put("index_keys", served.index().key_count());
        metrics.put("heavy_prefixes", served.index().heavy_prefix_count());
        metrics.put("user_histories", histories.user_count());
        metrics.put("history_entries", histories.use_count());
        metrics.put("history_queries", histories.queries.len());
        metrics.put(
            "history_bytes",
            postcard::to_allocvec(histories).map_or(0, |b| b.len()),
        );
        metrics.put("distinct_queries", log.query_count());
        metrics.put("log_searches", log.stats.searches);
        metrics.put("unusable_queries", log.stats.unusable_queries);
        metrics.put("bot_identities", bots.len());
        let bot_searches = log
            .searches
            .iter()
            .filter(|s| whole.contains(s.at_ms) && bots.contains(s.identity))
            .count();
        metrics.put("bot_searches", bot_searches);
        metrics.put("min_users", json!(settings.min_users));
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into(),
            passed_quality_gate: !served.index().is_empty() || histories.user_count() > 0,
        })
    }
}
