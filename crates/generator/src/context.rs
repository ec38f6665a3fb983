//! A context-aware shape with its truth: app usage logs in the style of the public context-aware CTR data sets
//! (10 categorical fields: user, item and 8 context fields, about 5,400 distinct values, one used item to two
//! items drawn at random).
//!
//! A session is a user in a context (time of day, weekday, weekend, home or work, weather, country, city, and
//! the item's cost, which those data sets also log as context). The user then uses items drawn from a
//! preference: 70 % among the dozen items the user keeps using, `∝ exp(⟨user + Σ context, item⟩)^1.5`, the rest
//! among all items, `∝ exp(popularity(item) + ⟨user + Σ context, item⟩)`: the user × context × item
//! interactions a model has to learn. Each use is logged as a clicked exposure, and two
//! items drawn uniformly from the catalogue as unclicked ones, each with its own `rn` and no position. The
//! truth of a row is the probability that it is the used item given what it shows, by Bayes:
//! `⅓ P(item | user, context) / (⅓ P(item | user, context) + ⅔ / items)`. Rows are spread evenly over the
//! days in a random order. Everything is deterministic for a seed.

use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::DAY_MS;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::{cumulative, normal, sample};

/// The context keys and how many values each takes.
pub const CONTEXT_KEYS: [(&str, usize); 8] = [
    ("daytime", 7),
    ("weekday", 7),
    ("isweekend", 2),
    ("homework", 3),
    ("cost", 2),
    ("weather", 9),
    ("country", 80),
    ("city", 233),
];
/// Length of the hidden taste vectors.
const TASTE: usize = 8;
/// Share of rows that are used items (one in three).
const USED_SHARE: f64 = 1.0 / 3.0;
/// Items each user keeps using, and the share of uses that go to them (the rest: any item, by popularity and
/// taste).
const OWN_ITEMS: usize = 12;
const OWN_SHARE: f64 = 0.7;

#[derive(Clone, Debug)]
pub struct ContextConfig {
    pub seed: u64,
    /// Rows end just before this instant (epoch ms).
    pub end_ms: i64,
    pub days: u32,
    /// Logged rows (exposures), a third of them clicked.
    pub rows: u64,
    pub users: u32,
    pub items: u32,
}

impl Default for ContextConfig {
    fn default() -> Self {
        // 240,000 rows over 14 days: the last day held out leaves ~223,000, of which 90 % (~200,000) are fitted.
        ContextConfig {
            seed: 7,
            end_ms: 1_790_000_000_000,
            days: 14,
            rows: 240_000,
            users: 960,
            items: 4_080,
        }
    }
}

type Vector = [f64; TASTE];

/// What a partial oracle knows of the world ([`ContextWorld::oracle`]).
#[derive(Clone, Copy)]
pub struct Knowledge<'a> {
    /// The user's own taste.
    pub taste: bool,
    /// The context's effects on tastes.
    pub context: bool,
    /// That users keep using a few items of their own.
    pub own_items: bool,
    /// Which of them it knows (none: all); the others get only the share any item gets.
    pub own: Option<&'a dyn Fn(u32) -> bool>,
}

impl Knowledge<'_> {
    pub const ALL: Knowledge<'static> = Knowledge {
        taste: true,
        context: true,
        own_items: true,
        own: None,
    };
}

fn vector(rng: &mut SmallRng, scale: f64) -> Vector {
    let mut v = [0.0; TASTE];
    for x in &mut v {
        *x = normal(rng) * scale;
    }
    v
}

fn dot(a: &Vector, b: &Vector) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

struct User {
    taste: Vector,
    /// The items this user keeps using: most uses go to them.
    own: Vec<u32>,
    home_city: usize,
    /// Cumulative weights of the times of day this user is active at.
    daytime_cdf: Vec<f64>,
    works: bool,
}

pub struct ContextWorld {
    config: ContextConfig,
    popularity: Vec<f64>,
    items: Vec<Vector>,
    paid: Vec<bool>,
    users: Vec<User>,
    /// Per context key and value: its effect on tastes.
    effects: Vec<Vec<Vector>>,
    country_of_city: Vec<usize>,
    city_cdf: Vec<f64>,
    user_cdf: Vec<f64>,
}

