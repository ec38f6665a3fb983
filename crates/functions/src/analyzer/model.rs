//! A trained `analyzer` generation as served: the base analyzer, the lexicon (learned words, entities and the
//! intervention dictionary's words), the splits, and how a text becomes tokens.
//!
//! Segmentation: the text's atoms are scanned left to right and the longest run whose key is in the lexicon
//! becomes one token (a lexicon word is never split); the atoms between such runs go to the base analyzer (jieba
//! on CJK runs for `chinese_general`, the Snowball stem of each word for `english`, space-separated chunks for
//! `whitespace`). Tokens the intervention dictionary splits are then replaced by their parts, and every token
//! that is an entity is tagged with its type.

use std::collections::HashMap;
use std::sync::LazyLock;

use algocenter_domain::Error;
use jieba_rs::Jieba;
use serde::{Deserialize, Serialize};

use super::atoms::{Atom, atoms, join, joinable};
use crate::TrainError;

const MAGIC: &[u8; 5] = b"ACANL";
const FORMAT_V1: u8 = 1;
/// Longest lexicon entry, in atoms.
pub const MAX_WORD_ATOMS: usize = 8;

/// jieba's general dictionary, loaded once per process (0.3 s) and shared by every model.
static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// The analyzer a generation starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BaseAnalyzer {
    ChineseGeneral,
    English,
    Whitespace,
}

impl BaseAnalyzer {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "chinese_general" => Some(BaseAnalyzer::ChineseGeneral),
            "english" => Some(BaseAnalyzer::English),
            "whitespace" => Some(BaseAnalyzer::Whitespace),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BaseAnalyzer::ChineseGeneral => "chinese_general",
            BaseAnalyzer::English => "english",
            BaseAnalyzer::Whitespace => "whitespace",
        }
    }

    /// The key of a folded word: its Snowball stem for `english`, itself otherwise.
    pub fn stem(self, word: &str) -> String {
        match self {
            BaseAnalyzer::English if word.chars().all(|c| c.is_alphabetic()) => {
                static STEMMER: LazyLock<frostem::Stemmer> =
                    LazyLock::new(|| frostem::Stemmer::new(frostem::Algorithm::English));
                STEMMER.stem(word).into_owned()
            }
            _ => word.to_string(),
        }
    }

    /// The atoms of a text under this analyzer.
    pub fn atoms(self, text: &str) -> Vec<Atom> {
        atoms(text, &|w| self.stem(w))
    }

    /// Whether the base analyzer alone keeps a CJK word whole (the general dictionary knows it).
    pub fn keeps_whole(self, word: &str) -> bool {
        match self {
            BaseAnalyzer::ChineseGeneral => JIEBA.cut(word, false).len() <= 1,
            BaseAnalyzer::Whitespace => true,
            BaseAnalyzer::English => word.chars().count() <= 1,
        }
    }
}

/// Where a lexicon word comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WordSource {
    /// Learned from the items and searches.
    Learned,
    /// The value of an entity attribute or a category name.
    Attribute,
    /// The intervention dictionary.
    Dictionary,
}

impl WordSource {
    pub fn as_str(self) -> &'static str {
        match self {
            WordSource::Learned => "learned",
            WordSource::Attribute => "attribute",
            WordSource::Dictionary => "dictionary",
        }
    }
}

/// A word of the lexicon: never split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The key (atoms joined): `北极星`, `air max`.
    pub text: String,
    pub source: WordSource,
    /// The entity type (`brand`, `category`, an attribute's name), when it is an entity.
    pub entity: Option<String>,
    /// Learned words: the geometric mean of cohesion and boundary entropy; others 1.
    pub score: f32,
    /// Occurrences in the training texts (searches weighted by their count).
    pub count: u32,
}

/// One token of an analysed text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Token {
    /// The token's key: folded (and stemmed for `english`).
    pub text: String,
    /// Character offsets in the analysed text, `[start, end)`.
    pub start: usize,
    pub end: usize,
    /// A lexicon word (learned, attribute or dictionary), not the base analyzer's.
    pub source: Option<WordSource>,
    pub entity: Option<String>,
}

/// A trained `analyzer` generation. Decoding rebuilds the lexicon's index ([`Stored`] is the stored part).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "Stored")]
pub struct AnalyzerModel {
    pub(super) base: BaseAnalyzer,
    pub(super) words: Vec<Word>,
    /// Token key → its parts' keys.
    pub(super) splits: HashMap<String, Vec<String>>,
    #[serde(skip)]
    index: HashMap<String, u32>,
    #[serde(skip)]
    longest: usize,
}

/// What an artifact holds of an analyzer, in the order [`AnalyzerModel`] serialises it.
#[derive(Deserialize)]
struct Stored {
    base: BaseAnalyzer,
    words: Vec<Word>,
    splits: HashMap<String, Vec<String>>,
}

impl From<Stored> for AnalyzerModel {
    fn from(s: Stored) -> Self {
        AnalyzerModel::new(s.base, s.words, s.splits)
    }
}

