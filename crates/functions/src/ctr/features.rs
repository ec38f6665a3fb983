//! The features of a CTR example and how raw values become them.
//!
//! An example is one exposure: who (user), what (item and its attributes), for which query, at which position,
//! in which context. Every raw value is hashed with its field into a 64-bit key; the vocabulary (values seen at
//! least `min_count` times in the training examples) maps keys to rows of the model, and every other value falls
//! into its field's out-of-vocabulary row, so unknown and rare values still get a learned weight.
//!
//! Crosses are not enumerated by hand: the field-aware factorization machine learns an interaction for every pair
//! of fields (query × item, query terms × category, user × category, ...).

use algocenter_domain::document::Document;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::query::{normalise, terms};

/// The fields of an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Field {
    User = 0,
    Item = 1,
    /// The normalised query as a whole.
    Query = 2,
    /// Its words (CJK: characters and character pairs).
    QueryTerm = 3,
    /// Every prefix of the item's category path (`女装`, `女装>连衣裙`).
    Category = 4,
    /// Words of the item's title, tags and description.
    ItemTerm = 5,
    Position = 6,
    /// `key=value` pairs of the event's context map.
    Context = 7,
}

pub const FIELDS: usize = 8;

pub const ALL_FIELDS: [Field; FIELDS] = [
    Field::User,
    Field::Item,
    Field::Query,
    Field::QueryTerm,
    Field::Category,
    Field::ItemTerm,
    Field::Position,
    Field::Context,
];

/// Positions beyond this share one value: deep positions are rare and alike.
pub const MAX_POSITION: u32 = 50;
/// Most terms of a query, and of an item's texts together, that become features.
const MAX_QUERY_TERMS: usize = 8;
const MAX_ITEM_TERMS: usize = 16;
const MAX_CONTEXT: usize = 8;

/// A raw feature: its field and the hash of its value within that field.
pub type RawFeature = (Field, u64);

pub fn key(field: Field, value: &str) -> u64 {
    xxh3_64_with_seed(value.as_bytes(), field as u64)
}

pub fn position_feature(position: u32) -> RawFeature {
    let p = position.clamp(1, MAX_POSITION);
    (Field::Position, key(Field::Position, &p.to_string()))
}

pub fn user_feature(user: &str) -> RawFeature {
    (Field::User, key(Field::User, user))
}

/// The features of a query: the whole normalised text and its terms. Empty for an empty query.
pub fn query_features(raw_query: &str) -> Vec<RawFeature> {
    let normalised = normalise(raw_query);
    if normalised.is_empty() {
        return Vec::new();
    }
    let mut out = vec![(Field::Query, key(Field::Query, &normalised))];
    let mut seen = Vec::new();
    for term in terms(&normalised) {
        let k = key(Field::QueryTerm, &term);
        if !seen.contains(&k) {
            seen.push(k);
            out.push((Field::QueryTerm, k));
            if seen.len() == MAX_QUERY_TERMS {
                break;
            }
        }
    }
    out
}

pub fn context_features(context: &[(String, String)]) -> Vec<RawFeature> {
    context
        .iter()
        .take(MAX_CONTEXT)
        .map(|(k, v)| (Field::Context, key(Field::Context, &format!("{k}={v}"))))
        .collect()
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
        let mut out = vec![(Field::Item, key(Field::Item, id))];
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
                out.push((Field::Category, key(Field::Category, &prefix)));
            }
        }
        let mut words: Vec<u64> = Vec::new();
        let add_words = |text: &str, words: &mut Vec<u64>| {
            for term in terms(&normalise(text)) {
                let k = key(Field::ItemTerm, &term);
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
        out.extend(words.into_iter().map(|k| (Field::ItemTerm, k)));
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
        assert_eq!(features[0], (Field::Item, key(Field::Item, "i1")));
        assert!(features.contains(&(Field::Category, key(Field::Category, "女装"))));
        assert!(features.contains(&(Field::Category, key(Field::Category, "女装>连衣裙"))));
        assert!(features.contains(&(Field::ItemTerm, key(Field::ItemTerm, "dress"))));
        assert!(features.contains(&(Field::ItemTerm, key(Field::ItemTerm, "连衣"))));
        // "red" is in the title and the tags: once.
        let red = key(Field::ItemTerm, "red");
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
        assert_eq!(position_feature(80), position_feature(MAX_POSITION));
        assert_ne!(position_feature(1), position_feature(2));
        // The same text in two fields is two features.
        assert_ne!(key(Field::Query, "red"), key(Field::QueryTerm, "red"));
    }
}
