//! A shop for learning to rank: items with numeric attributes that matter (a price band that must fit the
//! shopper's budget, a rating with a threshold effect, sales with diminishing returns), graded behaviour
//! (click, then cart, then buy) and, for every exposure, the truth: its expected grade had it been examined.
//!
//! The logged ranking follows category relevance and sales with noise, and never sees ratings or budgets; clicks
//! are drawn as `examined(position) × P(click | examined)` with `examined(p) = p^-position_bias`. A model that
//! reads the rating, the price and the shopper's budget (in the event's `context`, key `budget`) can order
//! better than the log; the truth's own order is the ceiling.
//!
//! Switched on by [`GradedConfig`] (the CLI's `generate --graded`); the default world of the crate is unchanged.

use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::DAY_MS;
use algocenter_domain::document::Document;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, json};

use crate::words;

/// Budgets, and the price bands that fit them: `PRICE_BANDS[b]` is the upper price of band `b`.
pub const BUDGETS: [&str; 3] = ["low", "mid", "high"];
const PRICE_BANDS: [f64; 3] = [60.0, 250.0, f64::INFINITY];

#[derive(Clone, Debug)]
pub struct GradedConfig {
    pub seed: u64,
    /// Events end just before this instant (epoch ms).
    pub end_ms: i64,
    pub days: u32,
    /// Searches; each yields about 12 events.
    pub searches: u64,
    pub users: u32,
    pub items: u32,
    pub page_size: u32,
    pub position_bias: f64,
}

impl GradedConfig {
    /// About `events` events over `days` days ending at `end_ms`.
    pub fn for_events(events: u64, days: u32, end_ms: i64, seed: u64) -> Self {
        let searches = (events / 12).max(1);
        let scale = ((searches as f64) / 100_000.0).sqrt().max(0.05);
        GradedConfig {
            seed,
            end_ms,
            days,
            searches,
            users: ((20_000.0 * scale) as u32).max(200),
            items: ((10_000.0 * scale) as u32).max(400),
            page_size: 10,
            position_bias: 1.0,
        }
    }
}

/// An item and what drives its grades.
#[derive(Clone, Debug)]
pub struct GradedItem {
    pub id: String,
    pub leaf: usize,
    pub title: String,
    pub price: f64,
    /// 1–5.
    pub rating: f64,
    pub sales: u32,
}

impl GradedItem {
    pub fn band(&self) -> usize {
        PRICE_BANDS
            .iter()
            .position(|&b| self.price <= b)
            .unwrap_or(2)
    }

    /// How much the item appeals in itself: a rating under about 4 puts shoppers off; sales reassure, less and
    /// less.
    fn appeal(&self) -> f64 {
        let rating = 1.0 / (1.0 + (-(self.rating - 3.9) * 3.0).exp());
        let sales = (1.0 + f64::from(self.sales)).log10() / 4.0;
        rating * (0.6 + 0.4 * sales.min(1.0))
    }
}

pub struct GradedShop {
    config: GradedConfig,
    items: Vec<GradedItem>,
    /// Per leaf: its items.
    leaf_items: Vec<Vec<u32>>,
    /// Per user: budget band.
    budgets: Vec<usize>,
}

/// The probabilities of an examined exposure: click, cart after a click, buy after a cart.
#[derive(Clone, Copy, Debug)]
pub struct Chances {
    pub click: f64,
    pub cart: f64,
    pub buy: f64,
}

impl Chances {
    /// Expected grade (click 1, cart 2, buy 3) when examined: the truth a ranking is scored against.
    pub fn expected_grade(&self) -> f64 {
        self.click * (1.0 + self.cart * (1.0 + self.buy))
    }
}

