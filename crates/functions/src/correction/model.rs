//! A trained `correction` generation: what it knows and how it corrects one query (see the module
//! documentation of [`crate::correction`] for the rules).

use std::collections::{HashMap, HashSet};

use algocenter_domain::Error;
use serde::{Deserialize, Serialize};

use super::deletions::{DeletionIndex, MAX_WORD_CHARS, tolerance};
use super::distance::{edits, weighted};
use super::reading::{exact_key, fuzzy_key, syllables, typed_as_pinyin, typed_key};
use crate::TrainError;
use crate::query::{is_cjk, is_usable, normalise};

const MAGIC: &[u8; 5] = b"ACCOR";
const FORMAT_V1: u8 = 1;

/// A candidate one edit further away must be this many times more frequent to win.
const CHANNEL: f64 = 30.0;
/// A rewrite needs its best candidate this many times likelier than the next.
const DOMINANCE: f64 = 3.0;
/// Words shorter than this are never corrected: too many words are one edit apart.
const MIN_WORD_CHARS: usize = 4;
/// Longest Chinese span replaced by a homophone, in characters.
const MAX_SPAN: usize = 8;
/// A rewrite (level 1) of a Latin word is at most this far (a full edit, or a slip).
const REWRITE_DISTANCE: f32 = 1.0;

/// How sure a correction is: OpenSearch's `correction_level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Confident: the query is rewritten.
    Rewrite = 1,
    /// A "did you mean" suggestion; the query stands.
    Suggest = 2,
}

impl Level {
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// What a correction rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The instance's intervention dictionary.
    Dictionary,
    /// Users who searched it corrected it themselves.
    Reformulation,
    /// Latin-script words within a few edits of known words.
    Spelling,
    /// Chinese characters read alike.
    Homophone,
    /// Chinese typed as pinyin.
    Pinyin,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Dictionary => "dictionary",
            Source::Reformulation => "reformulation",
            Source::Spelling => "spelling",
            Source::Homophone => "homophone",
            Source::Pinyin => "pinyin",
        }
    }
}

/// A corrected query.
#[derive(Clone, Debug, PartialEq)]
pub struct Correction {
    /// The corrected query, normalised.
    pub corrected: String,
    pub level: Level,
    pub source: Source,
}

/// What the model was built from, as stored in the artifact.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Knowledge {
    /// Latin-script words users searched and clicked, and the words of item titles, with their weight.
    pub words: Vec<(String, f32)>,
    /// Queries enough users searched and clicked: never corrected, and preferred targets.
    pub targets: Vec<(String, f32)>,
    /// Chinese words of item titles and Chinese target queries, with their weight.
    pub chinese: Vec<(String, f32)>,
    /// Corrections users made themselves: (typed, corrected, distinct users).
    pub observed: Vec<(String, String, u32)>,
    /// The intervention dictionary: always rewritten, and never corrected.
    pub rewrites: Vec<(String, String)>,
    pub never: Vec<String>,
    pub max_edits: u8,
    pub min_reformulations: u32,
    pub pinyin: bool,
}

#[derive(Serialize, Deserialize)]
struct Body {
    knowledge: Knowledge,
    deletion_keys: Vec<u8>,
    deletion_runs: Vec<u32>,
}

/// A trained `correction` generation.
pub struct CorrectionModel {
    knowledge: Knowledge,
    word_ids: HashMap<String, u32>,
    deletions: DeletionIndex,
    targets: HashMap<String, f32>,
    /// Chinese words and every stretch of two or more of their characters: never replaced.
    chinese_known: HashSet<String>,
    by_exact: HashMap<String, Vec<u32>>,
    by_fuzzy: HashMap<String, Vec<u32>>,
    by_typed: HashMap<String, Vec<u32>>,
    observed: HashMap<String, (String, u32)>,
    rewrites: HashMap<String, String>,
    never: HashSet<String>,
}

impl std::fmt::Debug for CorrectionModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorrectionModel")
            .field("words", &self.knowledge.words.len())
            .field("targets", &self.targets.len())
            .field("chinese", &self.knowledge.chinese.len())
            .field("observed", &self.observed.len())
            .finish()
    }
}

/// One replacement inside a query.
struct Change {
    level: Level,
    source: Source,
}

