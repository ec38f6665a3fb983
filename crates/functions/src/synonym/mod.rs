//! `synonym`: pairs of terms and phrases that mean the same to the app's users, mined from what they search and
//! click and from the item titles, each with a score and a direction.
//!
//! **Units.** Queries are cut into words; Chinese by the words of item titles ([`units`]).
//!
//! **Cores.** A word whose removal leaves a query's clicks as they were, in at least two contexts
//! (`acme dress` and `dress` click the same items), carries no meaning of its own: brands a shop does not
//! sell apart, filler such as `new` or `cheap`. Such words are dropped from every query before queries are
//! compared; what remains is the query's core, and a core's clicks are those of all its queries together.
//! Without this, any two brands or colours would look like synonyms.
//!
//! **Evidence** for a pair of cores:
//! - co-clicks: the similarity of where their clicks land, corrected for how few clicks were seen
//!   ([`clicks`]: about 1 when both are samples of the same items, about 0 when not), weighed by how many
//!   clicks it rests on;
//! - reformulations: distinct users who searched one and, within `session_minutes`, the other and clicked;
//! - aligned item text: titles that are the same but for these two words.
//!
//! Two cores make a pair of terms by what differs between them (`acme trainers` / `acme sneakers` gives
//! `trainers` / `sneakers`); a difference seen in one shared context only keeps its context (`yoga mat` /
//! `exercise mat`). One core holding the other (`dress` / `black dress`), numbers (`iphone 13` / `iphone 14`) and
//! misspellings (left to `correction`) are not synonyms. A pair is kept when its co-click similarity reaches
//! `min_similarity` (two-way), or when at least `min_reformulations` users retyped one as the other and its
//! clicks do not disagree (one-way, in the direction users retyped). Its score in [0, 1] weighs the three kinds
//! of evidence (0.6, 0.3, 0.1); each term keeps its `max_synonyms` best pairs.
//!
//! **Evaluation** mines the window before the held-out days and judges its best 100 pairs by the held-out
//! days' co-clicks (a pair is confirmed when the clicks of the held-out queries holding each term are alike,
//! similarity ≥ 0.5, both with 10+ clicks), next to the same judgement of the best 100 pairs of whole queries
//! by plain co-click cosine.

mod clicks;
mod mining;
mod model;
mod trainer;
pub mod units;

pub use clicks::{Clicks, Scale};
pub use mining::Pair;
pub use model::{Expansion, Synonym, SynonymModel};
pub use trainer::{JUDGED_TOP, SynonymTrainer};
