//! A text as the analyzer reads it: folded (Unicode NFKC, lower case) and cut into *atoms* — the words of
//! scripts written with spaces and the single characters of CJK runs — each remembering where it came from in the
//! original text, so that every token can answer offsets into what the caller sent.
//!
//! Atoms are what both learning and segmentation work on: a learned word or an entity is a run of atoms
//! (`北极星` = three characters, `air max` = two words), matched by its key, the atoms' texts joined as the
//! query normaliser joins them (a space between two words, none next to a CJK character).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::query::is_cjk;

/// One atom: a word or a CJK character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Atom {
    /// Folded text (for the `english` analyzer, the stemmed word).
    pub key: String,
    /// Character offsets in the original text, `[start, end)`.
    pub start: usize,
    pub end: usize,
    pub cjk: bool,
    /// Punctuation (not only spaces) separates it from the atom before: names never span it.
    pub hard_break_before: bool,
    /// Any separator (space or punctuation) lies between it and the atom before.
    pub gap_before: bool,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The atoms of a text; `stem` maps each folded non-CJK word to its key (identity but for `english`).
pub fn atoms(text: &str, stem: &dyn Fn(&str) -> String) -> Vec<Atom> {
    // Folded characters with the original character index each came from.
    let mut folded: Vec<(char, usize)> = Vec::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        let mut buffer = [0u8; 4];
        for f in c
            .encode_utf8(&mut buffer)
            .nfkc()
            .flat_map(char::to_lowercase)
        {
            folded.push((f, i));
        }
    }
    let mut out: Vec<Atom> = Vec::new();
    let mut word = String::new();
    let mut word_start = 0usize;
    let mut word_end = 0usize;
    let mut hard = false;
    let mut gap = false;
    let flush =
        |word: &mut String, start, end, hard: &mut bool, gap: &mut bool, out: &mut Vec<Atom>| {
            if word.is_empty() {
                return;
            }
            out.push(Atom {
                key: stem(word),
                start,
                end,
                cjk: false,
                hard_break_before: *hard,
                gap_before: *gap,
            });
            word.clear();
            *hard = false;
            *gap = false;
        };
    for (k, &(c, origin)) in folded.iter().enumerate() {
        if is_cjk(c) {
            flush(
                &mut word, word_start, word_end, &mut hard, &mut gap, &mut out,
            );
            out.push(Atom {
                key: c.to_string(),
                start: origin,
                end: origin + 1,
                cjk: true,
                hard_break_before: hard,
                gap_before: gap,
            });
            hard = false;
            gap = false;
            continue;
        }
        let joiner = matches!(c, '-' | '.' | '\'' | '&')
            && !word.is_empty()
            && folded
                .get(k + 1)
                .is_some_and(|&(n, _)| is_word_char(n) && !is_cjk(n));
        if is_word_char(c) || joiner || (matches!(c, '+' | '#') && !word.is_empty()) {
            if word.is_empty() {
                word_start = origin;
            }
            word.push(c);
            word_end = origin + 1;
        } else {
            flush(
                &mut word, word_start, word_end, &mut hard, &mut gap, &mut out,
            );
            gap = true;
            if !c.is_whitespace() {
                hard = true;
            }
        }
    }
    flush(
        &mut word, word_start, word_end, &mut hard, &mut gap, &mut out,
    );
    out
}

/// The key of a run of atoms: words joined by a space, nothing next to a CJK character.
pub fn join(atoms: &[Atom]) -> String {
    let mut out = String::new();
    for (i, a) in atoms.iter().enumerate() {
        if i > 0 && !a.cjk && !atoms[i - 1].cjk {
            out.push(' ');
        }
        out.push_str(&a.key);
    }
    out
}

/// Whether a run of atoms may form one name: no punctuation inside it.
pub fn joinable(atoms: &[Atom]) -> bool {
    atoms.iter().skip(1).all(|a| !a.hard_break_before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        atoms(text, &|w| w.to_string())
            .into_iter()
            .map(|a| a.key)
            .collect()
    }

    #[test]
    fn words_and_cjk_characters_with_original_offsets() {
        let a = atoms("Nike 运动鞋, T-Shirt", &|w| w.to_string());
        let seen: Vec<(&str, usize, usize)> =
            a.iter().map(|a| (a.key.as_str(), a.start, a.end)).collect();
        assert_eq!(
            seen,
            [
                ("nike", 0, 4),
                ("运", 5, 6),
                ("动", 6, 7),
                ("鞋", 7, 8),
                ("t-shirt", 10, 17)
            ]
        );
        assert!(a[1].gap_before && !a[1].hard_break_before);
        assert!(a[4].hard_break_before);
        assert_eq!(join(&a[..4]), "nike运动鞋");
        assert!(!joinable(&a[3..]));
    }

    #[test]
    fn full_width_and_case_fold_keeping_offsets() {
        assert_eq!(keys("ＡＩＲ　Ｍａｘ"), ["air", "max"]);
        let a = atoms("ＡＩＲ　Ｍａｘ", &|w| w.to_string());
        assert_eq!((a[1].start, a[1].end), (4, 7));
        assert_eq!(keys("c++ 3.5mm men's"), ["c++", "3.5mm", "men's"]);
        assert!(keys("  ... ").is_empty());
    }
}