impl ContextWorld {
    pub fn new(config: ContextConfig) -> ContextWorld {
        let mut rng = SmallRng::seed_from_u64(config.seed ^ 0x636f_6e74);
        let n = config.items as usize;
        // Popularity falls with rank (Zipf-like in the preference's exponent), in a random order of the items.
        let mut popularity: Vec<f64> = (0..n).map(|r| -1.1 * ((r + 1) as f64).ln()).collect();
        for i in (1..n).rev() {
            popularity.swap(i, rng.random_range(0..=i));
        }
        let items = (0..n).map(|_| vector(&mut rng, 1.0)).collect();
        let paid = (0..n).map(|_| rng.random::<f64>() < 0.2).collect();
        let cities = CONTEXT_KEYS[7].1;
        let country_of_city = (0..cities)
            .map(|_| {
                // A few countries hold most cities.
                let u: f64 = rng.random();
                ((u * u * CONTEXT_KEYS[6].1 as f64) as usize).min(CONTEXT_KEYS[6].1 - 1)
            })
            .collect();
        let city_cdf = cumulative((0..cities).map(|c| 1.0 / (c as f64 + 2.0)));
        let global = cumulative(popularity.iter().map(|p| p.exp()));
        let users = (0..config.users)
            .map(|_| User {
                own: {
                    let mut own: Vec<u32> = Vec::new();
                    while own.len() < OWN_ITEMS {
                        let i = sample(&global, &mut rng) as u32;
                        if !own.contains(&i) {
                            own.push(i);
                        }
                    }
                    own
                },
                taste: vector(&mut rng, 0.6),
                home_city: sample(&city_cdf, &mut rng),
                daytime_cdf: cumulative(
                    (0..CONTEXT_KEYS[0].1).map(|_| rng.random::<f64>().powi(3)),
                ),
                works: rng.random::<f64>() < 0.6,
            })
            .collect();
        // How strongly each context key moves tastes: time of day, home or work and the weather most.
        let strength = [0.5, 0.12, 0.25, 0.45, 0.2, 0.35, 0.2, 0.12];
        let effects = CONTEXT_KEYS
            .iter()
            .zip(strength)
            .map(|((_, values), s)| (0..*values).map(|_| vector(&mut rng, s)).collect())
            .collect();
        let user_cdf = cumulative((0..config.users).map(|u| 1.0 / (u as f64 + 10.0).sqrt()));
        ContextWorld {
            config,
            popularity,
            items,
            paid,
            users,
            effects,
            country_of_city,
            city_cdf,
            user_cdf,
        }
    }

    pub fn config(&self) -> &ContextConfig {
        &self.config
    }

    /// A session's context values (index per key, the cost left to the item).
    fn context(&self, user: &User, rng: &mut SmallRng) -> [usize; 8] {
        let daytime = sample(&user.daytime_cdf, rng);
        let weekday = rng.random_range(0..7);
        let weekend = usize::from(weekday >= 5);
        let homework = if weekend == 0 && user.works && (1..5).contains(&daytime) {
            1
        } else if rng.random::<f64>() < 0.8 {
            0
        } else {
            2
        };
        let weather = sample(&[3.0, 5.0, 6.5, 7.5, 8.2, 8.8, 9.3, 9.7, 10.0], rng);
        let city = if rng.random::<f64>() < 0.85 {
            user.home_city
        } else {
            sample(&self.city_cdf, rng)
        };
        [
            daytime,
            weekday,
            weekend,
            homework,
            0,
            weather,
            self.country_of_city[city],
            city,
        ]
    }

    /// `P(item | user, context)` of every item: [`OWN_SHARE`] of it over the user's own items, by taste in the
    /// context, the rest over all items, by popularity and taste.
    fn preferences(&self, user: &User, context: &[usize; 8]) -> Vec<f64> {
        self.preferences_knowing(user, context, &Knowledge::ALL)
    }

    /// [`ContextWorld::preferences`] as an oracle that knows only part of the world computes them.
    fn preferences_knowing(
        &self,
        user: &User,
        context: &[usize; 8],
        knows: &Knowledge<'_>,
    ) -> Vec<f64> {
        let (any, total) = self.any_item(user, context, knows);
        let mut p: Vec<f64> = any.iter().map(|w| (1.0 - OWN_SHARE) * w / total).collect();
        if !knows.own_items {
            return p;
        }
        let own: Vec<f64> = user
            .own
            .iter()
            .map(|&i| (any[i as usize] / self.popularity[i as usize].exp()).powf(1.5))
            .collect();
        let own_total: f64 = own.iter().sum();
        for (&i, w) in user.own.iter().zip(&own) {
            if knows.own.is_none_or(|known| known(i)) {
                p[i as usize] += OWN_SHARE * w / own_total;
            }
        }
        p
    }

