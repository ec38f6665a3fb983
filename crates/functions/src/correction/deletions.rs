//! Candidate corrections within a few edits, found without comparing a typed word with every word: a
//! symmetric-deletion index (as SymSpell does). Every word is filed under each string its deletion of up to `d`
//! characters gives; a typed word's own deletions are looked up, and two strings within `d` insertions,
//! deletions, substitutions or swaps of neighbours always share one (a swap `ab` → `ba` deletes to the same
//! string on both sides). Candidates are then checked with the real distance ([`super::distance`]).
//!
//! The index is an FST from each deletion string to the words filed under it (one word inline, several as a
//! run in a side table), built once per generation and stored in the artifact as bytes.

use fst::{Map, MapBuilder, Streamer};

use crate::TrainError;

/// Words longer than this (in characters) are neither indexed nor corrected.
pub const MAX_WORD_CHARS: usize = 24;
/// A value with this bit set points into `runs`.
const RUN: u64 = 1 << 63;

/// Edits tolerated in a word of `chars` characters: one up to four characters, else `max`.
pub fn tolerance(chars: usize, max: usize) -> usize {
    if chars <= 4 { max.min(1) } else { max }
}

/// Every distinct string `word` gives when up to `d` of its characters are deleted, itself included.
pub fn deletions(word: &[char], d: usize) -> Vec<String> {
    let mut out: Vec<Vec<char>> = vec![word.to_vec()];
    let mut frontier: Vec<Vec<char>> = vec![word.to_vec()];
    for _ in 0..d {
        let mut next = Vec::new();
        for w in &frontier {
            for i in 0..w.len() {
                let mut shorter = w.clone();
                shorter.remove(i);
                next.push(shorter);
            }
        }
        next.sort();
        next.dedup();
        out.extend(next.iter().cloned());
        frontier = next;
    }
    let mut out: Vec<String> = out.into_iter().map(|w| w.into_iter().collect()).collect();
    out.sort();
    out.dedup();
    out
}

/// The deletion index of a vocabulary (words numbered by their position).
pub struct DeletionIndex {
    keys: Map<Vec<u8>>,
    runs: Vec<u32>,
    max_edits: usize,
}

fn build_error(e: fst::Error) -> TrainError {
    TrainError::Failed(format!("building the spelling index: {e}"))
}

fn run(runs: &[u32], at: usize) -> &[u32] {
    let n = runs.get(at).copied().unwrap_or(0) as usize;
    let start = at.saturating_add(1);
    runs.get(start..start.saturating_add(n)).unwrap_or(&[])
}

