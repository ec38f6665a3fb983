//! Generated `ctr` data with its truth, and the figures that compare a served model with it. Shared by
//! `tests/ctr*.rs` and `benches/ctr_training.rs`.
#![allow(dead_code)]

use std::collections::HashMap;

use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::ctr::{Candidate, CtrModel, Situation, auc_within_position};
use algocenter_functions::evaluation::auc;
use algocenter_generator::context::{ContextConfig, ContextWorld};
use algocenter_generator::{GeneratorConfig, World};

/// A held-out exposure as the generator made it.
pub struct Shown {
    pub user: String,
    pub rn: String,
    pub query: String,
    pub item: String,
    pub position: u32,
    pub context: Vec<(String, String)>,
    pub truth: f64,
    pub clicked: bool,
}

/// Every event, and the exposures at or after `held_out_from` with their truth.
struct Collector {
    data: InMemoryData,
    held_out_from: i64,
    held: Vec<Shown>,
    query_of_rn: HashMap<String, String>,
}

impl Collector {
    fn new(data: InMemoryData, held_out_from: i64) -> Collector {
        Collector {
            data,
            held_out_from,
            held: Vec::new(),
            query_of_rn: HashMap::new(),
        }
    }

    fn take(&mut self, e: &BehaviourEvent, truth: Option<f64>) {
        self.data.events.push(e.clone());
        if e.bhv_time_ms < self.held_out_from {
            return;
        }
        match (e.bhv_type.as_str(), truth) {
            ("search", _) => {
                self.query_of_rn.insert(e.rn.clone(), e.raw_query.clone());
            }
            ("expose", Some(p)) => self.held.push(Shown {
                user: e.user_id.clone(),
                rn: e.rn.clone(),
                query: self.query_of_rn.get(&e.rn).cloned().unwrap_or_default(),
                item: e.item_id.clone(),
                position: e.position.unwrap_or(0),
                context: e.context.clone(),
                truth: p,
                clicked: false,
            }),
            ("click", _) => {
                // The generators log a click right after its exposure.
                if let Some(last) = self.held.last_mut()
                    && last.rn == e.rn
                    && last.item == e.item_id
                {
                    last.clicked = true;
                }
            }
            _ => {}
        }
    }
}

/// Every event of a generated search world, and its exposures of the last day with their truth.
pub fn search_world(config: GeneratorConfig) -> (InMemoryData, Vec<Shown>) {
    let world = World::new(config);
    let data = InMemoryData {
        items: world.item_documents().collect(),
        ..Default::default()
    };
    let mut c = Collector::new(data, world.config().end_ms - DAY_MS);
    world.events(&mut |e, truth| c.take(e, truth));
    (c.data, c.held)
}

/// The context-aware shape (no items pushed: its items have no attributes), and its last day with the truth.
pub fn context_world(config: ContextConfig) -> (InMemoryData, Vec<Shown>) {
    let (_, data, held) = context_world_kept(config);
    (data, held)
}

/// [`context_world`], and the world itself (for oracles that know part of it).
pub fn context_world_kept(config: ContextConfig) -> (ContextWorld, InMemoryData, Vec<Shown>) {
    let world = ContextWorld::new(config);
    let mut c = Collector::new(InMemoryData::default(), world.config().end_ms - DAY_MS);
    world.events(&mut |e, truth| c.take(e, truth));
    (world, c.data, c.held)
}

pub fn score_at(model: &CtrModel, shown: &Shown, position: u32) -> f32 {
    let situation = Situation {
        user: Some(&shown.user),
        query: Some(&shown.query)
            .filter(|q| !q.is_empty())
            .map(|q| q.as_str()),
        context: &shown.context,
        position,
    };
    model.score(
        &situation,
        &[Candidate {
            id: &shown.item,
            attributes: None,
        }],
    )[0]
}

/// AUC and within-position AUC of `scores` on the held-out exposures.
pub fn aucs(held_out: &[Shown], scores: &[f32]) -> (f64, f64) {
    let labels: Vec<bool> = held_out.iter().map(|s| s.clicked).collect();
    let positions: Vec<u8> = held_out.iter().map(|s| s.position.min(50) as u8).collect();
    (
        auc(scores, &labels).unwrap_or(0.5),
        auc_within_position(scores, &labels, &positions).unwrap_or(0.5),
    )
}

pub fn truth_scores(held_out: &[Shown]) -> Vec<f32> {
    held_out.iter().map(|s| s.truth as f32).collect()
}

/// The model's scores of the held-out exposures at their logged positions.
pub fn model_scores(model: &CtrModel, held_out: &[Shown]) -> Vec<f32> {
    held_out
        .iter()
        .map(|s| score_at(model, s, s.position.max(1)))
        .collect()
}

/// Share of same-page pairs that `model` (every candidate scored at position 1) and the logged order put in the
/// order of their true relevance (the truth without the position's examination factor `position^-bias`).
pub fn pairwise_agreement(model: &CtrModel, held_out: &[Shown], bias: f64) -> (f64, f64) {
    let mut pages: HashMap<&str, Vec<&Shown>> = HashMap::new();
    for s in held_out {
        pages.entry(&s.rn).or_default().push(s);
    }
    let (mut model_right, mut logged_right, mut pairs) = (0u64, 0u64, 0u64);
    for page in pages.values() {
        let relevance: Vec<f64> = page
            .iter()
            .map(|s| s.truth * f64::from(s.position).powf(bias))
            .collect();
        let at_top: Vec<f32> = page.iter().map(|s| score_at(model, s, 1)).collect();
        for a in 0..page.len() {
            for b in a + 1..page.len() {
                if (relevance[a] - relevance[b]).abs() < 1e-9 {
                    continue;
                }
                let a_better = relevance[a] > relevance[b];
                pairs += 1;
                model_right += u64::from((at_top[a] > at_top[b]) == a_better);
                logged_right += u64::from((page[a].position < page[b].position) == a_better);
            }
        }
    }
    (
        model_right as f64 / pairs.max(1) as f64,
        logged_right as f64 / pairs.max(1) as f64,
    )
}