/// The best of some weighted candidates and whether it dominates the rest.
fn best_of(mut scored: Vec<(f64, u32)>) -> Option<(u32, bool)> {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let (best, id) = *scored.first()?;
    let dominant = scored
        .get(1)
        .is_none_or(|(second, _)| best - second >= DOMINANCE.ln());
    Some((id, dominant))
}

/// A normalised query cut into its Latin-script words, Chinese runs and what lies between (kept as it is).
fn pieces(query: &str) -> Vec<(bool, String)> {
    let mut out: Vec<(bool, String)> = Vec::new();
    for c in query.chars() {
        let chinese = is_cjk(c);
        let separator = c == ' ';
        match out.last_mut() {
            Some((was_chinese, text))
                if !separator && *was_chinese == chinese && !text.ends_with(' ') =>
            {
                text.push(c)
            }
            _ => out.push((chinese, c.to_string())),
        }
    }
    out
}

impl CorrectionModel {
    /// The model of what training learned (the intervention dictionary included).
    pub fn build(knowledge: Knowledge) -> Result<Self, TrainError> {
        let words: Vec<String> = knowledge.words.iter().map(|(w, _)| w.clone()).collect();
        let deletions = DeletionIndex::build(&words, usize::from(knowledge.max_edits))?;
        Ok(Self::assemble(knowledge, deletions))
    }

    fn assemble(knowledge: Knowledge, deletions: DeletionIndex) -> Self {
        let word_ids = knowledge
            .words
            .iter()
            .enumerate()
            .map(|(id, (w, _))| (w.clone(), id as u32))
            .collect();
        let targets = knowledge.targets.iter().cloned().collect();
        let mut chinese_known = HashSet::new();
        let (mut by_exact, mut by_fuzzy, mut by_typed) =
            (HashMap::new(), HashMap::new(), HashMap::new());
        for (id, (text, _)) in knowledge.chinese.iter().enumerate() {
            let chars: Vec<char> = text.chars().collect();
            for start in 0..chars.len() {
                for end in start + 2..=chars.len().min(start + MAX_SPAN) {
                    chinese_known.insert(chars[start..end].iter().collect::<String>());
                }
            }
            if let Some(s) = syllables(text) {
                let id = id as u32;
                by_exact
                    .entry(exact_key(&s))
                    .or_insert_with(Vec::new)
                    .push(id);
                by_fuzzy
                    .entry(fuzzy_key(&s))
                    .or_insert_with(Vec::new)
                    .push(id);
                by_typed
                    .entry(typed_key(&s))
                    .or_insert_with(Vec::new)
                    .push(id);
            }
        }
        let mut observed: HashMap<String, (String, u32)> = HashMap::new();
        for (typed, corrected, users) in &knowledge.observed {
            let entry = observed
                .entry(typed.clone())
                .or_insert_with(|| (corrected.clone(), 0));
            if *users > entry.1 {
                *entry = (corrected.clone(), *users);
            }
        }
        CorrectionModel {
            word_ids,
            deletions,
            targets,
            chinese_known,
            by_exact,
            by_fuzzy,
            by_typed,
            observed,
            rewrites: knowledge.rewrites.iter().cloned().collect(),
            never: knowledge.never.iter().cloned().collect(),
            knowledge,
        }
    }

    /// Corrects one query as typed; `None` when it is right as far as the model knows.
    pub fn correct(&self, raw: &str) -> Option<Correction> {
        let query = normalise(raw);
        if !is_usable(&query) || self.never.contains(&query) {
            return None;
        }
        if let Some(right) = self.rewrites.get(&query) {
            return Some(Correction {
                corrected: right.clone(),
                level: Level::Rewrite,
                source: Source::Dictionary,
            });
        }
        // Never correct what enough users searched and clicked as it is.
        if self.targets.contains_key(&query) {
            return None;
        }
        let observed = self.observed.get(&query);
        if let Some((corrected, users)) = observed
            && *users >= self.knowledge.min_reformulations
        {
            return Some(Correction {
                corrected: corrected.clone(),
                level: Level::Rewrite,
                source: Source::Reformulation,
            });
        }
        let whole = self
            .knowledge
            .pinyin
            .then(|| self.whole_query_reading(&query))
            .flatten();
        match (whole.or_else(|| self.piece_by_piece(&query)), observed) {
            // A correction a few users made too is confident.
            (Some(mut found), Some((corrected, _))) if found.corrected == *corrected => {
                found.level = Level::Rewrite;
                Some(found)
            }
            (Some(found), _) => Some(found),
            // Fewer users than `min_reformulations`: a suggestion.
            (None, Some((corrected, _))) => Some(Correction {
                corrected: corrected.clone(),
                level: Level::Suggest,
                source: Source::Reformulation,
            }),
            (None, None) => None,
        }
    }