    /// `exp(score)` of every item for a user in a context, and their sum.
    fn any_item(
        &self,
        user: &User,
        context: &[usize; 8],
        knows: &Knowledge<'_>,
    ) -> (Vec<f64>, f64) {
        let mut taste = if knows.taste {
            user.taste
        } else {
            [0.0; TASTE]
        };
        for (k, &v) in context.iter().enumerate() {
            if k != 4 && knows.context {
                for (t, e) in taste.iter_mut().zip(&self.effects[k][v]) {
                    *t += e;
                }
            }
        }
        let weights: Vec<f64> = self
            .items
            .iter()
            .zip(&self.popularity)
            .map(|(item, pop)| (pop + dot(&taste, item)).exp())
            .collect();
        let total = weights.iter().sum();
        (weights, total)
    }

    /// A logged row's user, context (the cost left to the item) and item, read back from its event's
    /// `user_id`, `item_id` and `context`; `None` for a row this world did not log.
    pub fn row_of(
        &self,
        user_id: &str,
        item_id: &str,
        logged: &[(String, String)],
    ) -> Option<(u32, [usize; 8], u32)> {
        let user: u32 = user_id.strip_prefix('u')?.parse().ok()?;
        let item: u32 = item_id.strip_prefix('a')?.parse().ok()?;
        let mut context = [0; 8];
        for ((key, values), c) in CONTEXT_KEYS.iter().zip(&mut context) {
            let (_, value) = logged.iter().find(|(k, _)| k == key)?;
            let v: usize = value.strip_prefix(key)?.parse().ok()?;
            *c = if *key == "cost" { 0 } else { v.min(values - 1) };
        }
        ((user as usize) < self.users.len() && (item as usize) < self.items.len())
            .then_some((user, context, item))
    }

    /// Whether `item` is one of the items `user` keeps using.
    pub fn is_own(&self, user: u32, item: u32) -> bool {
        self.users[user as usize].own.contains(&item)
    }

    /// An item's popularity and taste vector: only for an oracle's labelled variant that is told the item side
    /// of the world (to split a gap between items and tastes). Never for a trainer.
    pub fn item_truth(&self, item: u32) -> (f64, [f64; TASTE]) {
        (self.popularity[item as usize], self.items[item as usize])
    }

    /// The probability that a row shows the used item, as an oracle that `knows` part of the world computes it
    /// (the truth when it knows everything): for measuring where a model's gap to the truth lies. Never for a
    /// trainer.
    pub fn oracle(&self, user: u32, context: &[usize; 8], item: u32, knows: &Knowledge<'_>) -> f64 {
        let p = self.preferences_knowing(&self.users[user as usize], context, knows)[item as usize];
        USED_SHARE * p / (USED_SHARE * p + (1.0 - USED_SHARE) / self.items.len() as f64)
    }

