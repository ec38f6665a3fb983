//! The features of a CTR example and how raw values become them.
//!
//! An example is one exposure: who (user), what (item and its attributes), for which query, in which context.
//! Every raw value is hashed with its field into a 64-bit key; the vocabulary (values seen at least `min_count`
//! times in the training examples) maps keys to rows of the model, and every other value falls into its field's
//! out-of-vocabulary row, so unknown and rare values still get a learned weight.
//!
//! Fields are numbered: six fixed ones, then one per frequent `context` key (the [`Schema`] of a model says
//! which), and one shared by the rarer keys. Giving each context key its own field lets the models learn how
//! the time of day interacts with the item apart from how the weather does.
//!
//! The position an item was shown at is **not** a feature: it is a presentation effect, learned as a separate
//! additive term (see `ctr/mod.rs`), so that no model can use it as a stand-in for relevance.

use algocenter_domain::document::Document;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::query::{normalise, terms};

/// The number of a field: one of the constants below, or `FIRST_CONTEXT + n` for the `n`-th context key of the
/// schema.
pub type Field = u8;

pub const USER: Field = 0;
pub const ITEM: Field = 1;
/// The normalised query as a whole.
pub const QUERY: Field = 2;
/// Its words (CJK: characters and character pairs).
pub const QUERY_TERM: Field = 3;
/// Every prefix of the item's category path (`女装`, `女装>连衣裙`).
pub const CATEGORY: Field = 4;
/// Words of the item's title, tags and description.
pub const ITEM_TERM: Field = 5;
/// `key=value` pairs of context keys without a field of their own.
pub const CONTEXT_OTHER: Field = 6;
pub const FIRST_CONTEXT: Field = 7;

/// Context keys that get a field of their own, the most frequent first.
pub const MAX_CONTEXT_FIELDS: usize = 12;
/// Fields a model can have (interaction masks are 32-bit): the context fields and the user's history last.
pub const MAX_FIELDS: usize = FIRST_CONTEXT as usize + MAX_CONTEXT_FIELDS + 1;

/// Positions beyond this share one value: deep positions are rare and alike. Index 0 means "not logged".
pub const MAX_POSITION: u32 = 50;
/// Most terms of a query, and of an item's texts together, that become features.
const MAX_QUERY_TERMS: usize = 8;
const MAX_ITEM_TERMS: usize = 16;
/// Most context entries read from one event.
pub const MAX_CONTEXT: usize = 32;
/// Hash seed of context values: a value keeps its key whatever field its context key is given.
const CONTEXT_SEED: u64 = 7;

/// A raw feature: its field and the hash of its value within that field.
pub type RawFeature = (Field, u64);

pub fn key(field: Field, value: &str) -> u64 {
    xxh3_64_with_seed(value.as_bytes(), u64::from(field))
}

/// The position index of a logged position: 0 when none was logged, deep positions share [`MAX_POSITION`].
pub fn position_index(position: Option<u32>) -> u8 {
    match position {
        None | Some(0) => 0,
        Some(p) => p.min(MAX_POSITION) as u8,
    }
}

pub fn user_feature(user: &str) -> RawFeature {
    (USER, key(USER, user))
}

/// The features of a query: the whole normalised text and its terms. Empty for an empty query.
pub fn query_features(raw_query: &str) -> Vec<RawFeature> {
    let normalised = normalise(raw_query);
    if normalised.is_empty() {
        return Vec::new();
    }
    let mut out = vec![(QUERY, key(QUERY, &normalised))];
    let mut seen = Vec::new();
    for term in terms(&normalised) {
        let k = key(QUERY_TERM, &term);
        if !seen.contains(&k) {
            seen.push(k);
            out.push((QUERY_TERM, k));
            if seen.len() == MAX_QUERY_TERMS {
                break;
            }
        }
    }
    out
}

/// Which context keys have a field of their own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Context key of field `FIRST_CONTEXT + n`.
    pub context_keys: Vec<String>,
    /// Whether the last field is the items the user chose before ([`Schema::history_field`]). Not encoded: the
    /// artifact says it by holding the histories (`ctr/model.rs`), so the schema of older formats reads as is.
    #[serde(skip)]
    pub history: bool,
}

impl Schema {
    /// The fields of a model with this schema.
    pub fn fields(&self) -> usize {
        FIRST_CONTEXT as usize + self.context_keys.len() + usize::from(self.history)
    }

    /// The field of the user's history: after the context fields.
    pub fn history_field(&self) -> Option<Field> {
        self.history
            .then(|| FIRST_CONTEXT + self.context_keys.len() as Field)
    }

    /// The most frequent context keys (by the number of exposures carrying them, ties by name), at most
    /// [`MAX_CONTEXT_FIELDS`], each seen at least `min_count` times.
    pub fn from_key_counts(mut counts: Vec<(String, u64)>, min_count: u64) -> Schema {
        counts.retain(|(_, n)| *n >= min_count);
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts.truncate(MAX_CONTEXT_FIELDS);
        Schema {
            context_keys: counts.into_iter().map(|(k, _)| k).collect(),
            history: false,
        }
    }

    pub fn field_of(&self, context_key: &str) -> Field {
        self.context_keys
            .iter()
            .position(|k| k == context_key)
            .map_or(CONTEXT_OTHER, |n| FIRST_CONTEXT + n as u8)
    }

