//! A seeded generator of realistic search behaviour, with its ground truth, so that trainers can be scored
//! against what really drove the clicks.
//!
//! The world: a two-level category tree (Chinese and English names), items with a hidden *quality* (their true
//! popularity), queries tied to a leaf category with Zipf-distributed frequency (exponent about 0.8, so most
//! distinct queries are seen once), a [`TRENDING_SHARE`] of them growing or fading over the span as real
//! searches do, and users with favourite top categories. A session is a search
//! (`bhv_type=search`, `raw_query`, `hits`), ten exposures in a logged order that only partly follows quality,
//! and clicks drawn with probability
//! `base × position^-bias × relevance(query, item) × quality(item) × affinity(user, item)`,
//! followed by carts and purchases. Everything is deterministic for a seed.
//!
//! Two further shapes exercise what a CTR model must get right: the **confounded** search log
//! ([`GeneratorConfig::confounded`]: the logged ranker orders each page by what it knows of relevance, so position
//! and relevance go together, and users also have brand tastes), and the **context-aware** app log of
//! [`context`].

pub mod context;
pub mod graded;
mod habits;
mod lexicon;
pub mod query_analysis;
mod words;

use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::DAY_MS;
use algocenter_domain::document::{Document, DocumentKind};
use algocenter_domain::push::add_record;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value, json};

pub use habits::{Habits, TypoTruth, misspell};
pub use lexicon::{
    Lexicon, LexiconTruth, Misspelling, MisspellingKind, SynonymUse, synonym_groups,
    typed_as_pinyin,
};

#[derive(Clone, Debug)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// Events end just before this instant (epoch ms).
    pub end_ms: i64,
    /// Days the events span.
    pub days: u32,
    /// Search sessions; each yields about 11–12 events.
    pub searches: u64,
    pub users: u32,
    pub items: u32,
    /// Distinct queries.
    pub queries: u32,
    pub zipf_exponent: f64,
    pub page_size: u32,
    /// Examination probability of position p is p^-position_bias.
    pub position_bias: f64,
    pub ranker: LoggedRanker,
    /// Search habits of web users (repeats, navigational queries, corrected typos); off by default.
    pub habits: Habits,
    /// Vocabulary habits (synonyms, misspellings); off by default.
    pub lexicon: Lexicon,
}

/// How the logged ranker orders a result page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoggedRanker {
    /// Items of the query's leaf by quality, some from anywhere, ordered by quality with much noise.
    #[default]
    PartlyByQuality,
    /// Candidates from the query's leaf, its top category and anywhere, ordered by what the ranker knows of
    /// their relevance (the query's category match and, noisily, quality; not the user's tastes): position and
    /// relevance go together. Users also like two brands (clicks × 2).
    ByRelevance,
}

/// Click multiplier of an item of a brand the user likes ([`LoggedRanker::ByRelevance`] worlds).
pub const BRAND_TASTE: f64 = 2.0;

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 7,
            end_ms: 1_790_000_000_000,
            days: 14,
            searches: 100_000,
            users: 20_000,
            items: 20_000,
            queries: 50_000,
            zipf_exponent: 0.8,
            page_size: 10,
            position_bias: 0.9,
            ranker: LoggedRanker::PartlyByQuality,
            habits: Habits::OFF,
            lexicon: Lexicon::OFF,
        }
    }
}

impl GeneratorConfig {
    /// The confounded search shape: 2,500 queries, 3,000 items and users over 14 days, pages ordered by
    /// relevance.
    pub fn confounded(searches: u64, end_ms: i64, seed: u64) -> Self {
        GeneratorConfig {
            seed,
            end_ms,
            searches,
            users: 3_000,
            items: 3_000,
            queries: 2_500,
            ranker: LoggedRanker::ByRelevance,
            ..GeneratorConfig::default()
        }
    }

