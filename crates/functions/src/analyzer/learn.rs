//! Learning the app's own words from its texts (item text fields and searches), without a dictionary:
//!
//! * **Cohesion**: a run of atoms (CJK characters, or words for names of several words) that occurs far more
//!   often than its parts would by chance. Cohesion is the pointwise mutual information (natural log) of its
//!   weakest split: `min over splits (a, b) of ln(P(ab) / (P(a) P(b)))`.
//! * **Boundary entropy**: a word is used in many contexts, so the atoms seen just before it and just after it
//!   vary; a fragment of a longer word always has the same neighbour. The smaller of the two entropies counts;
//!   the start or end of a text counts as a neighbour of its own each time.
//!
//! A run becomes a word when it occurs at least `min_count` times and passes both thresholds. CJK words that the
//! base analyzer already keeps whole are not learned again (they need nothing); names of several words are
//! learned only when asked (`learn_phrases`). Two passes keep memory small: all runs are counted by hash, then
//! neighbours are collected for the candidates only.

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_64;

use super::atoms::{Atom, join};
use super::model::{BaseAnalyzer, Word, WordSource};

/// Longest CJK word learned, in characters.
const MAX_CJK: usize = 6;
/// Longest name learned, in words.
const MAX_WORDS: usize = 3;
/// How much more often each part of a compound must occur than the compound for it to count as two words.
const COMPOUND_RATIO: f64 = 1.2;
/// Most words one run keeps (the best by score).
const MAX_LEARNED: usize = 200_000;

#[derive(Clone, Copy, Debug)]
pub struct LearnSettings {
    pub min_count: f64,
    pub min_cohesion: f64,
    pub min_boundary_entropy: f64,
    pub learn_phrases: bool,
}

impl LearnSettings {
    /// The catalogue's defaults (`min_count`, `min_cohesion`, `min_boundary_entropy`, `learn_phrases`): what
    /// `termweight` learns its words with.
    pub const DEFAULT: LearnSettings = LearnSettings {
        min_count: 5.0,
        min_cohesion: 2.5,
        min_boundary_entropy: 1.0,
        learn_phrases: true,
    };
}

/// The texts words are learned from: each text's segments (runs of one script with nothing breaking them),
/// atoms as interned ids, with the text's weight.
#[derive(Default)]
pub struct Corpus {
    keys: Vec<String>,
    ids: HashMap<String, u32>,
    /// (atom ids, CJK, weight, text number).
    segments: Vec<(Vec<u32>, bool, f64, u32)>,
    texts: u32,
}

impl Corpus {
    /// Adds a text's atoms with a weight (a search repeated n times weighs n).
    pub fn add(&mut self, atoms: &[Atom], weight: f64) {
        let text = self.texts;
        self.texts += 1;
        let mut i = 0;
        while i < atoms.len() {
            let cjk = atoms[i].cjk;
            let mut j = i + 1;
            // CJK runs break at any gap; names at punctuation (words are always separated by spaces).
            while j < atoms.len()
                && atoms[j].cjk == cjk
                && !(if cjk {
                    atoms[j].gap_before
                } else {
                    atoms[j].hard_break_before
                })
            {
                j += 1;
            }
            let ids: Vec<u32> = atoms[i..j].iter().map(|a| self.intern(&a.key)).collect();
            self.segments.push((ids, cjk, weight, text));
            i = j;
        }
    }

    fn intern(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(key.to_string());
        self.ids.insert(key.to_string(), id);
        id
    }

    pub fn texts(&self) -> u32 {
        self.texts
    }
}

fn hash(ids: &[u32]) -> u64 {
    let mut bytes = Vec::with_capacity(ids.len() * 4);
    for id in ids {
        bytes.extend_from_slice(&id.to_le_bytes());
    }
    xxh3_64(&bytes)
}

fn entropy(neighbours: &HashMap<u64, f64>) -> f64 {
    let total: f64 = neighbours.values().sum();
    if total <= 0.0 {
        return 0.0;
    }
    neighbours
        .values()
        .map(|&n| {
            let p = n / total;
            -p * p.ln()
        })
        .sum()
}

struct Candidate {
    count: f64,
    cohesion: f64,
    cjk: bool,
    ids: Vec<u32>,
    left: HashMap<u64, f64>,
    right: HashMap<u64, f64>,
}

