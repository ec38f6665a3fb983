//! `category`: which item categories a query is about, with a confidence for every query.
//!
//! Two sources, combined:
//! 1. **Clicks.** For each query, the categories (the items' full `category_field` paths) its clicks land in,
//!    joined through `rn` and counted after the anti-spam cap. A query with at least `min_evidence` clicks answers
//!    from them, smoothed with `smoothing` pseudo-clicks of the text model's answer:
//!    `P(c|q) = (clicks(q,c) + smoothing × P_text(c|q)) / (clicks(q) + smoothing)`.
//! 2. **Text.** A multinomial naive Bayes classifier (a linear model over term counts) learned from item titles
//!    labelled with their category, each category's own name, and the training queries labelled with their
//!    clicks. Terms are words and CJK character pairs ([`crate::query::terms`]); terms with less than two
//!    documents' weight are dropped.
//!    It answers every other query, including queries never seen; a query with no known term gets the
//!    categories' prior.
//!
//! The `intervention_dict` (`query<TAB>category<TAB>level` lines) then overrides answers: level 2 (strong)
//! puts the category first with score 1, level 1 (weak) keeps it with a score of at least 0.5, level 0 (none)
//! removes it.
//!
//! **Evaluation** trains on the window before the held-out days and predicts every query searched and clicked
//! in them: precision at k (the share of the top-k predicted categories, those scored 0.05 or more, that
//! received a held-out click of the query), recall at k (the share of held-out clicks landing in the top-k
//! predicted categories), F1, top-1 accuracy against each query's most clicked category, apart for queries
//! the model had click evidence for and queries it had never seen. `recall` is recall@3 in percent, as in
//! OpenSearch's `ExtendInfo`. The served model is then refit on the whole window.

mod evaluation;
mod model;
mod text;
mod trainer;

pub use model::{CategoryModel, MAX_TOP_K, Prediction, Source, parse_intervention};
pub use trainer::CategoryTrainer;
