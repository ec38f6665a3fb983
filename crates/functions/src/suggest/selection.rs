//! The weight search: which weighting of the global list and which personal blend complete the app's own
//! searches best. Each candidate is fitted on a window's days before its last `holdout_days` and replayed
//! ([`super::replay`]) on those last days; the best MRR wins (ties go to the candidate tried first, the
//! configured parameters). The served model and the evaluated one each run their own search on their own
//! window, so the held-out days that score the evaluated model never chose its weights.
//!
//! In three stages, within [`BUDGET`]: the count and recency half-life of the global weights, without `user_id`
//! ([`GLOBAL_GRID`]); then the click-through exponent; then the personal blend, with `user_id`
//! ([`BLEND_GRID`]).

use std::time::{Duration, Instant};

use algocenter_domain::data::DAY_MS;
use serde_json::{Value, json};

use super::personal::Blend;
use super::replay::{self, Alphabet, Personal, Ranker, UserSearches};
use super::weights::{Count, Eligibility, Weighting, WindowCounts};
use crate::evaluation::rounded;
use crate::held_out::Window;
use crate::query::log::QueryLog;

/// Time the search may take per fitted model; candidates left when it runs out are not tried.
pub const BUDGET: Duration = Duration::from_secs(10);

/// Counts and half-lives (days) tried for the global weights.
pub const GLOBAL_GRID: &[(Count, Option<f64>)] = &[
    (Count::Searches, None),
    (Count::Searches, Some(30.0)),
    (Count::Searches, Some(7.0)),
    (Count::CappedPerDay(3), None),
    (Count::CappedPerDay(3), Some(14.0)),
    (Count::Users, None),
    (Count::Users, Some(30.0)),
];
/// Click-through exponents tried on the best global weighting.
pub const CLICK_GRID: &[f64] = &[0.0, 0.3, 1.0];
/// Personal weights and half-lives (days) tried; a weight of 1e6 puts the user's own queries first.
pub const BLEND_GRID: &[(f64, f64)] = &[
    (0.0, 30.0),
    (0.3, 30.0),
    (1.0, 30.0),
    (3.0, 30.0),
    (1e6, 30.0),
    (1.0, 7.0),
    (1e6, 7.0),
    (1.0, 180.0),
    (1e6, 180.0),
];

/// One candidate and how it replayed.
#[derive(Clone, Debug)]
pub struct Tried {
    pub weighting: Weighting,
    /// `None` for the global stages (replayed without `user_id`).
    pub blend: Option<Blend>,
    pub mrr: f64,
}

/// What the search chose, and what it tried.
#[derive(Clone, Debug)]
pub struct Choice {
    pub weighting: Weighting,
    pub blend: Blend,
    pub tried: Vec<Tried>,
    /// (search, prefix) pairs of the validation days.
    pub pairs: u64,
    /// The budget ran out before every candidate was tried.
    pub cut_short: bool,
    /// Whether a search ran (it is off by parameter, or the validation days had no search to replay).
    pub searched: bool,
}

impl Choice {
    /// The configured weights, unsearched.
    pub fn configured(weighting: Weighting, blend: Blend) -> Self {
        Choice {
            weighting,
            blend,
            tried: Vec::new(),
            pairs: 0,
            cut_short: false,
            searched: false,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "weighting": self.weighting.to_json(),
            "personal_weight": self.blend.personal_weight,
            "personal_half_life_days": self.blend.half_life_days,
            "searched": self.searched,
        })
    }

    pub fn tried_json(&self) -> Value {
        Value::Array(
            self.tried
                .iter()
                .map(|t| {
                    let mut v = t.weighting.to_json();
                    if let (Some(b), Some(map)) = (t.blend, v.as_object_mut()) {
                        map.insert("personal_weight".into(), json!(b.personal_weight));
                        map.insert("personal_half_life_days".into(), json!(b.half_life_days));
                    }
                    if let Some(map) = v.as_object_mut() {
                        map.insert("validation_mrr".into(), json!(rounded(t.mrr)));
                    }
                    v
                })
                .collect(),
        )
    }
}

