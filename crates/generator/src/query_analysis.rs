//! A shop for query analysis, with its truth: what a query's words mean for relevance is known.
//!
//! * **Product types** are mostly coined multi-character Chinese words that a general dictionary splits
//!   (`云朵鞋`, `冰丝裤`), and some English nouns; each belongs to one leaf category.
//! * **Brands** (one or two words, Latin or Chinese) own **product lines** of two words (`cloud runner`).
//! * **Filler words** (`cheap`, `new`, `best`, `新款`, years…) have no bearing on relevance: queries carry them
//!   often, item titles now and then, at random.
//!
//! A query is an intent (a type; a brand and a type; a brand's line; a line and a type; a colour and a type) with
//! fillers added; an item is relevant when it matches every part of the intent, and only relevant items are
//! clicked (besides a small share of noise). So a term's true weight is known: intent words matter, fillers do
//! not. The world is switched on by using [`QaWorld`] instead of [`crate::World`]; events, items and users are
//! the same push records.

use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::data::DAY_MS;
use algocenter_domain::document::Document;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, json};

/// Product types: (word, English or not, leaf category path).
const TYPES: &[(&str, &str)] = &[
    ("云朵鞋", "鞋靴>休闲鞋"),
    ("老爹鞋", "鞋靴>休闲鞋"),
    ("飞织鞋", "鞋靴>运动鞋"),
    ("冰丝裤", "男装>裤子"),
    ("鲨鱼裤", "女装>裤子"),
    ("泡泡袖", "女装>上衣"),
    ("奶油风沙发", "家居>沙发"),
    ("懒人沙发", "家居>沙发"),
    ("氛围灯", "家居>灯具"),
    ("磁吸灯", "家居>灯具"),
    ("筋膜枪", "运动>健身"),
    ("跳绳器", "运动>健身"),
    ("骨传导耳机", "数码>耳机"),
    ("挂脖风扇", "数码>小电器"),
    ("空气炸锅", "家居>厨房"),
    ("破壁机", "家居>厨房"),
    ("sneakers", "鞋靴>运动鞋"),
    ("hoodie", "男装>上衣"),
    ("backpack", "箱包>背包"),
    ("blender", "家居>厨房"),
];

/// Brands and the two product lines each owns.
const BRANDS: &[(&str, [&str; 2])] = &[
    ("nova", ["cloud runner", "storm shell"]),
    ("orion", ["urban flex", "zero gravity"]),
    ("north peak", ["sun chaser", "quick dry"]),
    ("blue harbor", ["soft touch", "deep sleep"]),
    ("云栖", ["light wave", "iron core"]),
    ("木槿堂", ["silk road", "moon glow"]),
    ("lumen", ["night owl", "fast lane"]),
    ("kite", ["wild trail", "pure air"]),
];

const COLORS: &[&str] = &[
    "红色", "黑色", "白色", "蓝色", "red", "black", "white", "blue",
];

/// Words with no bearing on relevance.
pub const FILLERS: &[&str] = &[
    "cheap", "new", "best", "sale", "2024", "2025", "新款", "正品", "包邮", "特价", "爆款", "推荐",
];

#[derive(Clone, Debug)]
pub struct QaConfig {
    pub seed: u64,
    /// Events end just before this instant (epoch ms).
    pub end_ms: i64,
    pub days: u32,
    pub searches: u64,
    pub items: u32,
    pub users: u32,
    /// Distinct queries (drawn with Zipf frequency, exponent 0.8).
    pub queries: u32,
}

impl Default for QaConfig {
    fn default() -> Self {
        QaConfig {
            seed: 11,
            end_ms: 1_790_000_000_000,
            days: 14,
            searches: 40_000,
            items: 3_000,
            users: 5_000,
            queries: 4_000,
        }
    }
}

/// One item with what it is.
#[derive(Clone, Debug)]
pub struct QaItem {
    pub id: String,
    pub kind: usize,
    pub brand: usize,
    pub line: Option<usize>,
    pub color: usize,
    pub title: String,
}

/// What a query asks for: every part must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intent {
    pub kind: Option<usize>,
    pub brand: Option<usize>,
    pub line: Option<usize>,
    pub color: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct QaQuery {
    pub text: String,
    pub intent: Intent,
    /// The intent's words, as typed.
    pub core: Vec<String>,
    /// The filler words it carries.
    pub fillers: Vec<String>,
}

pub struct QaWorld {
    config: QaConfig,
    items: Vec<QaItem>,
    queries: Vec<QaQuery>,
    query_cdf: Vec<f64>,
}

fn pick<'a, T>(rng: &mut SmallRng, list: &'a [T]) -> &'a T {
    &list[rng.random_range(0..list.len())]
}