    /// A configuration sized for about `events` events over `days` days ending at `end_ms`.
    pub fn for_events(events: u64, days: u32, end_ms: i64, seed: u64) -> Self {
        let searches = (events / 12).max(1);
        // Catalogue and audience grow with the traffic, sub-linearly, as they do in real shops.
        let scale = ((searches as f64) / 100_000.0).sqrt().max(0.05);
        GeneratorConfig {
            seed,
            end_ms,
            days,
            searches,
            users: ((20_000.0 * scale) as u32).max(200),
            items: ((20_000.0 * scale) as u32).max(200),
            queries: ((50_000.0 * scale) as u32).max(500),
            ..GeneratorConfig::default()
        }
    }
}

/// One item as the generator knows it, hidden quality included.
#[derive(Clone, Debug)]
pub struct ItemTruth {
    pub id: String,
    pub leaf: usize,
    pub title: String,
    pub brand: &'static str,
    pub price: f64,
    /// The true popularity: the item's attractiveness, in (0, 1).
    pub quality: f64,
}

#[derive(Clone, Debug)]
pub struct QueryTruth {
    pub text: String,
    /// The leaf category the query is about.
    pub leaf: usize,
}

#[derive(Clone, Debug)]
struct UserSpec {
    id: String,
    favourite_tops: [usize; 2],
    device: &'static str,
    /// Brands the user likes (worlds with [`LoggedRanker::ByRelevance`] only).
    liked_brands: [&'static str; 2],
}

pub struct World {
    config: GeneratorConfig,
    items: Vec<ItemTruth>,
    queries: Vec<QueryTruth>,
    users: Vec<UserSpec>,
    /// Cumulative Zipf weights over `queries`.
    query_cdf: Vec<f64>,
    /// Per query: the slope of its popularity trend over the span (0 for most).
    trends: Vec<f64>,
    /// Per leaf: its items and the cumulative quality weights among them.
    leaf_items: Vec<(Vec<u32>, Vec<f64>)>,
    leaf_queries: Vec<Vec<u32>>,
    /// Per leaf: cumulative Zipf weights of its queries.
    leaf_query_cdf: Vec<Vec<f64>>,
}

/// Share of queries whose popularity trends up or down over the span.
pub const TRENDING_SHARE: f64 = 0.3;
/// A trending query's popularity goes from `1 ∓ TREND_AMPLITUDE × slope` at the start of the span to
/// `1 ± TREND_AMPLITUDE × slope` at its end (slopes uniform in [-1, 1]), averaging 1.
pub const TREND_AMPLITUDE: f64 = 0.8;

/// Share of sessions that start with a mistyped search.
pub const TYPO_RATE: f64 = 0.08;

/// The usual misspelling of a Latin-script query: its middle letter dropped (`sneakers` → `sneaers`). Chinese
/// queries are typed through an input method and are not misspelled this way.
pub fn misspelling(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let middle = chars.len() / 2;
    (chars.len() >= 5 && chars.iter().all(|c| c.is_ascii()) && chars[middle].is_ascii_alphabetic())
        .then(|| {
            chars
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != middle)
                .map(|(_, c)| c)
                .collect()
        })
}

/// Standard normal draw (Box–Muller).
fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Index of the first cumulative weight above a uniform draw.
fn sample(cdf: &[f64], rng: &mut SmallRng) -> usize {
    let total = cdf.last().copied().unwrap_or(0.0);
    let x = rng.random::<f64>() * total;
    cdf.partition_point(|&c| c <= x)
        .min(cdf.len().saturating_sub(1))
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut total = 0.0;
    weights
        .map(|w| {
            total += w;
            total
        })
        .collect()
}