/// Where the search looks: the log, its queries in order, the searches of a window, the global threshold.
pub struct Ground<'a> {
    pub log: &'a QueryLog,
    pub alphabet: &'a Alphabet,
    /// The kept searches of a window (bots removed).
    pub searches: &'a dyn Fn(Window) -> Vec<u32>,
    pub eligibility: &'a Eligibility<'a>,
}

/// Chooses the weights for a model fitted on `fit`, on its last `validation_ms`, starting from `configured`.
pub fn choose(
    ground: &Ground<'_>,
    fit: Window,
    validation_ms: i64,
    configured: (Weighting, Blend),
) -> Choice {
    let started = Instant::now();
    let log = ground.log;
    let before = Window {
        from_ms: fit.from_ms,
        to_ms: fit.to_ms - validation_ms,
    };
    let validation = Window {
        from_ms: before.to_ms,
        to_ms: fit.to_ms,
    };
    let targets = replay::targets(log, &(ground.searches)(validation));
    if targets.is_empty() || before.len_ms() < DAY_MS {
        return Choice::configured(configured.0, configured.1);
    }
    let searches = (ground.searches)(before);
    let counts = WindowCounts::new(log, &searches, before.to_ms);
    let ranker = |w: Weighting| {
        let weights = counts.weights(log, &searches, w);
        Ranker::new(log, ground.alphabet, &weights, |q| {
            ground
                .eligibility
                .admits(log, q, &counts.counts[q as usize])
        })
    };
    let mut choice = Choice {
        searched: true,
        ..Choice::configured(configured.0, configured.1)
    };
    let mut best = f64::NEG_INFINITY;
    let out_of_time = |choice: &mut Choice| {
        let out = started.elapsed() > BUDGET;
        choice.cut_short |= out;
        out
    };

    // Global weights, replayed without user_id.
    let mut globals: Vec<Weighting> = vec![configured.0];
    globals.extend(
        GLOBAL_GRID
            .iter()
            .map(|&(count, half_life_days)| Weighting {
                count,
                half_life_days,
                click_weight: 0.0,
            }),
    );
    let try_global = |w: Weighting, choice: &mut Choice, best: &mut f64| {
        if choice.tried.iter().any(|t| t.weighting == w) {
            return;
        }
        let (m, pairs) = replay::mrr(&targets, &mut ranker(w), Personal::None);
        choice.pairs = pairs;
        choice.tried.push(Tried {
            weighting: w,
            blend: None,
            mrr: m,
        });
        if m > *best {
            *best = m;
            choice.weighting = w;
        }
    };
    for w in globals {
        if !choice.tried.is_empty() && out_of_time(&mut choice) {
            break;
        }
        try_global(w, &mut choice, &mut best);
    }
    for &click_weight in CLICK_GRID {
        if out_of_time(&mut choice) {
            break;
        }
        let w = Weighting {
            click_weight,
            ..choice.weighting
        };
        try_global(w, &mut choice, &mut best);
    }

    // The personal blend, replayed with user_id.
    let users = UserSearches::new(log, &searches, before.to_ms);
    let mut chosen_ranker = ranker(choice.weighting);
    let mut blends = vec![configured.1];
    blends.extend(
        BLEND_GRID
            .iter()
            .map(|&(personal_weight, half_life_days)| Blend {
                personal_weight,
                half_life_days,
            }),
    );
    let mut best = f64::NEG_INFINITY;
    let mut seen: Vec<Blend> = Vec::new();
    for b in blends {
        if seen.contains(&b)
            || (b.personal_weight == 0.0 && seen.iter().any(|s| s.personal_weight == 0.0))
        {
            continue;
        }
        if !seen.is_empty() && out_of_time(&mut choice) {
            break;
        }
        seen.push(b);
        let (m, _) = replay::mrr(&targets, &mut chosen_ranker, Personal::Blended(&users, b));
        choice.tried.push(Tried {
            weighting: choice.weighting,
            blend: Some(b),
            mrr: m,
        });
        if m > best {
            best = m;
            choice.blend = b;
        }
    }
    choice
}