fn is_cjk(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// Words joined as people type them: Chinese next to Chinese often without a space.
fn typed(words: &[String], rng: &mut SmallRng) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 && !(is_cjk(&words[i - 1]) && is_cjk(w) && rng.random::<f64>() < 0.5) {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

impl Intent {
    pub fn matches(&self, item: &QaItem) -> bool {
        self.kind.is_none_or(|k| k == item.kind)
            && self.brand.is_none_or(|b| b == item.brand)
            && self.line.is_none_or(|l| Some(l) == item.line)
            && self.color.is_none_or(|c| c == item.color)
    }
}

impl QaWorld {
    pub fn new(config: QaConfig) -> QaWorld {
        let mut rng = SmallRng::seed_from_u64(config.seed);
        let items: Vec<QaItem> = (0..config.items)
            .map(|n| {
                let kind = rng.random_range(0..TYPES.len());
                let brand = rng.random_range(0..BRANDS.len());
                let line = (rng.random::<f64>() < 0.7).then(|| rng.random_range(0..2));
                let color = rng.random_range(0..COLORS.len());
                let mut words = vec![BRANDS[brand].0.to_string()];
                if let Some(l) = line {
                    words.push(BRANDS[brand].1[l].to_string());
                }
                words.push(COLORS[color].to_string());
                words.push(TYPES[kind].0.to_string());
                if rng.random::<f64>() < 0.15 {
                    words.push(pick(&mut rng, FILLERS).to_string());
                }
                QaItem {
                    id: format!("q{n}"),
                    kind,
                    brand,
                    line,
                    color,
                    title: typed(&words, &mut rng),
                }
            })
            .collect();
        let queries: Vec<QaQuery> = (0..config.queries)
            .map(|_| {
                let kind = rng.random_range(0..TYPES.len());
                let brand = rng.random_range(0..BRANDS.len());
                let line = rng.random_range(0..2);
                let (intent, core) = match rng.random_range(0..5) {
                    0 => (
                        Intent {
                            kind: Some(kind),
                            ..Intent::default()
                        },
                        vec![TYPES[kind].0.to_string()],
                    ),
                    1 => (
                        Intent {
                            kind: Some(kind),
                            brand: Some(brand),
                            ..Intent::default()
                        },
                        vec![BRANDS[brand].0.to_string(), TYPES[kind].0.to_string()],
                    ),
                    2 => (
                        Intent {
                            brand: Some(brand),
                            line: Some(line),
                            ..Intent::default()
                        },
                        vec![
                            BRANDS[brand].0.to_string(),
                            BRANDS[brand].1[line].to_string(),
                        ],
                    ),
                    3 => (
                        Intent {
                            kind: Some(kind),
                            brand: Some(brand),
                            line: Some(line),
                            ..Intent::default()
                        },
                        vec![BRANDS[brand].1[line].to_string(), TYPES[kind].0.to_string()],
                    ),
                    _ => {
                        let color = rng.random_range(0..COLORS.len());
                        (
                            Intent {
                                kind: Some(kind),
                                color: Some(color),
                                ..Intent::default()
                            },
                            vec![COLORS[color].to_string(), TYPES[kind].0.to_string()],
                        )
                    }
                };
                let mut fillers = Vec::new();
                if rng.random::<f64>() < 0.6 {
                    fillers.push(pick(&mut rng, FILLERS).to_string());
                }
                if rng.random::<f64>() < 0.2 {
                    fillers.push(pick(&mut rng, FILLERS).to_string());
                }
                fillers.dedup();
                // Fillers come first or last, as people type them.
                let mut words = core.clone();
                for f in &fillers {
                    if rng.random::<f64>() < 0.5 {
                        words.insert(0, f.clone());
                    } else {
                        words.push(f.clone());
                    }
                }
                QaQuery {
                    text: typed(&words, &mut rng),
                    intent,
                    core,
                    fillers,
                }
            })
            .collect();
        let mut total = 0.0;
        let query_cdf = (1..=queries.len())
            .map(|rank| {
                total += (rank as f64).powf(-0.8);
                total
            })
            .collect();
        QaWorld {
            config,
            items,
            queries,
            query_cdf,
        }
    }

    pub fn config(&self) -> &QaConfig {
        &self.config
    }

    pub fn items(&self) -> &[QaItem] {
        &self.items
    }

    pub fn queries(&self) -> &[QaQuery] {
        &self.queries
    }

    /// The coined Chinese words a learner should find: product types and Chinese brands.
    pub fn true_words() -> Vec<&'static str> {
        TYPES
            .iter()
            .map(|t| t.0)
            .chain(BRANDS.iter().map(|b| b.0))
            .filter(|w| is_cjk(w))
            .collect()
    }

    /// Names of several words: two-word brands and every product line.
    pub fn true_names() -> Vec<&'static str> {
        BRANDS
            .iter()
            .flat_map(|b| std::iter::once(b.0).chain(b.1))
            .filter(|w| w.contains(' '))
            .collect()
    }

    /// Items as documents: `title`, `category`, `brand`, `line`, `color`.
    pub fn item_documents(&self) -> impl Iterator<Item = Document> + '_ {
        self.items.iter().map(|item| {
            let mut attributes = Map::new();
            attributes.insert("title".into(), json!(item.title));
            attributes.insert("category".into(), json!(TYPES[item.kind].1));
            attributes.insert("brand".into(), json!(BRANDS[item.brand].0));
            if let Some(l) = item.line {
                attributes.insert("line".into(), json!(BRANDS[item.brand].1[l]));
            }
            attributes.insert("color".into(), json!(COLORS[item.color]));
            Document {
                id: item.id.clone(),
                attributes,
            }
        })
    }

    /// The query a search event of [`QaWorld::events`] was drawn as (by its text).
    pub fn query_by_text(&self, text: &str) -> Option<&QaQuery> {
        self.queries.iter().find(|q| q.text == text)
    }

    /// Every event in time order: a search, ten exposures (mostly relevant items, some others), clicks on
    /// relevant items with a position bias, and a little noise.
    pub fn events(&self, f: &mut dyn FnMut(&BehaviourEvent)) {
        let c = &self.config;
        let mut rng = SmallRng::seed_from_u64(c.seed ^ 0x0071_6177);
        let span = f64::from(c.days) * DAY_MS as f64;
        let start = c.end_ms as f64 - span;
        let mut relevant_of: Vec<Option<Vec<u32>>> = vec![None; self.queries.len()];
        let mut event = BehaviourEvent {
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
        for s in 0..c.searches {
            let t = (start + (s as f64 + 0.5) / c.searches as f64 * (span - 600_000.0)) as i64;
            let total = self.query_cdf.last().copied().unwrap_or(1.0);
            let x = rng.random::<f64>() * total;
            let q = self
                .query_cdf
                .partition_point(|&v| v <= x)
                .min(self.queries.len() - 1);
            let query = &self.queries[q];
            let relevant = relevant_of[q].get_or_insert_with(|| {
                (0..self.items.len() as u32)
                    .filter(|&i| query.intent.matches(&self.items[i as usize]))
                    .collect()
            });
            let mut shown: Vec<u32> = Vec::with_capacity(10);
            while shown.len() < 10.min(self.items.len()) {
                let item = if !relevant.is_empty() && rng.random::<f64>() < 0.7 {
                    *pick(&mut rng, relevant)
                } else {
                    rng.random_range(0..self.items.len() as u32)
                };
                if !shown.contains(&item) {
                    shown.push(item);
                }
            }
            event.user_id = format!("v{}", rng.random_range(0..c.users.max(1)));
            event.rn = format!("qa{:x}-{s:x}", c.seed);
            event.bhv_type = "search".into();
            event.item_id.clear();
            event.item_type.clear();
            event.raw_query.clone_from(&query.text);
            event.hits = Some(relevant.len().max(1) as u32);
            event.position = None;
            event.bhv_time_ms = t;
            event.reach_time_ms = t + 50;
            f(&event);
            event.raw_query.clear();
            event.hits = None;
            event.item_type = "item".into();
            for (rank, &item) in shown.iter().enumerate() {
                let position = rank as u32 + 1;
                let is_relevant = query.intent.matches(&self.items[item as usize]);
                let p = 0.5 * f64::from(position).powf(-0.7) * if is_relevant { 1.0 } else { 0.02 };
                event.item_id.clone_from(&self.items[item as usize].id);
                event.position = Some(position);
                event.bhv_type = "expose".into();
                event.bhv_time_ms = t + 1;
                event.reach_time_ms = t + 60;
                f(&event);
                if rng.random::<f64>() < p {
                    event.bhv_type = "click".into();
                    event.bhv_time_ms = t + 2_000 + i64::from(position) * 1_000;
                    event.reach_time_ms = event.bhv_time_ms + 40;
                    f(&event);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_carry_fillers_and_clicks_follow_the_intent_only() {
        let world = QaWorld::new(QaConfig {
            searches: 3_000,
            items: 1_000,
            queries: 500,
            ..QaConfig::default()
        });
        let with_filler = world
            .queries()
            .iter()
            .filter(|q| !q.fillers.is_empty())
            .count();
        assert!(with_filler * 2 > world.queries().len(), "{with_filler}");
        let by_id: std::collections::HashMap<&str, &QaItem> =
            world.items().iter().map(|i| (i.id.as_str(), i)).collect();
        let mut current: Option<QaQuery> = None;
        let (mut clicks, mut relevant_clicks) = (0, 0);
        world.events(&mut |e| match e.bhv_type.as_str() {
            "search" => current = world.query_by_text(&e.raw_query).cloned(),
            "click" => {
                clicks += 1;
                let q = current.as_ref().unwrap();
                relevant_clicks += usize::from(q.intent.matches(by_id[e.item_id.as_str()]));
            }
            _ => {}
        });
        assert!(clicks > 1_000, "{clicks}");
        assert!(
            relevant_clicks * 100 > clicks * 95,
            "{relevant_clicks} of {clicks}"
        );
        assert!(QaWorld::true_words().contains(&"云朵鞋"));
        assert!(QaWorld::true_names().contains(&"cloud runner"));
    }
}
