//! The training side of the text model: the terms of item titles, category names and queries, numbered once,
//! and the fit of the naive Bayes weights over them.

use std::collections::HashMap;

use crate::progress::Steps;
use crate::query::log::QueryLog;
use crate::query::{normalise, terms};
use crate::{TrainError, TrainingJob};

/// Additive smoothing of the text model's term counts.
const ALPHA: f64 = 0.1;
/// Weight of a category's own name as a training document of the text model.
const NAME_WEIGHT: f64 = 5.0;

/// The item side of training: categories, each item's category, and the text model's item documents.
pub(super) struct Catalogue {
    pub(super) categories: Vec<String>,
    pub(super) category_ids: HashMap<String, u16>,
    pub(super) item_category: HashMap<String, u16>,
    /// (terms, category) of every item title, terms as numbers of `terms`.
    pub(super) titles: Vec<(Vec<u32>, u16)>,
    /// Every term seen in titles, category names and queries, numbered once (a title's terms as strings took
    /// gigabytes for a million Chinese titles).
    pub(super) terms: Terms,
    /// The terms of each category's name.
    pub(super) name_terms: Vec<Vec<u32>>,
    /// The terms of each query of the log, by query id.
    pub(super) query_terms: Vec<Vec<u32>>,
}

#[derive(Default)]
pub(super) struct Terms {
    pub(super) names: Vec<String>,
    pub(super) ids: HashMap<String, u32>,
}

impl Terms {
    fn of(&mut self, text: &str) -> Vec<u32> {
        terms(text)
            .into_iter()
            .map(|term| match self.ids.get(&term) {
                Some(&id) => id,
                None => {
                    let id = self.names.len() as u32;
                    self.names.push(term.clone());
                    self.ids.insert(term, id);
                    id
                }
            })
            .collect()
    }
}

impl Catalogue {
    /// Numbers the terms of category names and of the log's queries, before fitting.
    pub(super) fn add_text(&mut self, log: &QueryLog) {
        self.name_terms = (0..self.categories.len())
            .map(|c| {
                let name = normalise(&self.categories[c]);
                self.terms.of(&name)
            })
            .collect();
        self.query_terms = (0..log.query_count() as u32)
            .map(|q| self.terms.of(log.query(q)))
            .collect();
    }
}

pub(super) fn read_catalogue(
    job: &TrainingJob<'_>,
    steps: &mut Steps<'_>,
) -> Result<Catalogue, TrainError> {
    let p = job.params();
    let title_field = p.text("title_field")?;
    let category_field = p.text("category_field")?;
    let mut catalogue = Catalogue {
        categories: Vec::new(),
        category_ids: HashMap::new(),
        item_category: HashMap::new(),
        titles: Vec::new(),
        terms: Terms::default(),
        name_terms: Vec::new(),
        query_terms: Vec::new(),
    };
    steps.for_each_item(job.data, |item| {
        let Some(path) = item.text(category_field) else {
            return;
        };
        let path = path.trim();
        if path.is_empty() {
            return;
        }
        let c = match catalogue.category_ids.get(path) {
            Some(&c) => c,
            None if catalogue.categories.len() < usize::from(u16::MAX) => {
                let c = catalogue.categories.len() as u16;
                catalogue.categories.push(path.to_string());
                catalogue.category_ids.insert(path.to_string(), c);
                c
            }
            None => return,
        };
        catalogue.item_category.insert(item.id.clone(), c);
        if let Some(title) = item.text(title_field) {
            let title_terms = catalogue.terms.of(&normalise(&title));
            catalogue.titles.push((title_terms, c));
        }
    })?;
    Ok(catalogue)
}

/// The text model's weights, learned from item titles, category names and the clicked queries.
pub(super) struct TextModel {
    pub vocabulary: HashMap<String, u32>,
    pub postings: Vec<Vec<(u16, f32)>>,
    pub prior: Vec<f32>,
    pub unseen: Vec<f32>,
}

/// Fits the multinomial naive Bayes text model: titles count once, category names [`NAME_WEIGHT`] times, each
/// query as many times as it was clicked into a category (`clicks`: per query, clicks per category).
pub(super) fn fit_text(
    catalogue: &Catalogue,
    clicks: &HashMap<u32, HashMap<u16, u32>>,
) -> TextModel {
    let n = catalogue.categories.len();

    // Text model: weighted term counts per category.
    let mut counts: Vec<HashMap<u16, f64>> = vec![HashMap::new(); catalogue.terms.names.len()];
    let mut class_terms = vec![0.0f64; n];
    let mut class_docs = vec![0.0f64; n];
    let mut add = |terms: &[u32], c: u16, weight: f64| {
        class_docs[usize::from(c)] += weight;
        for &t in terms {
            *counts[t as usize].entry(c).or_default() += weight;
            class_terms[usize::from(c)] += weight;
        }
    };
    for (terms, c) in &catalogue.titles {
        add(terms, *c, 1.0);
    }
    for (c, terms) in catalogue.name_terms.iter().enumerate() {
        add(terms, c as u16, NAME_WEIGHT);
    }
    for (&query, by_category) in clicks {
        let query_terms = &catalogue.query_terms[query as usize];
        for (&c, &k) in by_category {
            add(query_terms, c, f64::from(k));
        }
    }
    // A term with less than two documents' weight says nothing general.
    let mut vocabulary = HashMap::new();
    let mut postings = Vec::new();
    for (t, by_category) in counts.iter().enumerate() {
        if by_category.values().sum::<f64>() < 2.0 {
            continue;
        }
        vocabulary.insert(catalogue.terms.names[t].clone(), postings.len() as u32);
        let mut posting: Vec<(u16, f32)> = by_category
            .iter()
            .map(|(&c, &k)| (c, ((k + ALPHA) / ALPHA).ln() as f32))
            .collect();
        posting.sort_by_key(|p| p.0);
        postings.push(posting);
    }
    let v = vocabulary.len().max(1) as f64;
    let total_docs: f64 = class_docs.iter().sum::<f64>().max(1.0);
    let prior = class_docs
        .iter()
        .map(|&d| ((d + 1.0) / (total_docs + n as f64)).ln() as f32)
        .collect();
    let unseen = class_terms
        .iter()
        .map(|&k| (ALPHA / (k + ALPHA * v)).ln() as f32)
        .collect();
    TextModel {
        vocabulary,
        postings,
        prior,
        unseen,
    }
}