impl GradedShop {
    pub fn new(config: GradedConfig) -> GradedShop {
        let mut rng = SmallRng::seed_from_u64(config.seed ^ 0x6772_6164);
        let leaves = words::leaves();
        let items: Vec<GradedItem> = (0..config.items)
            .map(|n| {
                let leaf = rng.random_range(0..leaves.len());
                let brand = words::BRANDS[rng.random_range(0..words::BRANDS.len())];
                let adjective = words::ADJECTIVES[rng.random_range(0..words::ADJECTIVES.len())];
                let (zh, en) = leaves[leaf].1;
                // Log-uniform prices from 10 to 800; ratings mostly 3.5–5; sales heavy-tailed.
                let price = (10f64.ln() + rng.random::<f64>() * (800f64 / 10.0).ln())
                    .exp()
                    .round();
                let rating = (3.0 + 2.0 * rng.random::<f64>().powf(0.6) * 1.0).min(5.0);
                let sales = (rng.random::<f64>().powi(3) * 5000.0) as u32;
                GradedItem {
                    id: format!("g{n}"),
                    leaf,
                    title: format!("{brand} {adjective} {zh} {en}"),
                    price,
                    rating: (rating * 10.0).round() / 10.0,
                    sales,
                }
            })
            .collect();
        let mut leaf_items = vec![Vec::new(); leaves.len()];
        for (i, item) in items.iter().enumerate() {
            leaf_items[item.leaf].push(i as u32);
        }
        let budgets = (0..config.users).map(|_| rng.random_range(0..3)).collect();
        GradedShop {
            config,
            items,
            leaf_items,
            budgets,
        }
    }

    pub fn items(&self) -> &[GradedItem] {
        &self.items
    }