impl World {
    pub fn new(config: GeneratorConfig) -> World {
        let mut rng = SmallRng::seed_from_u64(config.seed);
        let mut lexicon = (!config.lexicon.is_off())
            .then(|| lexicon::LexiconState::new(config.lexicon, config.seed));
        let leaves = words::leaves();
        let items: Vec<ItemTruth> = (0..config.items)
            .map(|n| {
                let leaf = rng.random_range(0..leaves.len());
                let brand = words::BRANDS[rng.random_range(0..words::BRANDS.len())];
                let adjective = words::ADJECTIVES[rng.random_range(0..words::ADJECTIVES.len())];
                let (zh, en) = leaves[leaf].1;
                let quality = 1.0 / (1.0 + (-(1.2 * normal(&mut rng) - 0.6)).exp());
                let title = match lexicon.as_mut() {
                    Some(lexicon) => lexicon.title(leaf, brand, adjective),
                    None => format!("{brand} {adjective} {zh} {en}"),
                };
                ItemTruth {
                    id: format!("i{n}"),
                    leaf,
                    title,
                    brand,
                    price: (rng.random::<f64>() * 500.0 + 5.0).round(),
                    quality,
                }
            })
            .collect();
        let queries: Vec<QueryTruth> = (0..config.queries)
            .map(|n| {
                let leaf = rng.random_range(0..leaves.len());
                let (zh, en) = leaves[leaf].1;
                let modifier = words::ADJECTIVES[rng.random_range(0..words::ADJECTIVES.len())];
                let brand = words::BRANDS[rng.random_range(0..words::BRANDS.len())];
                // A few shapes, Chinese and English; the number keeps rare queries distinct.
                let text = match n % 5 {
                    0 => zh.to_string(),
                    1 => en.to_string(),
                    2 => format!("{modifier} {zh}"),
                    3 => format!("{brand} {en}"),
                    _ => format!("{en} {modifier} {}", n % 997),
                };
                QueryTruth { text, leaf }
            })
            .collect();
        let tops = words::TOPS.len();
        // Tastes draw from their own stream, so that the rest of the world is the same with or without them.
        let mut taste_rng = SmallRng::seed_from_u64(config.seed ^ 0x7461_7374);
        let mut brand = || words::BRANDS[taste_rng.random_range(0..words::BRANDS.len())];
        let users = (0..config.users)
            .map(|n| UserSpec {
                id: format!("u{n}"),
                favourite_tops: [rng.random_range(0..tops), rng.random_range(0..tops)],
                device: ["ios", "android", "pc"][rng.random_range(0..3)],
                liked_brands: [brand(), brand()],
            })
            .collect();
        // Trends draw from their own stream, so that items, queries and users are the same with or without them.
        let mut trend_rng = SmallRng::seed_from_u64(config.seed ^ 0x7472_656e);
        let trends = (0..queries.len())
            .map(|_| {
                if trend_rng.random::<f64>() < TRENDING_SHARE {
                    trend_rng.random::<f64>() * 2.0 - 1.0
                } else {
                    0.0
                }
            })
            .collect();
        let query_cdf =
            cumulative((1..=queries.len()).map(|rank| (rank as f64).powf(-config.zipf_exponent)));
        let mut leaf_items = vec![(Vec::new(), Vec::new()); leaves.len()];
        for (i, item) in items.iter().enumerate() {
            leaf_items[item.leaf].0.push(i as u32);
        }
        for (members, cdf) in &mut leaf_items {
            *cdf = cumulative(members.iter().map(|&i| items[i as usize].quality));
        }
        let mut leaf_queries = vec![Vec::new(); leaves.len()];
        for (i, q) in queries.iter().enumerate() {
            leaf_queries[q.leaf].push(i as u32);
        }
        let zipf_weight = |i: u32| ((i + 1) as f64).powf(-config.zipf_exponent);
        let leaf_query_cdf = leaf_queries
            .iter()
            .map(|qs| cumulative(qs.iter().map(|&i| zipf_weight(i))))
            .collect();
        World {
            config,
            items,
            queries,
            users,
            query_cdf,
            trends,
            leaf_items,
            leaf_queries,
            leaf_query_cdf,
        }
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    pub fn items(&self) -> &[ItemTruth] {
        &self.items
    }

    pub fn queries(&self) -> &[QueryTruth] {
        &self.queries
    }

    /// A draw of `candidate` that follows the queries' trends, by rejection: a query is kept with its relative
    /// popularity at `frac` over the largest there can be.
    fn trending(
        &self,
        rng: &mut SmallRng,
        frac: f64,
        candidate: impl Fn(&mut SmallRng) -> usize,
    ) -> usize {
        loop {
            let i = candidate(rng);
            if rng.random::<f64>() * (1.0 + TREND_AMPLITUDE) < self.trend(i, frac) {
                return i;
            }
        }
    }

    /// How popular query `i` is at `frac` of the span (0 at the start, 1 at the end), relative to its average.
    fn trend(&self, i: usize, frac: f64) -> f64 {
        1.0 + TREND_AMPLITUDE * self.trends[i] * (2.0 * frac - 1.0)
    }

    /// The probability that a search is for each query text, over the whole span: the Zipf draw (3 in 4 searches)
    /// plus the draw from the searcher's favourite categories (the rest: a leaf of one of them, then its queries
    /// by their Zipf weights), each following the queries' trends,
    /// summed over the queries that share a text. The true top-search list.
    pub fn query_shares(&self) -> std::collections::HashMap<String, f64> {
        let leaves = words::leaves();
        let zipf_total = self.query_cdf.last().copied().unwrap_or(1.0);
        let zipf: Vec<f64> = (0..self.queries.len())
            .map(|i| {
                let below = if i == 0 { 0.0 } else { self.query_cdf[i - 1] };
                (self.query_cdf[i] - below) / zipf_total
            })
            .collect();
        // Chance that a favourite-category search picks each top category.
        let mut top_share = vec![0.0; words::TOPS.len()];
        for user in &self.users {
            for top in user.favourite_tops {
                top_share[top] += 0.5 / self.users.len() as f64;
            }
        }
        let leaves_of = |top: usize| leaves.iter().filter(|l| l.0 == top).count() as f64;
        // A favourite-category draw that lands on a leaf without queries falls back to the Zipf draw.
        let fallback: f64 = (0..leaves.len())
            .filter(|&leaf| self.leaf_queries[leaf].is_empty())
            .map(|leaf| top_share[leaves[leaf].0] / leaves_of(leaves[leaf].0))
            .sum();
        // Average over the span of the share at each moment (sessions are spread evenly in time).
        const STEPS: usize = 100;
        let mut by_query = vec![0.0; self.queries.len()];
        for step in 0..STEPS {
            let frac = (step as f64 + 0.5) / STEPS as f64;
            let zipf_norm: f64 = (0..zipf.len()).map(|i| zipf[i] * self.trend(i, frac)).sum();
            let leaf_norm: Vec<f64> = self
                .leaf_queries
                .iter()
                .map(|qs| {
                    qs.iter()
                        .map(|&q| zipf[q as usize] * self.trend(q as usize, frac))
                        .sum()
                })
                .collect();
            for (i, query) in self.queries.iter().enumerate() {
                let top = leaves[query.leaf].0;
                let zipf_now = zipf[i] * self.trend(i, frac) / zipf_norm;
                let favourite = top_share[top] / leaves_of(top) * zipf[i] * self.trend(i, frac)
                    / leaf_norm[query.leaf];
                by_query[i] +=
                    (0.75 * zipf_now + 0.25 * (favourite + fallback * zipf_now)) / STEPS as f64;
            }
        }
        let mut shares = std::collections::HashMap::new();
        for (query, share) in self.queries.iter().zip(by_query) {
            *shares.entry(query.text.clone()).or_insert(0.0) += share;
        }
        shares
    }

    /// `top>leaf` category path of a leaf.
    pub fn category_path(leaf: usize) -> String {
        let (top, (zh, _)) = words::leaves()[leaf];
        format!("{}>{zh}", words::TOPS[top])
    }

    /// The items as documents (`title`, `category`, `brand`, `price`).
    pub fn item_documents(&self) -> impl Iterator<Item = Document> + '_ {
        self.items.iter().map(|item| {
            let mut attributes = Map::new();
            attributes.insert("title".into(), json!(item.title));
            attributes.insert("category".into(), json!(World::category_path(item.leaf)));
            attributes.insert("brand".into(), json!(item.brand));
            attributes.insert("price".into(), json!(item.price));
            Document {
                id: item.id.clone(),
                attributes,
            }
        })
    }