impl AnalyzerModel {
    pub fn new(base: BaseAnalyzer, words: Vec<Word>, splits: HashMap<String, Vec<String>>) -> Self {
        let mut model = AnalyzerModel {
            base,
            words,
            splits,
            index: HashMap::new(),
            longest: 1,
        };
        model.build_index();
        model
    }

    /// The base analyzer alone, with no lexicon.
    pub fn base(base: BaseAnalyzer) -> Self {
        AnalyzerModel::new(base, Vec::new(), HashMap::new())
    }

    fn build_index(&mut self) {
        self.index.clear();
        self.longest = 1;
        for (i, w) in self.words.iter().enumerate() {
            let length = self.base.atoms(&w.text).len();
            self.longest = self.longest.max(length.min(MAX_WORD_ATOMS));
            self.index.insert(w.text.clone(), i as u32);
        }
    }

    pub fn base_analyzer(&self) -> BaseAnalyzer {
        self.base
    }

    pub fn words(&self) -> &[Word] {
        &self.words
    }

    pub fn word(&self, key: &str) -> Option<&Word> {
        self.index.get(key).map(|&i| &self.words[i as usize])
    }

    /// The tokens of a text, in order.
    pub fn analyze(&self, text: &str) -> Vec<Token> {
        let atoms = self.base.atoms(text);
        let mut tokens = Vec::with_capacity(atoms.len());
        let mut unmatched_from = 0usize;
        let mut i = 0usize;
        while i < atoms.len() {
            match self.longest_word_at(&atoms, i) {
                Some((length, word)) => {
                    self.base_tokens(&atoms[unmatched_from..i], &mut tokens);
                    let run = &atoms[i..i + length];
                    tokens.push(Token {
                        text: word.text.clone(),
                        start: run[0].start,
                        end: run[length - 1].end,
                        source: Some(word.source),
                        entity: word.entity.clone(),
                    });
                    i += length;
                    unmatched_from = i;
                }
                None => i += 1,
            }
        }
        self.base_tokens(&atoms[unmatched_from..], &mut tokens);
        if self.splits.is_empty() {
            return tokens;
        }
        let mut out = Vec::with_capacity(tokens.len());
        for token in tokens {
            match self.splits.get(&token.text) {
                Some(parts) => self.split(token, parts, &atoms, &mut out),
                None => out.push(token),
            }
        }
        out
    }

    fn longest_word_at(&self, atoms: &[Atom], i: usize) -> Option<(usize, &Word)> {
        let most = self.longest.min(atoms.len() - i);
        (1..=most).rev().find_map(|length| {
            let run = &atoms[i..i + length];
            if !joinable(run) {
                return None;
            }
            let &w = self.index.get(&join(run))?;
            Some((length, &self.words[w as usize]))
        })
    }

    /// The base analyzer's tokens of atoms no lexicon word covers.
    fn base_tokens(&self, atoms: &[Atom], out: &mut Vec<Token>) {
        let mut i = 0;
        while i < atoms.len() {
            if !atoms[i].cjk {
                out.push(self.plain(&atoms[i..=i]));
                i += 1;
                continue;
            }
            // A CJK run: consecutive characters with nothing between them.
            let mut j = i + 1;
            while j < atoms.len() && atoms[j].cjk && !atoms[j].gap_before {
                j += 1;
            }
            let run = &atoms[i..j];
            match self.base {
                BaseAnalyzer::ChineseGeneral => {
                    let text = join(run);
                    for t in JIEBA.cut(&text, false) {
                        if t.end > t.start && t.end <= run.len() {
                            out.push(self.plain(&run[t.start..t.end]));
                        }
                    }
                }
                BaseAnalyzer::English => out.extend(run.chunks(1).map(|a| self.plain(a))),
                BaseAnalyzer::Whitespace => out.push(self.plain(run)),
            }
            i = j;
        }
    }

    fn plain(&self, run: &[Atom]) -> Token {
        let text = join(run);
        let entity = self.word(&text).and_then(|w| w.entity.clone());
        Token {
            start: run[0].start,
            end: run[run.len() - 1].end,
            source: None,
            entity,
            text,
        }
    }

    /// Replaces a token by its parts, each with the offsets of the atoms it covers.
    fn split(&self, token: Token, parts: &[String], atoms: &[Atom], out: &mut Vec<Token>) {
        let covered: Vec<&Atom> = atoms
            .iter()
            .filter(|a| a.start >= token.start && a.end <= token.end)
            .collect();
        let mut at = 0usize;
        for part in parts {
            let length = self.base.atoms(part).len().max(1);
            let (start, end) = match covered.get(at..at + length) {
                Some(run) if !run.is_empty() => (run[0].start, run[run.len() - 1].end),
                _ => (token.start, token.end),
            };
            at += length;
            let entity = self.word(part).and_then(|w| w.entity.clone());
            out.push(Token {
                text: part.clone(),
                start,
                end,
                source: token.source,
                entity,
            });
        }
    }

