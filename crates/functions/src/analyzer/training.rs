//! What analyzer training reads and how a lexicon is fitted: the items' texts, entity attributes and category
//! names; the searches of a window; the intervention dictionary. Shared with `termweight`, which segments with
//! the same words it weighs.

use std::collections::HashMap;

use algocenter_domain::document::Document;
use serde_json::Value;

use super::atoms::join;
use super::learn::{Corpus, LearnSettings, learn};
use super::model::{AnalyzerModel, BaseAnalyzer, MAX_WORD_ATOMS, Word, WordSource};
use crate::held_out::Window;
use crate::progress::Steps;
use crate::query::log::{LogFilter, QueryLog};
use crate::{TrainError, TrainingJob};

/// Longest attribute value (characters) taken as an entity: longer ones are descriptions, not names.
const MAX_ENTITY_CHARS: usize = 32;
/// The entity type of category names.
pub const CATEGORY_ENTITY: &str = "category";

/// The item side of query analysis: each item's text (its text fields joined) and category path, and the
/// entity words of the catalogue.
#[derive(Default)]
pub struct ItemTexts {
    pub ids: Vec<String>,
    pub texts: Vec<String>,
    /// Index into `categories`, per item.
    pub category: Vec<Option<u32>>,
    pub categories: Vec<String>,
    /// Entity key → (type, items holding it).
    pub entities: HashMap<String, (String, u32)>,
}

/// The item attributes training reads, from the create parameters.
pub struct ItemFields<'a> {
    pub text: Vec<&'a str>,
    pub entity: Vec<&'a str>,
    pub category: &'a str,
}

impl<'a> ItemFields<'a> {
    pub fn read(job: &TrainingJob<'a>) -> Result<Self, TrainError> {
        let p = job.parameters;
        let error = |e: algocenter_domain::Error| TrainError::Failed(e.to_string());
        Ok(ItemFields {
            text: p.list("text_fields").map_err(error)?,
            entity: p.list("entity_fields").map_err(error)?,
            category: p.get("category_field").map_err(error)?,
        })
    }
}

fn values(document: &Document, field: &str) -> Vec<String> {
    match document.attributes.get(field) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub fn read_items(
    job: &TrainingJob<'_>,
    fields: &ItemFields<'_>,
    base: BaseAnalyzer,
    steps: &mut Steps<'_>,
) -> Result<ItemTexts, TrainError> {
    let mut items = ItemTexts::default();
    let mut category_ids: HashMap<String, u32> = HashMap::new();
    steps.for_each_item(job.data, |item| {
        let text: Vec<String> = fields.text.iter().flat_map(|f| values(item, f)).collect();
        let mut entity = |value: &str, kind: &str| {
            let key = join(&base.atoms(value));
            if key.is_empty()
                || key.chars().count() > MAX_ENTITY_CHARS
                || base.atoms(&key).len() > MAX_WORD_ATOMS
            {
                return;
            }
            let e = items
                .entities
                .entry(key)
                .or_insert_with(|| (kind.to_string(), 0));
            e.1 += 1;
        };
        for field in &fields.entity {
            for value in values(item, field) {
                entity(&value, field);
            }
        }
        let mut category = None;
        if !fields.category.is_empty()
            && let Some(path) = item.text(fields.category)
        {
            let path = path.trim();
            if !path.is_empty() {
                for level in path.split('>') {
                    entity(level.trim(), CATEGORY_ENTITY);
                }
                let next = category_ids.len() as u32;
                let id = *category_ids.entry(path.to_string()).or_insert(next);
                if id == next {
                    items.categories.push(path.to_string());
                }
                category = Some(id);
            }
        }
        items.ids.push(item.id.clone());
        items.texts.push(text.join(" "));
        items.category.push(category);
    })?;
    Ok(items)
}

/// The intervention dictionary of an analyzer: words never split (with an entity type or none) and splits.
#[derive(Clone, Debug, Default)]
pub struct Intervention {
    pub words: Vec<(String, Option<String>)>,
    pub splits: HashMap<String, Vec<String>>,
}

/// Parses `word`, `word<TAB>type` and `phrase => sub phrase` lines; `#` comments and blank lines are skipped. A
/// malformed line fails the run with its number.
pub fn parse_intervention(content: &str, base: BaseAnalyzer) -> Result<Intervention, String> {
    let key = |text: &str| join(&base.atoms(text));
    let mut out = Intervention::default();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if let Some((phrase, parts)) = line.split_once("=>") {
            let phrase = key(phrase);
            let parts: Vec<String> = parts
                .split_whitespace()
                .map(key)
                .filter(|p| !p.is_empty())
                .collect();
            if phrase.is_empty() || parts.is_empty() {
                return Err(format!(
                    "intervention_dict line {}: expected 'phrase => sub phrase'",
                    n + 1
                ));
            }
            out.words.push((phrase.clone(), None));
            out.splits.insert(phrase, parts);
            continue;
        }
        let (word, kind) = match line.split_once('\t') {
            Some((word, kind)) => (word, Some(kind.trim())),
            None => (line, None),
        };
        let word = key(word);
        if word.is_empty() || kind.is_some_and(|k| k.is_empty() || k.contains(char::is_whitespace))
        {
            return Err(format!(
                "intervention_dict line {}: expected 'word', 'word<TAB>type' or 'phrase => sub phrase'",
                n + 1
            ));
        }
        out.words.push((word, kind.map(str::to_string)));
    }
    Ok(out)
}

