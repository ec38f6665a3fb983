//! `suggest`: drop-down completion of what a user is typing, from the queries users searched.
//!
//! **Candidates** are the normalised queries of the window searched at least `min_count` times (after the
//! anti-spam cap and the filters), minus the `blacklist`. Each weighs its searches, each decayed by age with
//! `half_life_days`, times its smoothed click-through relative to the average raised to `click_weight`: a query
//! users often follow with a click is a better completion than one they abandon.
//!
//! **The index** ([`SuggestIndex`]) is built once per generation and never changes. Queries are numbered by
//! weight, best first, so that the best completions of a prefix are its smallest numbers. An FST maps every
//! completion key to its query: the normal form, and for Chinese queries their full pinyin and pinyin initials
//! (`连衣裙`, `lianyiqun`, `lyq`), when `pinyin` is on. A second FST holds, for every prefix shared by more than
//! [`HEAVY_PREFIX`] keys, its best [`MAX_HIT`] queries, so that short prefixes (`d`, `连`) answer from one lookup
//! instead of a scan of thousands of keys. Other prefixes scan their few keys.
//!
//! **Typos**: when a prefix of 4 or more characters has fewer completions than asked, keys that start with
//! something one typo away (one character inserted, dropped or replaced, or two neighbours swapped) fill the
//! rest, after the exact completions.
//!
//! **Evaluation** builds the index without the held-out days and replays every held-out search as its user
//! typed it: for each prefix of the query (1, 2, … characters), the reciprocal rank of the query among the
//! top 10 completions, 0 when absent. Only queries the user finally typed count: a search without a click that
//! the same user follows with another search within a minute was retyped, and is left out. The mean (MRR) is reported next to that of the most-popular-completion
//! baseline (candidates weighted by their raw search counts only). The served index is then rebuilt on the whole
//! window.

mod index;
mod trainer;
mod typo;

pub use index::{Candidate, HEAVY_PREFIX, MAX_HIT, SuggestIndex, TYPO_MIN_CHARS};
pub use trainer::SuggestTrainer;
