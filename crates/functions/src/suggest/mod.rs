//! `suggest`: drop-down completion of what a user is typing, from the queries users searched, blended with the
//! user's own earlier searches.
//!
//! **The searches that count** are those of the window with a usable query (and results, with
//! `drop_no_result`), every repeat included: people search again for what they searched before, and a per-user
//! cap throws that away. Bots are left out by their inhuman rate instead ([`crate::query::bots`]).
//!
//! **The global list** ([`SuggestIndex`]) holds the queries that pass the global threshold: `min_users` distinct
//! users (2) and `min_count` searches. Each is weighted by a [`Weighting`]: raw searches, searches capped per
//! user and day, or distinct users; each search halved every half-life of age; times the query's smoothed
//! click-through relative to the average raised to a click weight. Queries are numbered by weight, best first,
//! so that the best completions of a prefix are its smallest numbers. An FST maps every completion key to its
//! query: the normal form, and for Chinese queries their full pinyin and pinyin initials (`连衣裙`,
//! `lianyiqun`, `lyq`), when `pinyin` is on. A second FST holds, for every prefix shared by more than
//! [`HEAVY_PREFIX`] keys, its best [`MAX_HIT`] queries, so that short prefixes answer from one lookup. When a
//! prefix of 4 or more characters has fewer completions than asked, keys one typo away fill the rest.
//!
//! **Personal completions** ([`personal`]): each user active in the window keeps a bounded history of their own
//! queries (`history_per_user`), blended with the global list for requests that name the user. A query typed by
//! one user only is suggested to that user and never to anyone else unless it passes the global threshold. With
//! `near_realtime`, serving adds the searches pushed since training (the live tail) to the user's history.
//!
//! **Weights chosen on the app's own data** ([`selection`]): the weighting and the blend are chosen among the
//! configured ones and a small grid by MRR on the searches of the days just before those the model is scored on.
//!
//! **Evaluation** ([`replay`]) fits the model on the window before the held-out days and replays every held-out
//! search of 4+ characters prefix by prefix (2 to 8 characters, top 10): `mrr` without `user_id`,
//! `mrr_with_user_id`, next to most-popular completion and "own history first, then most popular" fitted on the
//! same window. The served model is then rebuilt, with its own weight search, on the whole window.

mod index;
mod model;
pub mod personal;
pub mod replay;
pub mod selection;
mod trainer;
mod typo;
pub mod weights;

pub use index::{Candidate, HEAVY_PREFIX, MAX_HIT, SuggestIndex, TYPO_MIN_CHARS};
pub use model::SuggestModel;
pub use personal::{Blend, LiveSearch};
pub use trainer::SuggestTrainer;
pub use weights::{Count, Weighting};