    /// The users as documents (`device`, `favourite_category`).
    pub fn user_documents(&self) -> impl Iterator<Item = Document> + '_ {
        self.users.iter().map(|user| {
            let mut attributes = Map::new();
            attributes.insert("device".into(), Value::from(user.device));
            attributes.insert(
                "favourite_category".into(),
                json!(words::TOPS[user.favourite_tops[0]]),
            );
            Document {
                id: user.id.clone(),
                attributes,
            }
        })
    }

    /// A result page of a [`LoggedRanker::ByRelevance`] world: six items of the query's leaf, two of its top
    /// category and two from anywhere (by quality within each), scored by what the logged ranker knows: the
    /// query's category match and the item's quality, with noise.
    fn relevant_page(&self, query: &QueryTruth, rng: &mut SmallRng, shown: &mut Vec<(u32, f64)>) {
        let leaves = words::leaves();
        let top = leaves[query.leaf].0;
        let top_leaves: Vec<usize> = (0..leaves.len()).filter(|&l| leaves[l].0 == top).collect();
        let mut tries = 0;
        while shown.len() < self.config.page_size as usize && tries < 1_000 {
            tries += 1;
            let slot = shown.len() % 5;
            let leaf = match slot {
                0..=2 => query.leaf,
                3 => top_leaves[rng.random_range(0..top_leaves.len())],
                _ => rng.random_range(0..leaves.len()),
            };
            let (members, cdf) = &self.leaf_items[leaf];
            if members.is_empty() {
                continue;
            }
            let item = members[sample(cdf, rng)];
            if shown.iter().any(|(i, _)| *i == item) {
                continue;
            }
            let truth = &self.items[item as usize];
            let matched = if truth.leaf == query.leaf {
                1.0
            } else if leaves[truth.leaf].0 == top {
                0.3
            } else {
                0.05
            };
            let score = (matched * truth.quality.sqrt()).ln() + 0.8 * normal(rng);
            shown.push((item, score));
        }
    }

    /// Streams every event in time order; exposures come with their true click probability.
    pub fn events(&self, f: &mut dyn FnMut(&BehaviourEvent, Option<f64>)) {
        self.events_with_all_truth(f, &mut |_| {}, &mut |_| {});
    }

    /// [`World::events`], and the truth of every typo of the [`Habits`] as it is made.
    pub fn events_with_truth(
        &self,
        f: &mut dyn FnMut(&BehaviourEvent, Option<f64>),
        typo_truth: &mut dyn FnMut(TypoTruth),
    ) {
        self.events_with_all_truth(f, typo_truth, &mut |_| {});
    }

    /// [`World::events`], and the truth of every synonym used and misspelling made by the [`Lexicon`] habits.
    pub fn events_with_lexicon(
        &self,
        f: &mut dyn FnMut(&BehaviourEvent, Option<f64>),
        lexicon_truth: &mut dyn FnMut(LexiconTruth),
    ) {
        self.events_with_all_truth(f, &mut |_| {}, lexicon_truth);
    }

    /// [`World::events`] with the truth of both kinds of habits.
    pub fn events_with_all_truth(
        &self,
        f: &mut dyn FnMut(&BehaviourEvent, Option<f64>),
        typo_truth: &mut dyn FnMut(TypoTruth),
        lexicon_truth: &mut dyn FnMut(LexiconTruth),
    ) {
        let c = &self.config;
        let mut habits = (!c.habits.is_off()).then(|| {
            habits::HabitState::new(c.habits, c.seed, self.users.len(), words::leaves().len())
        });
        let mut lexicon =
            (!c.lexicon.is_off()).then(|| lexicon::LexiconState::new(c.lexicon, c.seed ^ 0x5eed));
        let mut rng = SmallRng::seed_from_u64(c.seed ^ 0x5eed_5eed);
        let span = f64::from(c.days) * DAY_MS as f64;
        let start = c.end_ms as f64 - span;
        let page = c.page_size as usize;
        let mut shown: Vec<(u32, f64)> = Vec::with_capacity(page);
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
        // Typos draw from their own stream, so that the rest of the world is the same with or without them.
        let mut typo_rng = SmallRng::seed_from_u64(c.seed ^ 0x7479_706f);
        let mut ranker_rng = SmallRng::seed_from_u64(c.seed ^ 0x7261_6e6b);
        for s in 0..c.searches {
            // Sessions spread evenly over the span; the last click of a session stays before `end_ms`.
            let mut t = (start
                + (s as f64 + rng.random::<f64>() * 0.5) / c.searches as f64 * (span - 600_000.0))
                as i64;
            let user_index = rng.random_range(0..self.users.len());
            let user = &self.users[user_index];
            let frac = s as f64 / c.searches as f64;
            let query_index = if rng.random::<f64>() < 0.75 {
                self.trending(&mut rng, frac, |rng| sample(&self.query_cdf, rng))
            } else {
                // A search in one of the user's favourite top categories.
                let top = user.favourite_tops[rng.random_range(0..2)];
                let leaves: Vec<usize> = words::leaves()
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.0 == top)
                    .map(|(i, _)| i)
                    .collect();
                let leaf = leaves[rng.random_range(0..leaves.len())];
                match self.leaf_queries[leaf].as_slice() {
                    [] => self.trending(&mut rng, frac, |rng| sample(&self.query_cdf, rng)),
                    qs => self.trending(&mut rng, frac, |rng| {
                        qs[sample(&self.leaf_query_cdf[leaf], rng)] as usize
                    }),
                }
            };
            let picked = habits
                .as_mut()
                .map(|h| h.pick(user_index, &self.queries[query_index]));
            let query = match &picked {
                Some(habits::Pick::Habit(q)) => q,
                _ => &self.queries[query_index],
            };
            let (members, cdf) = &self.leaf_items[query.leaf];
            let session = lexicon
                .as_mut()
                .map(|l| l.session(query.leaf, &query.text))
                .unwrap_or_default();
            let session_rn = format!("{:x}-{s:x}", c.seed);
            if let Some(abandoned) = session.abandoned {
                event.user_id.clone_from(&user.id);
                event.rn = format!("{session_rn}-l");
                event.context = vec![("device".into(), user.device.into())];
                event.bhv_type = "search".into();
                event.item_id.clear();
                event.item_type.clear();
                event.raw_query.clone_from(&abandoned.text);
                event.hits = Some(1);
                event.position = None;
                event.bhv_time_ms = t;
                event.reach_time_ms = t + 50;
                f(&event, None);
                lexicon_truth(match abandoned.misspelling {
                    Some(kind) => LexiconTruth::Misspelling(Misspelling {
                        user: user.id.clone(),
                        typo_rn: event.rn.clone(),
                        typo: abandoned.text,
                        corrected_rn: session_rn.clone(),
                        intended: query.text.clone(),
                        kind,
                    }),
                    None => LexiconTruth::Synonym(SynonymUse {
                        user: user.id.clone(),
                        rn: event.rn.clone(),
                        typed: abandoned.text,
                        meant: query.text.clone(),
                        reformulated: true,
                    }),
                });
                t += abandoned.delay_ms;
            }

            if let Some((typo, delay_ms)) = habits.as_mut().and_then(|h| h.typo(&query.text)) {
                event.user_id.clone_from(&user.id);
                event.rn = format!("{:x}-{s:x}-m", c.seed);
                event.context = vec![("device".into(), user.device.into())];
                event.bhv_type = "search".into();
                event.item_id.clear();
                event.item_type.clear();
                event.raw_query.clone_from(&typo);
                event.hits = Some(1);
                event.position = None;
                event.bhv_time_ms = t;
                event.reach_time_ms = t + 50;
                f(&event, None);
                typo_truth(TypoTruth {
                    user: user.id.clone(),
                    typo_rn: event.rn.clone(),
                    typo,
                    corrected_rn: format!("{:x}-{s:x}", c.seed),
                    intended: query.text.clone(),
                });
                t += delay_ms;
            }

            // Sometimes the user first mistypes the query, gets nothing worth clicking and types it again.
            if typo_rng.random::<f64>() < TYPO_RATE
                && let Some(typo) = misspelling(&query.text)
            {
                event.user_id.clone_from(&user.id);
                event.rn = format!("{:x}-{s:x}-t", c.seed);
                event.context = vec![("device".into(), user.device.into())];
                event.bhv_type = "search".into();
                event.item_id.clear();
                event.item_type.clear();
                event.raw_query = typo;
                event.hits = Some(2);
                event.position = None;
                event.bhv_time_ms = t;
                event.reach_time_ms = t + 50;
                f(&event, None);
                t += 8_000;
            }

            shown.clear();
            if c.ranker == LoggedRanker::ByRelevance {
                self.relevant_page(query, &mut ranker_rng, &mut shown);
            }
            // The result page: mostly items of the query's leaf (by quality), some from anywhere.
            while shown.len() < page {
                let item = if !members.is_empty() && rng.random::<f64>() < 0.8 {
                    members[sample(cdf, &mut rng)]
                } else {
                    rng.random_range(0..self.items.len()) as u32
                };
                if shown.iter().all(|(i, _)| *i != item) {
                    // The logged ranking only partly follows quality.
                    let score = self.items[item as usize].quality + 0.3 * normal(&mut rng);
                    shown.push((item, score));
                }
            }
            shown.sort_by(|a, b| b.1.total_cmp(&a.1));

            event.user_id.clone_from(&user.id);
            event.rn = session_rn;
            event.context = vec![("device".into(), user.device.into())];
            event.bhv_type = "search".into();
            event.item_id.clear();
            event.item_type.clear();
            match session.typed {
                Some(typed) => {
                    lexicon_truth(LexiconTruth::Synonym(SynonymUse {
                        user: user.id.clone(),
                        rn: event.rn.clone(),
                        typed: typed.clone(),
                        meant: query.text.clone(),
                        reformulated: false,
                    }));
                    event.raw_query = typed;
                }
                None => event.raw_query.clone_from(&query.text),
            }
            event.hits = Some((members.len() as u32).max(c.page_size));
            event.position = None;
            event.bhv_time_ms = t;
            event.reach_time_ms = t + 50;
            f(&event, None);
            event.raw_query.clear();
            event.hits = None;
            event.item_type = "item".into();

            for (rank, (item_index, _)) in shown.iter().enumerate() {
                let item = &self.items[*item_index as usize];
                let position = rank as u32 + 1;
                let relevance = if item.leaf == query.leaf {
                    1.0
                } else if words::leaves()[item.leaf].0 == words::leaves()[query.leaf].0 {
                    0.3
                } else {
                    0.05
                };
                let affinity = if user.favourite_tops.contains(&words::leaves()[item.leaf].0) {
                    1.5
                } else {
                    1.0
                };
                let taste = if c.ranker == LoggedRanker::ByRelevance
                    && user.liked_brands.contains(&item.brand)
                {
                    BRAND_TASTE
                } else {
                    1.0
                };
                let p_click = (0.6
                    * f64::from(position).powf(-c.position_bias)
                    * relevance
                    * item.quality
                    * affinity
                    * taste)
                    .min(0.95);
                event.item_id.clone_from(&item.id);
                event.position = Some(position);
                event.bhv_type = "expose".into();
                event.bhv_time_ms = t + 1;
                event.reach_time_ms = t + 60;
                f(&event, Some(p_click));
                if rng.random::<f64>() < p_click {
                    event.bhv_type = "click".into();
                    event.bhv_time_ms = t + 2_000 + i64::from(position) * 1_000;
                    event.reach_time_ms = event.bhv_time_ms + 40;
                    f(&event, None);
                    event.position = None;
                    if rng.random::<f64>() < 0.25 {
                        event.bhv_type = "cart".into();
                        event.bhv_time_ms += 60_000;
                        event.reach_time_ms = event.bhv_time_ms + 40;
                        f(&event, None);
                        if rng.random::<f64>() < 0.4 {
                            event.bhv_type = "buy".into();
                            event.bhv_time_ms += 120_000;
                            event.reach_time_ms = event.bhv_time_ms + 40;
                            f(&event, None);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GeneratorConfig {
        GeneratorConfig {
            searches: 2_000,
            users: 300,
            items: 500,
            queries: 2_000,
            ..GeneratorConfig::default()
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_events() {
        let collect = |config: GeneratorConfig| {
            let mut events = Vec::new();
            World::new(config).events(&mut |e, _| events.push(e.clone()));
            events
        };
        assert_eq!(collect(small()), collect(small()));
        assert_ne!(
            collect(small()),
            collect(GeneratorConfig { seed: 8, ..small() })
        );
    }

    #[test]
    fn sessions_have_the_documented_shape() {
        let world = World::new(small());
        let (mut searches, mut exposures, mut clicks, mut last_time) = (0, 0, 0, 0);
        let mut typos = 0;
        let mut positions = [0u32; 11];
        world.events(&mut |e, truth| {
            assert!(e.bhv_time_ms < world.config().end_ms);
            match e.bhv_type.as_str() {
                "search" if e.rn.ends_with("-t") => {
                    typos += 1;
                    assert_eq!(e.hits, Some(2));
                }
                "search" => {
                    searches += 1;
                    assert!(!e.raw_query.is_empty() && e.item_id.is_empty());
                    assert!(e.bhv_time_ms >= last_time, "sessions come in time order");
                    last_time = e.bhv_time_ms;
                }
                "expose" => {
                    exposures += 1;
                    assert!(truth.is_some_and(|p| (0.0..=0.95).contains(&p)));
                }
                "click" => {
                    clicks += 1;
                    positions[e.position.unwrap() as usize] += 1;
                }
                _ => {}
            }
        });
        assert_eq!((searches, exposures), (2_000, 20_000));
        // About TYPO_RATE of the sessions whose query has a misspelling (the Latin ones, about half).
        assert!((40..=120).contains(&typos), "{typos} typos");
        let ctr = f64::from(clicks) / f64::from(exposures);
        assert!((0.02..0.3).contains(&ctr), "click-through {ctr}");
        assert!(
            positions[1] > positions[10] * 2,
            "position bias: {positions:?}"
        );
    }

    #[test]
    fn query_frequencies_are_zipf_with_a_long_tail() {
        let world = World::new(GeneratorConfig {
            searches: 20_000,
            queries: 50_000,
            ..small()
        });
        let mut counts = std::collections::HashMap::new();
        world.events(&mut |e, _| {
            if e.bhv_type == "search" {
                *counts.entry(e.raw_query.clone()).or_insert(0u32) += 1;
            }
        });
        let once = counts.values().filter(|&&n| n == 1).count();
        assert!(
            once * 2 > counts.len(),
            "most distinct queries are seen once: {once} of {}",
            counts.len()
        );
        assert!(
            counts.values().max().unwrap() > &100,
            "and a head of frequent ones"
        );
    }
}

/// A behaviour event as one push record line.
pub fn push_record(e: &BehaviourEvent) -> Value {
    add_record(e.to_fields())
}

/// An item or user document as one push record line.
pub fn document_record(kind: DocumentKind, d: &Document) -> Value {
    add_record(d.to_fields(kind))
}

#[cfg(test)]
mod record_tests {
    use super::*;
    use algocenter_domain::push::{CollectionType, parse_push};

    /// What the generator writes is what the push API accepts, unchanged.
    #[test]
    fn generated_records_pass_push_validation() {
        let world = World::new(GeneratorConfig {
            searches: 200,
            users: 50,
            items: 100,
            queries: 200,
            ..GeneratorConfig::default()
        });
        let mut events = Vec::new();
        world.events(&mut |e, _| events.push(e.clone()));
        let body = Value::Array(events.iter().map(push_record).collect()).to_string();
        let push = parse_push(
            CollectionType::Behavior,
            body.as_bytes(),
            world.config().end_ms,
            0,
        )
        .unwrap();
        assert!(push.errors.is_empty(), "{:?}", push.errors.first());
        assert_eq!(push.events.len(), events.len());
        let differing = push.events.iter().zip(&events).position(|(a, b)| a != b);
        assert_eq!(
            differing, None,
            "the push record of an event parses back to the same event"
        );
        let items = Value::Array(
            world
                .item_documents()
                .map(|d| document_record(DocumentKind::Item, &d))
                .collect(),
        )
        .to_string();
        let push = parse_push(CollectionType::ItemInfo, items.as_bytes(), 0, 0).unwrap();
        assert_eq!((push.documents.len(), push.errors.len()), (100, 0));
    }
}
