//! `termweight`: how much each term of a query matters, as a weight in [0, 1] and a level (high, mid, low), so
//! that a search engine can require the terms that matter and make the others optional.
//!
//! **Label.** The *term recall* of a term of a query: the share of the items clicked after its searches whose
//! text (`text_fields`) holds the term. A term users drop when they choose what to click ("cheap", "新款", a year)
//! has a low recall; the product, the brand, the model have a high one.
//!
//! **Model.** Queries and items are segmented as the analyzer does (the base analyzer, words learned with the
//! analyzer's default thresholds, and the `entity_fields` entities). A logistic regression on soft labels learns
//! term recall from features that exist for any term: inverse document frequency in items and in queries, how
//! much more often it is searched than it appears in items, the entropy of the categories its clicks land in
//! (`category_field`), its position in the query and the query's length, its length, digits, script, whether it
//! is a learned word or an entity. A term seen in training mixes its own mean recall with the model's answer
//! (three pseudo-queries of it); any other term gets the model's answer, so queries never seen are weighed too.
//!
//! **Stop words**: the `stop_words` resource plus, with `learn_stop_words`, terms searched in at least 20
//! clicked queries whose clicked items (almost) never hold them. **Intervention**: `term<TAB>high|mid|low`.
//!
//! **Evaluation** on the held-out days, against an IDF baseline (the term's inverse document frequency in items
//! as its weight): Spearman rank correlation of weights with term recall, and the share of clicked items that
//! still hold every high- and mid-level term (with the terms required per search, so that a model cannot look
//! good by requiring nothing).

mod model;
mod trainer;

pub use model::{Level, TermStats, TermWeight, TermweightModel, Thresholds};
pub use trainer::TermweightTrainer;
