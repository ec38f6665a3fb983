//! Queries as the query functions (`hot`, `hint`, `suggest`, `category`) see them: one normal form for the many
//! ways users type the same query ([`normalise`]), the terms a text model reads ([`terms`]), pinyin keys for
//! completion ([`pinyin_keys`]), and the query log of a window ([`log::QueryLog`]).
//!
//! The normaliser, in order:
//! 1. Unicode NFKC: full-width letters, digits and punctuation become their ASCII forms (`ＮＩＫＥ　１` →
//!    `NIKE 1`), compatibility characters their plain forms.
//! 2. Lower case (Unicode).
//! 3. Punctuation and symbols become spaces, except `-` `.` `'` `&` between two letters or digits (`t-shirt`,
//!    `3.5`, `men's`) and `+` `#` after one (`c++`, `c#`).
//! 4. Runs of whitespace become one space; leading and trailing spaces go.
//! 5. Spaces next to a CJK character go (`连衣 裙` and `nike 运动鞋` become `连衣裙` and `nike运动鞋`): Chinese is
//!    written without spaces, so a space there is noise.
//!
//! Serving applies the same function to what a request sends, so a model trained on one spelling answers all.

pub mod bots;
pub mod live;
pub mod log;

use pinyin::ToPinyin;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest normalised query (in characters) the query functions keep: longer ones are pasted text, not queries.
pub const MAX_QUERY_CHARS: usize = 64;

/// Han ideographs, kana and hangul: scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF // hiragana, katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xAC00..=0xD7AF // hangul syllables
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0x20000..=0x3134F) // extensions B–G
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The normal form of a query (see the module documentation). Empty when nothing but punctuation was sent.
pub fn normalise(raw: &str) -> String {
    let chars: Vec<char> = raw.nfkc().flat_map(char::to_lowercase).collect();
    let mut kept: Vec<char> = Vec::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let previous = kept.last().copied();
        let next = chars.get(i + 1).copied();
        let keep = if is_word_char(c) {
            true
        } else if matches!(c, '-' | '.' | '\'' | '&') {
            previous.is_some_and(is_word_char) && next.is_some_and(is_word_char)
        } else if matches!(c, '+' | '#') {
            previous.is_some_and(|p| is_word_char(p) || p == '+')
        } else {
            false
        };
        kept.push(if keep { c } else { ' ' });
    }
    let mut out = String::with_capacity(raw.len());
    for word in kept.split(|c| c.is_whitespace()).filter(|w| !w.is_empty()) {
        let joins_cjk = out.chars().next_back().is_some_and(is_cjk) || is_cjk(word[0]);
        if !out.is_empty() && !joins_cjk {
            out.push(' ');
        }
        out.extend(word.iter());
    }
    out
}

/// Whether a normalised query is one the query functions keep.
pub fn is_usable(normalised: &str) -> bool {
    !normalised.is_empty() && normalised.chars().count() <= MAX_QUERY_CHARS
}

/// The terms of a normalised text for a text model: words of non-CJK scripts (and the parts of a hyphenated or
/// dotted word), and the characters and character pairs of CJK runs. Character n-grams stand in for a Chinese
/// word segmenter: they need no dictionary and match a query to titles that share its words.
pub fn terms(normalised: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cjk_run: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        if word.is_empty() {
            return;
        }
        if word.contains(['-', '.', '\'', '&']) {
            out.extend(
                word.split(['-', '.', '\'', '&'])
                    .filter(|p| !p.is_empty())
                    .map(str::to_string),
            );
        }
        out.push(std::mem::take(word));
    };
    let flush_cjk = |run: &mut Vec<char>, out: &mut Vec<String>| {
        for (i, c) in run.iter().enumerate() {
            out.push(c.to_string());
            if let Some(next) = run.get(i + 1) {
                out.push([*c, *next].iter().collect());
            }
        }
        run.clear();
    };
    for c in normalised.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            cjk_run.push(c);
        } else {
            flush_cjk(&mut cjk_run, &mut out);
            if c == ' ' {
                flush_word(&mut word, &mut out);
            } else {
                word.push(c);
            }
        }
    }
    flush_word(&mut word, &mut out);
    flush_cjk(&mut cjk_run, &mut out);
    out
}

/// Completion keys of a normalised query that contains Chinese: its full pinyin (`连衣裙` → `lianyiqun`) and its
/// pinyin initials (`lyq`), other characters kept as they are. `None` when the query has no Chinese character
/// or one without a known reading (the first reading of a character with several is used).
pub fn pinyin_keys(normalised: &str) -> Option<(String, String)> {
    let mut full = String::new();
    let mut initials = String::new();
    let mut any = false;
    for c in normalised.chars() {
        if is_cjk(c) {
            let reading = c.to_pinyin()?;
            any = true;
            full.push_str(reading.plain());
            initials.push_str(reading.first_letter());
        } else if c != ' ' {
            full.push(c);
            initials.push(c);
        }
    }
    any.then_some((full, initials))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_width_and_spacing_collapse_to_one_form() {
        for raw in [
            "Nike Shoes",
            "  nike   SHOES ",
            "ＮＩＫＥ　ｓｈｏｅｓ",
            "nike, shoes!",
            "nike\tshoes",
        ] {
            assert_eq!(normalise(raw), "nike shoes", "{raw:?}");
        }
    }

    #[test]
    fn chinese_loses_spaces_and_punctuation() {
        assert_eq!(normalise("连衣 裙"), "连衣裙");
        assert_eq!(normalise("【连衣裙】"), "连衣裙");
        assert_eq!(normalise("连衣裙，夏季"), "连衣裙夏季");
        assert_eq!(normalise("Nike 运动鞋"), "nike运动鞋");
        assert_eq!(normalise("iPhone 15 手机壳"), "iphone 15手机壳");
    }

    #[test]
    fn joiners_inside_words_stay() {
        assert_eq!(normalise("T-Shirt"), "t-shirt");
        assert_eq!(normalise("- t-shirt -"), "t-shirt");
        assert_eq!(normalise("3.5 mm"), "3.5 mm");
        assert_eq!(normalise("men's"), "men's");
        assert_eq!(normalise("C++ book"), "c++ book");
        assert_eq!(normalise("C# and F#"), "c# and f#");
        assert_eq!(normalise("+++"), "");
        assert_eq!(normalise("..."), "");
    }

    #[test]
    fn usable_queries_are_short_and_not_empty() {
        assert!(is_usable("dress"));
        assert!(!is_usable(""));
        assert!(!is_usable(&"x".repeat(MAX_QUERY_CHARS + 1)));
        assert!(is_usable(&"连".repeat(MAX_QUERY_CHARS)));
    }

    #[test]
    fn terms_are_words_and_cjk_character_pairs() {
        assert_eq!(
            terms("nike运动鞋"),
            ["nike", "运", "运动", "动", "动鞋", "鞋"]
        );
        assert_eq!(terms("red t-shirt"), ["red", "t", "shirt", "t-shirt"]);
        assert!(terms("").is_empty());
    }

    #[test]
    fn pinyin_keys_of_chinese_queries() {
        assert_eq!(
            pinyin_keys("连衣裙"),
            Some(("lianyiqun".to_string(), "lyq".to_string()))
        );
        assert_eq!(
            pinyin_keys("nike运动鞋"),
            Some(("nikeyundongxie".to_string(), "nikeydx".to_string()))
        );
        assert_eq!(pinyin_keys("dress"), None);
    }
}