impl DeletionIndex {
    /// Indexes `words` for corrections of up to `max_edits` edits.
    pub fn build(words: &[String], max_edits: usize) -> Result<Self, TrainError> {
        let mut pairs: Vec<(String, u32)> = Vec::new();
        for (id, word) in words.iter().enumerate() {
            let chars: Vec<char> = word.chars().collect();
            if chars.is_empty() || chars.len() > MAX_WORD_CHARS {
                continue;
            }
            for deleted in deletions(&chars, tolerance(chars.len(), max_edits)) {
                pairs.push((deleted, id as u32));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut runs = Vec::new();
        let mut builder = MapBuilder::memory();
        let mut i = 0;
        while i < pairs.len() {
            let key = &pairs[i].0;
            let end = i + pairs[i..].iter().take_while(|(k, _)| k == key).count();
            let value = if end - i == 1 {
                u64::from(pairs[i].1)
            } else {
                let at = runs.len() as u64;
                runs.push((end - i) as u32);
                runs.extend(pairs[i..end].iter().map(|(_, id)| *id));
                RUN | at
            };
            builder.insert(key, value).map_err(build_error)?;
            i = end;
        }
        let keys = Map::new(builder.into_inner().map_err(build_error)?).map_err(build_error)?;
        Ok(DeletionIndex {
            keys,
            runs,
            max_edits,
        })
    }

    /// Words that may be within the tolerated edits of `typed`, each once (not yet checked).
    pub fn candidates(&self, typed: &[char]) -> Vec<u32> {
        if typed.is_empty() || typed.len() > MAX_WORD_CHARS + self.max_edits {
            return Vec::new();
        }
        let mut out = Vec::new();
        for deleted in deletions(typed, tolerance(typed.len(), self.max_edits)) {
            match self.keys.get(&deleted) {
                Some(v) if v & RUN != 0 => {
                    out.extend_from_slice(run(&self.runs, (v & !RUN) as usize))
                }
                Some(v) => out.push(v as u32),
                None => {}
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The index as bytes for the artifact: (FST, runs, edits).
    pub fn parts(&self) -> (Vec<u8>, Vec<u32>, usize) {
        (
            self.keys.as_fst().as_bytes().to_vec(),
            self.runs.clone(),
            self.max_edits,
        )
    }

    /// The index from [`DeletionIndex::parts`]; refused when an entry names a word beyond `words`.
    pub fn from_parts(
        keys: Vec<u8>,
        runs: Vec<u32>,
        max_edits: usize,
        words: usize,
    ) -> Result<Self, String> {
        let keys = Map::new(keys).map_err(|e| e.to_string())?;
        let mut entries = keys.stream();
        while let Some((_, v)) = entries.next() {
            let ids: &[u32] = if v & RUN != 0 {
                run(&runs, (v & !RUN) as usize)
            } else {
                &[]
            };
            let inline_bad = v & RUN == 0 && v >= words as u64;
            let run_bad =
                v & RUN != 0 && (ids.is_empty() || ids.iter().any(|&id| id as usize >= words));
            if inline_bad || run_bad {
                return Err("an entry points outside the vocabulary".into());
            }
        }
        Ok(DeletionIndex {
            keys,
            runs,
            max_edits: max_edits.clamp(1, 2),
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::distance::edits;
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn deletions_of_a_word() {
        assert_eq!(deletions(&chars("abc"), 1), ["ab", "abc", "ac", "bc"]);
        assert_eq!(deletions(&chars("aab"), 1), ["aa", "aab", "ab"]);
        assert_eq!(deletions(&chars("ab"), 2), ["", "a", "ab", "b"]);
    }

    #[test]
    fn finds_every_word_within_the_tolerated_edits() {
        // A small linear congruential generator: deterministic, no dependency.
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let alphabet = ['a', 'b', 'c', 'd', '连'];
        let words: Vec<String> = (0..400)
            .map(|_| {
                (0..next(8) + 1)
                    .map(|_| alphabet[next(5) as usize])
                    .collect()
            })
            .collect();
        let index = DeletionIndex::build(&words, 2).unwrap();
        for _ in 0..300 {
            let typed: Vec<char> = (0..next(9) + 1)
                .map(|_| alphabet[next(5) as usize])
                .collect();
            let found = index.candidates(&typed);
            for (id, word) in words.iter().enumerate() {
                let word = chars(word);
                let allowed = tolerance(word.len(), 2).min(tolerance(typed.len(), 2));
                if edits(&word, &typed) <= allowed {
                    assert!(
                        found.contains(&(id as u32)),
                        "{word:?} within {allowed} of {typed:?} not found"
                    );
                }
            }
        }
    }

    #[test]
    fn parts_round_trip_and_foreign_parts_are_refused() {
        let words: Vec<String> = ["sneakers", "dress", "coat"].map(String::from).to_vec();
        let index = DeletionIndex::build(&words, 2).unwrap();
        let (keys, runs, edits) = index.parts();
        let back = DeletionIndex::from_parts(keys.clone(), runs, edits, 3).unwrap();
        assert_eq!(back.candidates(&chars("snekaers")), [0]);
        assert_eq!(back.candidates(&chars("coats")), [2]);
        assert!(DeletionIndex::from_parts(keys, Vec::new(), 2, 1).is_err());
        assert!(DeletionIndex::from_parts(b"junk".to_vec(), Vec::new(), 2, 3).is_err());
    }
}