    /// The lexicon as a user dictionary: `jieba` (`word freq tag` lines) or `ik` (one word per line). Names of
    /// several words (with a space) are left out: neither format can hold them.
    pub fn dictionary(&self, format: DictionaryFormat) -> String {
        let mut out = String::new();
        for w in self.words.iter().filter(|w| !w.text.contains(' ')) {
            match format {
                DictionaryFormat::Jieba => {
                    let tag = if w.entity.is_some() { "nz" } else { "n" };
                    out.push_str(&format!("{} {} {tag}\n", w.text, w.count.max(3)));
                }
                DictionaryFormat::Ik => {
                    out.push_str(&w.text);
                    out.push('\n');
                }
            }
        }
        out
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>, TrainError> {
        crate::artifact::seal(MAGIC, FORMAT_V1, self)
    }

    /// Reads an artifact; a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not an analyzer artifact"))?;
        let model: AnalyzerModel = match body.split_first() {
            Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest)
                .map_err(|e| Error::internal(format_args!("corrupt analyzer artifact: {e}")))?,
            Some((format, _)) => {
                return Err(Error::internal(format_args!(
                    "analyzer artifact of unknown format {format}"
                )));
            }
            None => return Err(Error::internal("truncated analyzer artifact")),
        };
        Ok(model)
    }
}

/// The formats of the dictionary export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DictionaryFormat {
    Jieba,
    Ik,
}

impl DictionaryFormat {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "jieba" => Some(DictionaryFormat::Jieba),
            "ik" => Some(DictionaryFormat::Ik),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, source: WordSource, entity: Option<&str>) -> Word {
        Word {
            text: text.into(),
            source,
            entity: entity.map(str::to_string),
            score: 1.0,
            count: 10,
        }
    }

    fn texts(tokens: &[Token]) -> Vec<&str> {
        tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[test]
    fn lexicon_words_are_never_split_and_carry_their_entity() {
        let model = AnalyzerModel::new(
            BaseAnalyzer::ChineseGeneral,
            vec![
                word("云朵鞋", WordSource::Learned, None),
                word("北极星", WordSource::Attribute, Some("brand")),
                word("air max", WordSource::Learned, None),
            ],
            HashMap::new(),
        );
        let base = AnalyzerModel::base(BaseAnalyzer::ChineseGeneral);
        assert!(base.analyze("云朵鞋").len() > 1, "jieba splits it");
        let tokens = model.analyze("北极星云朵鞋 Air Max 90");
        assert_eq!(texts(&tokens), ["北极星", "云朵鞋", "air max", "90"]);
        assert_eq!(tokens[0].entity.as_deref(), Some("brand"));
        assert_eq!((tokens[2].start, tokens[2].end), (7, 14));
        assert_eq!(tokens[1].source, Some(WordSource::Learned));
        assert_eq!(tokens[3].source, None);
    }

    #[test]
    fn base_analyzers() {
        let english = AnalyzerModel::base(BaseAnalyzer::English);
        assert_eq!(
            texts(&english.analyze("Running Shoes, cheapest")),
            ["run", "shoe", "cheapest"]
        );
        let whitespace = AnalyzerModel::base(BaseAnalyzer::Whitespace);
        assert_eq!(
            texts(&whitespace.analyze("Red 连衣裙 dress")),
            ["red", "连衣裙", "dress"]
        );
        let chinese = AnalyzerModel::base(BaseAnalyzer::ChineseGeneral);
        assert_eq!(texts(&chinese.analyze("红色连衣裙")), ["红色", "连衣裙"]);
    }

    #[test]
    fn splits_replace_a_token_by_its_parts() {
        let mut splits = HashMap::new();
        splits.insert(
            "北京大学".to_string(),
            vec!["北京".to_string(), "大学".to_string()],
        );
        let model = AnalyzerModel::new(
            BaseAnalyzer::ChineseGeneral,
            vec![word("北京大学", WordSource::Dictionary, None)],
            splits,
        );
        let tokens = model.analyze("去北京大学");
        assert_eq!(texts(&tokens), ["去", "北京", "大学"]);
        assert_eq!((tokens[2].start, tokens[2].end), (3, 5));
    }

    #[test]
    fn artifacts_round_trip_and_corrupt_ones_are_errors() {
        let model = AnalyzerModel::new(
            BaseAnalyzer::ChineseGeneral,
            vec![word("云朵鞋", WordSource::Learned, None)],
            HashMap::new(),
        );
        let bytes = model.encode().unwrap();
        let back = AnalyzerModel::decode(&bytes).unwrap();
        assert_eq!(texts(&back.analyze("云朵鞋")), ["云朵鞋"]);
        assert!(AnalyzerModel::decode(&bytes[..bytes.len() - 2]).is_err());
        assert!(AnalyzerModel::decode(b"ACPOP\x01").is_err());
        assert_eq!(model.dictionary(DictionaryFormat::Ik), "云朵鞋\n");
        assert_eq!(model.dictionary(DictionaryFormat::Jieba), "云朵鞋 10 n\n");
    }
}