    /// Weight of a Chinese entry.
    fn chinese_weight(&self, id: u32) -> f64 {
        f64::from(self.knowledge.chinese[id as usize].1).max(1e-3)
    }

    /// The Chinese entry `ids` point to that is likeliest, and whether it dominates.
    fn best_chinese(&self, ids: &[u32], except: &str) -> Option<(u32, bool)> {
        best_of(
            ids.iter()
                .filter(|&&id| self.knowledge.chinese[id as usize].0 != except)
                .map(|&id| (self.chinese_weight(id).ln(), id))
                .collect(),
        )
    }

    /// A whole query read as a known Chinese query: a homophone of one, or one typed as pinyin.
    fn whole_query_reading(&self, query: &str) -> Option<Correction> {
        let found = match syllables(query) {
            Some(s) => self
                .by_exact
                .get(&exact_key(&s))
                .and_then(|ids| self.best_chinese(ids, query))
                .map(|best| (best, Source::Homophone)),
            // Latin letters only: pinyin typed for Chinese, unless the words are known as they are.
            None if query.split(' ').any(|w| {
                !self.word_ids.contains_key(w) && !w.chars().any(|c| c.is_ascii_digit())
            }) =>
            {
                typed_as_pinyin(query)
                    .and_then(|key| self.by_typed.get(&key))
                    .and_then(|ids| self.best_chinese(ids, query))
                    .map(|best| (best, Source::Pinyin))
            }
            None => None,
        };
        let ((id, dominant), source) = found?;
        let corrected = self.knowledge.chinese[id as usize].0.clone();
        let level = if dominant && self.targets.contains_key(&corrected) {
            Level::Rewrite
        } else {
            Level::Suggest
        };
        Some(Correction {
            corrected,
            level,
            source,
        })
    }

    /// Corrects each unknown Latin word and each Chinese stretch read like a known word.
    fn piece_by_piece(&self, query: &str) -> Option<Correction> {
        let mut changes: Vec<Change> = Vec::new();
        let mut out = String::with_capacity(query.len());
        for (chinese, piece) in pieces(query) {
            if chinese {
                out.push_str(&self.correct_chinese(&piece, &mut changes));
            } else {
                match self.correct_word(&piece) {
                    Some((word, change)) => {
                        out.push_str(&word);
                        changes.push(change);
                    }
                    None => out.push_str(&piece),
                }
            }
        }
        let corrected = normalise(&out);
        if corrected == query || changes.is_empty() {
            return None;
        }
        let level = changes
            .iter()
            .map(|c| c.level)
            .max()
            .unwrap_or(Level::Suggest);
        let source = changes
            .iter()
            .map(|c| c.source)
            .max()
            .unwrap_or(Source::Spelling);
        Some(Correction {
            corrected,
            level,
            source,
        })
    }

