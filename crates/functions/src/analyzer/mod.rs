//! `analyzer`: a tokenizer that knows the app's own words.
//!
//! A generation is a base analyzer (`chinese_general`: jieba's general dictionary; `english`: lower case and
//! Snowball stems; `whitespace`) plus a lexicon of words it never splits:
//! * **learned words** ([`learn`]): CJK words the general dictionary splits (coined product words, brands) and
//!   names of several words (`air max`), found by cohesion and boundary entropy over the item text fields
//!   (`text_fields`) and the searches of the window, each with a score;
//! * **entities**: the values of the item attributes `entity_fields` names (typed by the attribute) and the
//!   names of the category path's levels (typed `category`);
//! * **the intervention dictionary** (`intervention_dict`, a `raw_file`): words never split, typed entities, and
//!   `phrase => sub phrase` splits, as OpenSearch's custom analyzer entries.
//!
//! Evaluation learns on the window before the held-out days and segments the held-out searches with and without
//! the learned words (how many CJK tokens stay single characters, how many searches hold a lexicon word); the
//! served lexicon is learned again on the whole window. The lexicon exports as a jieba or IK user dictionary.

mod atoms;
pub mod learn;
mod model;
mod trainer;
pub mod training;

pub use atoms::{Atom, join};
pub use model::{
    AnalyzerModel, BaseAnalyzer, DictionaryFormat, MAX_WORD_ATOMS, Token, Word, WordSource,
};
pub use trainer::AnalyzerTrainer;
pub(crate) use trainer::base_analyzer;