/// Fits an analyzer on the items and the searches of `window`: learned words, then the catalogue's entities,
/// then the dictionary's words, each overriding the one before for the same key.
pub fn fit(
    base: BaseAnalyzer,
    settings: LearnSettings,
    items: &ItemTexts,
    log: &QueryLog,
    window: Window,
    filter: LogFilter,
    intervention: &Intervention,
) -> AnalyzerModel {
    let mut corpus = Corpus::default();
    for text in &items.texts {
        corpus.add(&base.atoms(text), 1.0);
    }
    let (kept, _) = log.kept(window.from_ms, window.to_ms, filter);
    let counts = log.counts(&kept, window.to_ms, None);
    for (q, c) in counts.iter().enumerate() {
        if c.searches > 0 {
            corpus.add(&base.atoms(log.query(q as u32)), f64::from(c.searches));
        }
    }
    let mut by_key: HashMap<String, Word> = HashMap::new();
    for w in learn(&corpus, base, settings) {
        by_key.insert(w.text.clone(), w);
    }
    for (key, (kind, count)) in &items.entities {
        by_key.insert(
            key.clone(),
            Word {
                text: key.clone(),
                source: WordSource::Attribute,
                entity: Some(kind.clone()),
                score: 1.0,
                count: *count,
            },
        );
    }
    for (key, kind) in &intervention.words {
        let count = by_key.get(key).map_or(0, |w| w.count);
        by_key.insert(
            key.clone(),
            Word {
                text: key.clone(),
                source: WordSource::Dictionary,
                entity: kind.clone(),
                score: 1.0,
                count,
            },
        );
    }
    let mut words: Vec<Word> = by_key.into_values().collect();
    words.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.text.cmp(&b.text)));
    AnalyzerModel::new(base, words, intervention.splits.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_lines_parse_and_bad_ones_name_their_line() {
        let base = BaseAnalyzer::ChineseGeneral;
        let parsed = parse_intervention(
            "# words\n云朵鞋\nNova Pulse\tseries\n北京大学 => 北京 大学\n",
            base,
        )
        .unwrap();
        assert_eq!(
            parsed.words,
            [
                ("云朵鞋".to_string(), None),
                ("nova pulse".to_string(), Some("series".to_string())),
                ("北京大学".to_string(), None)
            ]
        );
        assert_eq!(parsed.splits["北京大学"], ["北京", "大学"]);
        assert!(
            parse_intervention("ok\n => x", base)
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            parse_intervention("word\t", base)
                .unwrap_err()
                .contains("line 1")
        );
    }
}