    /// A Latin-script word corrected: typed as pinyin for a Chinese word, or within a few edits of a known
    /// word. `None` for known words, words with digits, short words, and words nothing is near.
    fn correct_word(&self, word: &str) -> Option<(String, Change)> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() < MIN_WORD_CHARS
            || chars.len() > MAX_WORD_CHARS
            || word == " "
            || self.word_ids.contains_key(word)
            || chars
                .iter()
                .any(|c| c.is_numeric() || !c.is_alphabetic() && *c != '-')
        {
            return None;
        }
        if self.knowledge.pinyin
            && let Some((id, dominant)) = self
                .by_typed
                .get(word)
                .and_then(|ids| self.best_chinese(ids, word))
        {
            let level = if dominant {
                Level::Rewrite
            } else {
                Level::Suggest
            };
            return Some((
                self.knowledge.chinese[id as usize].0.clone(),
                Change {
                    level,
                    source: Source::Pinyin,
                },
            ));
        }
        let max_edits = usize::from(self.knowledge.max_edits);
        let limit = max_edits as f32;
        let mut scored: Vec<(f64, u32, f32)> = Vec::new();
        for id in self.deletions.candidates(&chars) {
            let (candidate, weight) = &self.knowledge.words[id as usize];
            let candidate: Vec<char> = candidate.chars().collect();
            let allowed =
                tolerance(candidate.len(), max_edits).min(tolerance(chars.len(), max_edits));
            if edits(&candidate, &chars) > allowed {
                continue;
            }
            if let Some(d) = weighted(&candidate, &chars, limit) {
                let score = f64::from(*weight).max(1e-3).ln() - f64::from(d) * CHANNEL.ln();
                scored.push((score, id, d));
            }
        }
        let distance_of: HashMap<u32, f32> = scored.iter().map(|(_, id, d)| (*id, *d)).collect();
        let (id, dominant) = best_of(scored.into_iter().map(|(s, id, _)| (s, id)).collect())?;
        let level = if dominant && distance_of[&id] <= REWRITE_DISTANCE {
            Level::Rewrite
        } else {
            Level::Suggest
        };
        Some((
            self.knowledge.words[id as usize].0.clone(),
            Change {
                level,
                source: Source::Spelling,
            },
        ))
    }

    /// A Chinese run with each stretch that is no known word but reads like one replaced by it (the longest
    /// first, left to right).
    fn correct_chinese(&self, run: &str, changes: &mut Vec<Change>) -> String {
        let chars: Vec<char> = run.chars().collect();
        if !self.knowledge.pinyin {
            return run.to_string();
        }
        let mut out = String::with_capacity(run.len());
        let mut i = 0;
        while i < chars.len() {
            let mut replaced = false;
            for end in (i + 2..=chars.len().min(i + MAX_SPAN)).rev() {
                let span: String = chars[i..end].iter().collect();
                if self.chinese_known.contains(&span) {
                    continue;
                }
                let Some(s) = syllables(&span) else { continue };
                let found = match self.by_exact.get(&exact_key(&s)) {
                    Some(ids) => self
                        .best_chinese(ids, &span)
                        .map(|(id, dominant)| (id, dominant, true)),
                    None => self
                        .by_fuzzy
                        .get(&fuzzy_key(&s))
                        .and_then(|ids| self.best_chinese(ids, &span))
                        .map(|(id, dominant)| (id, dominant, false)),
                };
                if let Some((id, dominant, exact)) = found {
                    out.push_str(&self.knowledge.chinese[id as usize].0);
                    changes.push(Change {
                        level: if dominant && exact {
                            Level::Rewrite
                        } else {
                            Level::Suggest
                        },
                        source: Source::Homophone,
                    });
                    i = end;
                    replaced = true;
                    break;
                }
            }
            if !replaced {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }

    /// Sizes for `ExtendInfo` and the load log.
    pub fn words(&self) -> usize {
        self.knowledge.words.len()
    }

    pub fn targets(&self) -> usize {
        self.targets.len()
    }

    pub fn chinese_entries(&self) -> usize {
        self.knowledge.chinese.len()
    }

    pub fn observed(&self) -> usize {
        self.observed.len()
    }

    pub fn deletion_keys(&self) -> usize {
        self.deletions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.knowledge.words.is_empty()
            && self.knowledge.chinese.is_empty()
            && self.rewrites.is_empty()
    }

    pub(super) fn encode(&self) -> Result<Vec<u8>, TrainError> {
        let (deletion_keys, deletion_runs, _) = self.deletions.parts();
        let body = Body {
            knowledge: self.knowledge.clone(),
            deletion_keys,
            deletion_runs,
        };
        crate::artifact::seal(MAGIC, FORMAT_V1, &body)
    }

    /// Reads an artifact; a foreign, truncated, newer or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not a correction model artifact"))?;
        let corrupt = |e: &dyn std::fmt::Display| {
            Error::internal(format_args!("corrupt correction model artifact: {e}"))
        };
        let body: Body = match body.split_first() {
            Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest).map_err(|e| corrupt(&e))?,
            Some((format, _)) => {
                return Err(Error::internal(format_args!(
                    "correction model artifact of unknown format {format}"
                )));
            }
            None => return Err(Error::internal("truncated correction model artifact")),
        };
        let deletions = DeletionIndex::from_parts(
            body.deletion_keys,
            body.deletion_runs,
            usize::from(body.knowledge.max_edits),
            body.knowledge.words.len(),
        )
        .map_err(|e| corrupt(&e))?;
        Ok(Self::assemble(body.knowledge, deletions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knowledge() -> Knowledge {
        let w = |s: &str, n: f32| (s.to_string(), n);
        Knowledge {
            words: vec![
                w("sneakers", 50.0),
                w("speakers", 5.0),
                w("black", 30.0),
                w("coat", 20.0),
                w("cost", 1.0),
                w("dress", 40.0),
                w("tee", 10.0),
                w("tea", 12.0),
            ],
            targets: vec![
                w("sneakers", 50.0),
                w("black dress", 10.0),
                w("连衣裙", 30.0),
                w("运动鞋", 25.0),
            ],
            chinese: vec![w("连衣裙", 30.0), w("运动鞋", 25.0), w("红色", 5.0)],
            observed: vec![("sneaers".into(), "sneakers".into(), 4)],
            rewrites: vec![("iphone15".into(), "iphone 15".into())],
            never: vec!["nikee".into()],
            max_edits: 2,
            min_reformulations: 2,
            pinyin: true,
        }
    }

    fn model() -> CorrectionModel {
        CorrectionModel::build(knowledge()).unwrap()
    }

    fn corrected(m: &CorrectionModel, q: &str) -> Option<(String, u8, &'static str)> {
        m.correct(q)
            .map(|c| (c.corrected, c.level.number(), c.source.as_str()))
    }

    #[test]
    fn latin_typos_are_corrected_and_known_words_never() {
        let m = model();
        assert_eq!(
            corrected(&m, "snaekers"),
            Some(("sneakers".into(), 1, "spelling"))
        );
        assert_eq!(
            corrected(&m, "Black Snaekers"),
            Some(("black sneakers".into(), 1, "spelling"))
        );
        // Two full edits: only a suggestion.
        assert_eq!(corrected(&m, "snxakxrs").map(|c| c.1), Some(2));
        for right in [
            "sneakers",
            "black dress",
            "tee",
            "tea",
            "cost",
            "dress 1234",
            "zzzzzzzzzz",
        ] {
            assert_eq!(corrected(&m, right), None, "{right}");
        }
    }

    #[test]
    fn chinese_homophones_and_pinyin() {
        let m = model();
        assert_eq!(
            corrected(&m, "连衣群"),
            Some(("连衣裙".into(), 1, "homophone"))
        );
        assert_eq!(
            corrected(&m, "红色连衣群"),
            Some(("红色连衣裙".into(), 1, "homophone"))
        );
        assert_eq!(
            corrected(&m, "lianyiqun"),
            Some(("连衣裙".into(), 1, "pinyin"))
        );
        assert_eq!(
            corrected(&m, "lian yi qun"),
            Some(("连衣裙".into(), 1, "pinyin"))
        );
        assert_eq!(corrected(&m, "连衣裙"), None);
        assert_eq!(corrected(&m, "红色连衣裙"), None);
    }

    #[test]
    fn observed_corrections_and_the_dictionary_come_first() {
        let m = model();
        assert_eq!(
            corrected(&m, "sneaers"),
            Some(("sneakers".into(), 1, "reformulation"))
        );
        assert_eq!(
            corrected(&m, "iphone15"),
            Some(("iphone 15".into(), 1, "dictionary"))
        );
        assert_eq!(corrected(&m, "nikee"), None);
    }

    #[test]
    fn the_artifact_round_trips_and_foreign_bytes_are_refused() {
        let m = model();
        let back = CorrectionModel::decode(&m.encode().unwrap()).unwrap();
        assert_eq!(corrected(&back, "snaekers"), corrected(&m, "snaekers"));
        assert_eq!(corrected(&back, "连衣群"), corrected(&m, "连衣群"));
        assert!(CorrectionModel::decode(b"ACSUG\x01").is_err());
        assert!(CorrectionModel::decode(b"ACCOR").is_err());
        assert!(CorrectionModel::decode(b"ACCOR\x09").is_err());
        let mut bytes = m.encode().unwrap();
        bytes.truncate(bytes.len() / 2);
        assert!(CorrectionModel::decode(&bytes).is_err());
    }
}