/// The words learned from `corpus`, best first.
pub fn learn(corpus: &Corpus, base: BaseAnalyzer, settings: LearnSettings) -> Vec<Word> {
    let longest = |cjk: bool| if cjk { MAX_CJK } else { MAX_WORDS };
    // Pass 1: counts of every run up to the longest length, and the positions of each script.
    let mut counts: HashMap<u64, f64> = HashMap::new();
    let mut positions = [0.0f64; 2];
    for (ids, cjk, weight, _) in &corpus.segments {
        if !*cjk && !settings.learn_phrases {
            continue;
        }
        positions[usize::from(*cjk)] += weight * ids.len() as f64;
        for i in 0..ids.len() {
            for n in 1..=longest(*cjk).min(ids.len() - i) {
                *counts.entry(hash(&ids[i..i + n])).or_default() += weight;
            }
        }
    }
    let count = |ids: &[u32]| counts.get(&hash(ids)).copied().unwrap_or(0.0);
    let cohesion = |ids: &[u32], total: f64| {
        let whole = count(ids);
        (1..ids.len())
            .map(|k| (whole * total / (count(&ids[..k]) * count(&ids[k..])).max(1e-9)).ln())
            .fold(f64::INFINITY, f64::min)
    };
    // Pass 2: the candidates' neighbours.
    let mut candidates: HashMap<u64, Candidate> = HashMap::new();
    let mut rejected: HashMap<u64, ()> = HashMap::new();
    for (ids, cjk, weight, text) in &corpus.segments {
        if !*cjk && !settings.learn_phrases {
            continue;
        }
        let total = positions[usize::from(*cjk)];
        for i in 0..ids.len() {
            for n in 2..=longest(*cjk).min(ids.len() - i) {
                let run = &ids[i..i + n];
                let h = hash(run);
                if rejected.contains_key(&h) {
                    continue;
                }
                let candidate = match candidates.get_mut(&h) {
                    Some(c) => c,
                    None => {
                        let c = count(run);
                        let k = if c >= settings.min_count {
                            cohesion(run, total)
                        } else {
                            0.0
                        };
                        if c < settings.min_count || k < settings.min_cohesion {
                            rejected.insert(h, ());
                            continue;
                        }
                        candidates.entry(h).or_insert(Candidate {
                            count: c,
                            cohesion: k,
                            cjk: *cjk,
                            ids: run.to_vec(),
                            left: HashMap::new(),
                            right: HashMap::new(),
                        })
                    }
                };
                // The edge of a text is a neighbour of its own each time.
                let edge = |text: u32| (1u64 << 40) | u64::from(text);
                let left = if i == 0 {
                    edge(*text)
                } else {
                    u64::from(ids[i - 1])
                };
                let right = ids.get(i + n).map_or(edge(*text), |&id| u64::from(id));
                *candidate.left.entry(left).or_default() += weight;
                *candidate.right.entry(right).or_default() += weight;
            }
        }
    }
    // Candidates with varied neighbours on both sides.
    let accepted: HashMap<u64, f64> = candidates
        .iter()
        .filter_map(|(&h, c)| {
            let boundary = entropy(&c.left).min(entropy(&c.right));
            (boundary >= settings.min_boundary_entropy).then_some((h, boundary))
        })
        .collect();
    // Two words seen together often are still two words: a run that splits into two parts that are words (a
    // Latin word, or an accepted run) each used clearly more often on its own is dropped (`nova cloud runner`
    // when `cloud runner` is searched without the brand; `飞织鞋特价`).
    let compound = |c: &Candidate| {
        let is_word =
            |part: &[u32]| (part.len() == 1 && !c.cjk) || accepted.contains_key(&hash(part));
        (1..c.ids.len()).any(|k| {
            let (a, b) = (&c.ids[..k], &c.ids[k..]);
            is_word(a)
                && is_word(b)
                && count(a) > COMPOUND_RATIO * c.count
                && count(b) > COMPOUND_RATIO * c.count
        })
    };
    let atom = |id: u32, cjk: bool| Atom {
        key: corpus.keys[id as usize].clone(),
        start: 0,
        end: 0,
        cjk,
        hard_break_before: false,
        gap_before: false,
    };
    let mut words: Vec<Word> = candidates
        .into_iter()
        .filter_map(|(h, c)| {
            let &boundary = accepted.get(&h)?;
            if compound(&c) {
                return None;
            }
            let atoms: Vec<Atom> = c.ids.iter().map(|&id| atom(id, c.cjk)).collect();
            let text = join(&atoms);
            // Digits are model numbers and years, not words; CJK words the dictionary knows need nothing.
            if text.chars().all(|ch| ch.is_ascii_digit() || ch == ' ')
                || (c.cjk && base.keeps_whole(&text))
            {
                return None;
            }
            Some(Word {
                text,
                source: WordSource::Learned,
                entity: None,
                score: (c.cohesion * boundary).sqrt() as f32,
                count: c.count.round().min(f64::from(u32::MAX)) as u32,
            })
        })
        .collect();
    words.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.text.cmp(&b.text)));
    words.truncate(MAX_LEARNED);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LearnSettings {
        LearnSettings {
            min_count: 3.0,
            min_cohesion: 1.0,
            min_boundary_entropy: 0.5,
            learn_phrases: true,
        }
    }

    #[test]
    fn a_coined_word_in_varied_contexts_is_learned_and_its_fragments_are_not() {
        let base = BaseAnalyzer::ChineseGeneral;
        let mut corpus = Corpus::default();
        let contexts = [
            "红色", "新款", "男士", "女士", "夏季", "大码", "轻薄", "纯棉",
        ];
        for (i, before) in contexts.iter().enumerate() {
            let after = contexts[(i + 3) % contexts.len()];
            corpus.add(&base.atoms(&format!("{before}云朵鞋{after}")), 1.0);
            corpus.add(
                &base.atoms(&format!("{before}外套 nova pulse {after}")),
                1.0,
            );
            corpus.add(
                &base.atoms(&format!(
                    "acme {} boots",
                    ["red", "big", "old", "new"][i % 4]
                )),
                1.0,
            );
            corpus.add(&base.atoms("black coat with long sleeves and a hood"), 1.0);
        }
        let words = learn(&corpus, base, settings());
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert!(texts.contains(&"云朵鞋"), "{texts:?}");
        assert!(texts.contains(&"nova pulse"), "{texts:?}");

        // Two words each used far more often apart are not one name.
        for i in 0..40 {
            corpus.add(&base.atoms(&format!("nova boots {i}")), 1.0);
            corpus.add(&base.atoms(&format!("pulse {i} watch")), 1.0);
        }
        let words = learn(&corpus, base, settings());
        assert!(!words.iter().any(|w| w.text == "nova pulse"));
        assert!(!texts.contains(&"云朵"), "a fragment: {texts:?}");
        assert!(!texts.contains(&"外套"), "jieba knows it: {texts:?}");
    }
}