    /// Items as documents: `title`, `category`, `price`, `rating`, `sales`.
    pub fn item_documents(&self) -> impl Iterator<Item = Document> + '_ {
        self.items.iter().map(|item| {
            let mut attributes = Map::new();
            attributes.insert("title".into(), json!(item.title));
            attributes.insert(
                "category".into(),
                json!(crate::World::category_path(item.leaf)),
            );
            attributes.insert("price".into(), json!(item.price));
            attributes.insert("rating".into(), json!(item.rating));
            attributes.insert("sales".into(), json!(item.sales));
            Document {
                id: item.id.clone(),
                attributes,
            }
        })
    }

    /// What a shopper with `budget` searching `leaf` would do with `item` once examined.
    pub fn chances(&self, leaf: usize, budget: usize, item: &GradedItem) -> Chances {
        let leaves = words::leaves();
        let relevance = if item.leaf == leaf {
            1.0
        } else if leaves[item.leaf].0 == leaves[leaf].0 {
            0.25
        } else {
            0.03
        };
        let fit = match budget.abs_diff(item.band()) {
            0 => 1.0,
            1 => 0.45,
            _ => 0.15,
        };
        let appeal = item.appeal();
        Chances {
            click: (0.75 * relevance * appeal * (0.4 + 0.6 * fit)).min(0.95),
            cart: 0.15 + 0.45 * fit * appeal,
            buy: 0.2 + 0.5 * fit,
        }
    }

    /// Streams every event in time order; exposures come with their truth ([`Chances::expected_grade`]).
    pub fn events(&self, f: &mut dyn FnMut(&BehaviourEvent, Option<f64>)) {
        let c = &self.config;
        let mut rng = SmallRng::seed_from_u64(c.seed ^ 0x7365_7373);
        let span = f64::from(c.days) * DAY_MS as f64;
        let start = c.end_ms as f64 - span;
        let leaves = words::leaves();
        let mut e = BehaviourEvent {
            user_id: String::new(),
            imei: String::new(),
            biz_id: "default".into(),
            trace_id: "Alibaba".into(),
            rn: String::new(),
            item_id: String::new(),
            item_type: String::new(),
            bhv_type: String::new(),
            bhv_time_ms: 0,
            reach_time_ms: 0,
            raw_query: String::new(),
            hits: None,
            position: None,
            context: Vec::new(),
            extra: Vec::new(),
        };
        let mut shown: Vec<(u32, f64)> = Vec::new();
        for s in 0..c.searches {
            let t = (start
                + (s as f64 + rng.random::<f64>() * 0.5) / c.searches as f64 * (span - 900_000.0))
                as i64;
            let user = rng.random_range(0..c.users) as usize;
            let budget = self.budgets[user];
            // Popular leaves are searched more (Zipf over the leaves).
            let leaf = {
                let u: f64 = rng.random();
                ((leaves.len() as f64).powf(u) - 1.0) as usize % leaves.len()
            };
            let (zh, en) = leaves[leaf].1;
            let query = match s % 3 {
                0 => zh.to_string(),
                1 => en.to_string(),
                _ => format!("{} {zh}", words::ADJECTIVES[(s / 3 % 12) as usize]),
            };
            e.user_id = format!("s{user}");
            e.rn = format!("g{:x}-{s:x}", c.seed);
            e.context = vec![("budget".into(), BUDGETS[budget].into())];
            e.bhv_type = "search".into();
            e.item_id.clear();
            e.item_type.clear();
            e.raw_query = query;
            e.hits = Some(c.page_size);
            e.position = None;
            e.bhv_time_ms = t;
            e.reach_time_ms = t + 50;
            f(&e, None);
            e.raw_query.clear();
            e.hits = None;
            e.item_type = "item".into();

            // The old ranker: category relevance and sales, with noise; blind to rating and budget.
            shown.clear();
            let members = &self.leaf_items[leaf];
            while shown.len() < c.page_size as usize {
                let i = if !members.is_empty() && rng.random::<f64>() < 0.75 {
                    members[rng.random_range(0..members.len())]
                } else {
                    rng.random_range(0..self.items.len()) as u32
                };
                if shown.iter().any(|(x, _)| *x == i) {
                    continue;
                }
                let item = &self.items[i as usize];
                let old = f64::from(u8::from(item.leaf == leaf))
                    + 0.25 * (1.0 + f64::from(item.sales)).log10()
                    + 0.6 * (rng.random::<f64>() - 0.5);
                shown.push((i, old));
            }
            shown.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (rank, &(i, _)) in shown.iter().enumerate() {
                let item = &self.items[i as usize];
                let position = rank as u32 + 1;
                let chances = self.chances(leaf, budget, item);
                e.item_id.clone_from(&item.id);
                e.position = Some(position);
                e.bhv_type = "expose".into();
                e.bhv_time_ms = t + 1;
                e.reach_time_ms = t + 60;
                f(&e, Some(chances.expected_grade()));
                let examined = f64::from(position).powf(-c.position_bias);
                if rng.random::<f64>() >= examined * chances.click {
                    continue;
                }
                let mut at = t + 2_000 + i64::from(position) * 1_000;
                for (kind, p) in [("click", 1.0), ("cart", chances.cart), ("buy", chances.buy)] {
                    if rng.random::<f64>() >= p {
                        break;
                    }
                    e.bhv_type = kind.into();
                    e.bhv_time_ms = at;
                    e.reach_time_ms = at + 40;
                    f(&e, None);
                    at += 60_000;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GradedShop {
        GradedShop::new(GradedConfig::for_events(60_000, 7, 1_790_000_000_000, 3))
    }

    #[test]
    fn events_are_graded_in_order_and_exposures_carry_their_truth() {
        let shop = small();
        let (mut kinds, mut truths) = (std::collections::HashMap::new(), 0);
        let mut last = i64::MIN;
        let mut searches = 0;
        shop.events(&mut |e, truth| {
            *kinds.entry(e.bhv_type.clone()).or_insert(0u32) += 1;
            if e.bhv_type == "search" {
                assert!(e.bhv_time_ms >= last, "searches in time order");
                last = e.bhv_time_ms;
                searches += 1;
            }
            if e.bhv_type == "expose" {
                assert!(truth.is_some_and(|t| t > 0.0 && t < 3.0));
                truths += 1;
            }
        });
        assert_eq!(truths, searches * 10);
        assert!(
            kinds["click"] > kinds["cart"] && kinds["cart"] > kinds["buy"],
            "{kinds:?}"
        );
        assert!(kinds["buy"] > 0);
    }

    #[test]
    fn rating_and_budget_drive_the_grades() {
        let shop = small();
        let mut item = shop.items()[0].clone();
        item.price = 30.0;
        item.rating = 4.8;
        let good = shop.chances(item.leaf, 0, &item).expected_grade();
        let over_budget = shop.chances(item.leaf, 2, &item).expected_grade();
        item.rating = 3.2;
        let poorly_rated = shop.chances(item.leaf, 0, &item).expected_grade();
        assert!(good > 1.5 * over_budget, "{good} {over_budget}");
        assert!(good > 2.0 * poorly_rated, "{good} {poorly_rated}");
    }
}