    /// Streams every event in time order; exposures come with their true click probability.
    pub fn events(&self, f: &mut dyn FnMut(&BehaviourEvent, Option<f64>)) {
        let c = &self.config;
        let mut rng = SmallRng::seed_from_u64(c.seed ^ 0x7573_6167);
        let n = self.items.len();
        // (user, context, item, truth, clicked)
        let mut rows: Vec<(u32, [usize; 8], u32, f64, bool)> = Vec::with_capacity(c.rows as usize);
        while (rows.len() as u64) < c.rows {
            let u = sample(&self.user_cdf, &mut rng);
            let user = &self.users[u];
            let context = self.context(user, &mut rng);
            let preference = self.preferences(user, &context);
            let cdf = cumulative(preference.iter().copied());
            let truth = |i: usize| {
                let p = preference[i];
                USED_SHARE * p / (USED_SHARE * p + (1.0 - USED_SHARE) / n as f64)
            };
            // A session uses one to three items.
            for _ in 0..rng.random_range(1..=3) {
                let used = sample(&cdf, &mut rng);
                rows.push((u as u32, context, used as u32, truth(used), true));
                for _ in 0..2 {
                    let other = rng.random_range(0..n);
                    rows.push((u as u32, context, other as u32, truth(other), false));
                }
            }
        }
        rows.truncate(c.rows as usize);
        for i in (1..rows.len()).rev() {
            rows.swap(i, rng.random_range(0..=i));
        }
        let span = f64::from(c.days) * DAY_MS as f64;
        let start = c.end_ms as f64 - span;
        let mut event = BehaviourEvent {
            user_id: String::new(),
            imei: String::new(),
            biz_id: "default".into(),
            trace_id: "Alibaba".into(),
            rn: String::new(),
            item_id: String::new(),
            item_type: "item".into(),
            bhv_type: String::new(),
            bhv_time_ms: 0,
            reach_time_ms: 0,
            raw_query: String::new(),
            hits: None,
            position: None,
            context: Vec::new(),
            extra: Vec::new(),
        };
        for (r, (u, context, item, truth, clicked)) in rows.iter().enumerate() {
            let t = (start + (r as f64 + 0.5) / rows.len() as f64 * (span - 60_000.0)) as i64;
            event.user_id = format!("u{u}");
            event.item_id = format!("a{item}");
            event.rn = format!("{:x}-c{r:x}", c.seed);
            event.context = CONTEXT_KEYS
                .iter()
                .zip(context)
                .map(|((key, _), &v)| {
                    let v = if *key == "cost" {
                        usize::from(self.paid[*item as usize])
                    } else {
                        v
                    };
                    (key.to_string(), format!("{key}{v}"))
                })
                .collect();
            event.bhv_type = "expose".into();
            event.bhv_time_ms = t;
            event.reach_time_ms = t + 50;
            f(&event, Some(*truth));
            if *clicked {
                event.bhv_type = "click".into();
                event.bhv_time_ms = t + 1_000;
                event.reach_time_ms = t + 1_050;
                f(&event, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_ten_fields_one_click_in_three_and_a_truth_that_ranks_them() {
        let world = ContextWorld::new(ContextConfig {
            rows: 30_000,
            ..ContextConfig::default()
        });
        let (mut exposures, mut clicks) = (0u64, 0u64);
        let mut last = i64::MIN;
        let mut truth = Vec::new();
        world.events(&mut |e, p| {
            assert!(e.bhv_time_ms >= last && e.bhv_time_ms < world.config().end_ms);
            last = e.bhv_time_ms;
            match e.bhv_type.as_str() {
                "expose" => {
                    exposures += 1;
                    assert_eq!(e.context.len(), 8);
                    assert_eq!(e.position, None);
                    truth.push((p.unwrap(), false));
                }
                _ => {
                    clicks += 1;
                    truth.last_mut().unwrap().1 = true;
                }
            }
        });
        assert_eq!(exposures, 30_000);
        assert_eq!(clicks, 10_000);
        // The truth separates used from random items well, as in the public data.
        let (mut right, mut pairs) = (0u64, 0u64);
        for (i, a) in truth.iter().enumerate().filter(|(_, t)| t.1).take(300) {
            for b in truth
                .iter()
                .skip(i % 7)
                .step_by(7)
                .filter(|t| !t.1)
                .take(300)
            {
                pairs += 1;
                right += u64::from(a.0 > b.0);
            }
        }
        let auc = right as f64 / pairs as f64;
        assert!(auc > 0.9, "truth AUC {auc}");
    }

    #[test]
    fn an_oracle_that_knows_everything_gives_the_truth_and_one_that_knows_less_differs() {
        let world = ContextWorld::new(ContextConfig {
            rows: 3_000,
            ..ContextConfig::default()
        });
        let popularity = Knowledge {
            taste: false,
            context: false,
            own_items: false,
            own: None,
        };
        let (mut rows, mut own, mut differ) = (0, 0, 0);
        world.events(&mut |e, truth| {
            let Some(truth) = truth else { return };
            let (u, context, i) = world
                .row_of(&e.user_id, &e.item_id, &e.context)
                .expect("a row of this world");
            assert_eq!(format!("u{u}"), e.user_id);
            let all = world.oracle(u, &context, i, &Knowledge::ALL);
            assert!((all - truth).abs() < 1e-12, "{all} {truth}");
            let partial = world.oracle(u, &context, i, &popularity);
            differ += usize::from((partial - truth).abs() > 1e-6);
            own += usize::from(world.is_own(u, i));
            rows += 1;
        });
        assert_eq!(rows, 3_000);
        assert!(differ > rows / 2, "{differ} of {rows}");
        // About 70 % of the used items, a third of the rows, are the users' own.
        assert!((500..1_000).contains(&own), "{own}");
        assert_eq!(world.row_of("u1", "a1", &[]), None);
    }
}