    /// A readable name of each field, for `ExtendInfo`.
    pub fn field_name(&self, field: Field) -> String {
        match field {
            USER => "user".into(),
            ITEM => "item".into(),
            QUERY => "query".into(),
            QUERY_TERM => "query_term".into(),
            CATEGORY => "category".into(),
            ITEM_TERM => "item_term".into(),
            CONTEXT_OTHER => "context".into(),
            f if Some(f) == self.history_field() => "user_history".into(),
            f => format!(
                "context.{}",
                self.context_keys
                    .get(usize::from(f - FIRST_CONTEXT))
                    .map_or("?", String::as_str)
            ),
        }
    }

    /// The features of an event's context: each `key=value` in its key's field.
    pub fn context_features(&self, context: &[(String, String)]) -> Vec<RawFeature> {
        context
            .iter()
            .take(MAX_CONTEXT)
            .map(|(k, v)| (self.field_of(k), context_value_key(k, v)))
            .collect()
    }
}

pub fn context_value_key(k: &str, v: &str) -> u64 {
    xxh3_64_with_seed(format!("{k}={v}").as_bytes(), CONTEXT_SEED)
}

/// Which item attributes feed the model: the `*_field` create parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemFields {
    /// The attribute holding the id behaviour events use; `item_id` (or empty) is the document's own id.
    pub id: String,
    pub title: String,
    pub category: String,
    /// Empty: not used.
    pub tags: String,
    pub description: String,
}

impl ItemFields {
    /// The id behaviour events know this item by.
    pub fn id_of(&self, item: &Document) -> Option<String> {
        if self.id.is_empty() || self.id == "item_id" {
            return Some(item.id.clone());
        }
        item.text(&self.id)
    }

    /// The features of an item: its id and its attributes. An item without attributes still has its id.
    pub fn features(&self, id: &str, item: Option<&Document>) -> Vec<RawFeature> {
        let mut out = vec![(ITEM, key(ITEM, id))];
        let Some(item) = item else {
            return out;
        };
        if let Some(path) = nonempty(&self.category).and_then(|f| item.text(f)) {
            let mut prefix = String::new();
            for part in path.split('>').map(str::trim).filter(|p| !p.is_empty()) {
                if !prefix.is_empty() {
                    prefix.push('>');
                }
                prefix.push_str(part);
                out.push((CATEGORY, key(CATEGORY, &prefix)));
            }
        }
        let mut words: Vec<u64> = Vec::new();
        let add_words = |text: &str, words: &mut Vec<u64>| {
            for term in terms(&normalise(text)) {
                let k = key(ITEM_TERM, &term);
                if words.len() < MAX_ITEM_TERMS && !words.contains(&k) {
                    words.push(k);
                }
            }
        };
        if let Some(title) = nonempty(&self.title).and_then(|f| item.text(f)) {
            add_words(&title, &mut words);
        }
        if let Some(tags) = nonempty(&self.tags).and_then(|f| item.text(f)) {
            for tag in tags.split(',') {
                add_words(tag, &mut words);
            }
        }
        if let Some(description) = nonempty(&self.description).and_then(|f| item.text(f)) {
            add_words(&description, &mut words);
        }
        out.extend(words.into_iter().map(|k| (ITEM_TERM, k)));
        out
    }
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_give_their_id_category_prefixes_and_words() {
        let fields = ItemFields {
            id: "item_id".into(),
            title: "title".into(),
            category: "category".into(),
            tags: "tags".into(),
            description: String::new(),
        };
        let doc = Document {
            id: "i1".into(),
            attributes: json!({"title": "Red Dress 红色连衣裙", "category": "女装 > 连衣裙", "tags": "summer,red"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let features = fields.features("i1", Some(&doc));
        assert_eq!(features[0], (ITEM, key(ITEM, "i1")));
        assert!(features.contains(&(CATEGORY, key(CATEGORY, "女装"))));
        assert!(features.contains(&(CATEGORY, key(CATEGORY, "女装>连衣裙"))));
        assert!(features.contains(&(ITEM_TERM, key(ITEM_TERM, "dress"))));
        assert!(features.contains(&(ITEM_TERM, key(ITEM_TERM, "连衣"))));
        // "red" is in the title and the tags: once.
        let red = key(ITEM_TERM, "red");
        assert_eq!(features.iter().filter(|f| f.1 == red).count(), 1);
        // Without attributes: the id alone.
        assert_eq!(fields.features("i2", None).len(), 1);
    }

    #[test]
    fn queries_are_normalised_and_split() {
        let a = query_features("  Red DRESS ");
        let b = query_features("red dress");
        assert_eq!(a, b);
        assert_eq!(a.len(), 3, "the query and two words");
        assert!(query_features(" ,. ").is_empty());
        assert_eq!(position_index(Some(80)), position_index(Some(MAX_POSITION)));
        assert_ne!(position_index(Some(1)), position_index(Some(2)));
        assert_eq!(position_index(None), 0);
        // The same text in two fields is two features.
        assert_ne!(key(QUERY, "red"), key(QUERY_TERM, "red"));
    }

    #[test]
    fn frequent_context_keys_get_their_own_fields() {
        let schema = Schema::from_key_counts(
            vec![
                ("weather".into(), 50),
                ("city".into(), 90),
                ("rare".into(), 2),
                ("daytime".into(), 90),
            ],
            5,
        );
        assert_eq!(schema.context_keys, ["city", "daytime", "weather"]);
        assert_eq!(schema.fields(), FIRST_CONTEXT as usize + 3);
        let f = schema.context_features(&[
            ("weather".into(), "sunny".into()),
            ("rare".into(), "x".into()),
        ]);
        assert_eq!(
            f[0],
            (FIRST_CONTEXT + 2, context_value_key("weather", "sunny"))
        );
        assert_eq!(f[1].0, CONTEXT_OTHER);
        assert_eq!(schema.field_name(FIRST_CONTEXT), "context.city");
    }
}
