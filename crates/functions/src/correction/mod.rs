//! `correction`: spelling correction of queries, learned from what users searched and clicked and from the item
//! titles. OpenSearch offers it inside query analysis only (`query_correction_info`); here it is also a function
//! of its own, with a predict endpoint.
//!
//! **Targets.** The words users searched and clicked and the words of item titles are known: a query made of
//! known words is never changed. Queries enough distinct users (`min_target_users`) searched and clicked are
//! targets: never corrected themselves (a frequent, clicked query is right as typed), and preferred
//! corrections.
//!
//! **Candidates**, strongest first:
//! 1. the intervention dictionary (`wrong<TAB>right` always rewritten, `never<TAB>query` never corrected);
//! 2. corrections users made themselves: a search without a click followed within `session_minutes` by a
//!    related search of the same user that got a click (a few edits apart, read alike, or its pinyin), counted
//!    by distinct users;
//! 3. a Chinese query read like a known one (homophones, through pinyin), or typed as the pinyin of one;
//! 4. each unknown Latin-script word (4+ letters, no digit): typed as the pinyin of a Chinese word, or within
//!    `max_edit_distance` edits of known words, found with a symmetric-deletion index ([`deletions`]) and
//!    weighed by a noisy channel: the word's frequency against its weighted distance ([`distance`]: keyboard
//!    neighbours, swapped, doubled and dropped double letters cost less than other edits); each Chinese stretch
//!    that is no known word but reads like one (or nearly, under the usual pinyin confusions: a suggestion
//!    only).
//!
//! **Levels.** 1 (rewrite) when the evidence is confident: the dictionary, a correction at least
//! `min_reformulations` users made, a candidate that is the only likely one (three times likelier than the
//! next) within one edit, an exact reading. 2 (did you mean) otherwise.
//!
//! **Evaluation** learns on the window before the held-out days and replays on them the corrections users
//! made (precision and recall of level 1, also for typos never seen in training) and every search clicked as
//! typed (the false-correction rate).

pub(crate) mod deletions;
pub(crate) mod distance;
mod model;
mod reading;
mod trainer;
mod training;

pub use distance::adjacent;
pub use model::{Correction, CorrectionModel, Level, Source};
pub use trainer::CorrectionTrainer;
pub(crate) use training::same_spelling;
