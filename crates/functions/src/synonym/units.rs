//! The units synonyms are made of: the words of a normalised query, Chinese cut into the words of item titles,
//! and how two queries line up (what they share, what differs).
//!
//! Item titles are written with spaces between words even in Chinese shops more often than queries are (and
//! the normaliser joins Chinese words of a query), so the pieces of titles between spaces are the vocabulary
//! that cuts a Chinese query: at each place the longest title word that starts there, else one character.
//! Latin-script words are the pieces between spaces (and next to Chinese).

use std::collections::{HashMap, HashSet};

use crate::query::{is_cjk, normalise};

/// Longest title piece kept as a word, in characters (longer ones are run-together titles).
const MAX_UNIT_CHARS: usize = 12;
/// Titles sharing all but one word are compared in groups of at most this many (a common template of
/// thousands of titles says nothing more than fifty do).
const MAX_ALIGNED_GROUP: usize = 50;

/// The words of item titles.
#[derive(Default)]
pub struct Vocabulary {
    /// Words with Chinese characters: they cut Chinese queries.
    words: HashSet<String>,
    /// Latin-script words.
    latin: HashSet<String>,
}

impl Vocabulary {
    /// The pieces of a title between spaces, normalised one by one.
    pub fn title_units(title: &str) -> Vec<String> {
        title
            .split_whitespace()
            .map(normalise)
            .flat_map(|piece| {
                piece
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn add(&mut self, unit: &str) {
        let chars = unit.chars().count();
        if !(2..=MAX_UNIT_CHARS).contains(&chars) {
            return;
        }
        if unit.chars().any(is_cjk) {
            self.words.insert(unit.to_string());
        } else if unit.chars().all(char::is_alphabetic) && !self.latin.contains(unit) {
            self.latin.insert(unit.to_string());
        }
    }

    /// The Latin-script words of the titles.
    pub fn latin_words(&self) -> impl Iterator<Item = &String> {
        self.latin.iter()
    }

    pub fn len(&self) -> usize {
        self.words.len() + self.latin.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.latin.is_empty()
    }

    /// The units of a normalised query.
    pub fn units(&self, normal: &str) -> Vec<String> {
        let mut out = Vec::new();
        for piece in normal.split(' ').filter(|p| !p.is_empty()) {
            let chars: Vec<char> = piece.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                // A title word may start at a Chinese character or after one, and end before or at one.
                let starts = i == 0 || is_cjk(chars[i]) || is_cjk(chars[i - 1]);
                let mut matched = None;
                if starts {
                    for end in (i + 2..=chars.len().min(i + MAX_UNIT_CHARS)).rev() {
                        let ends =
                            end == chars.len() || is_cjk(chars[end]) || is_cjk(chars[end - 1]);
                        if !ends {
                            continue;
                        }
                        let candidate: String = chars[i..end].iter().collect();
                        if self.words.contains(&candidate) {
                            matched = Some((candidate, end));
                            break;
                        }
                    }
                }
                match matched {
                    Some((word, end)) => {
                        out.push(word);
                        i = end;
                    }
                    None if is_cjk(chars[i]) => {
                        out.push(chars[i].to_string());
                        i += 1;
                    }
                    None => {
                        let end = (i..chars.len())
                            .find(|&j| is_cjk(chars[j]))
                            .unwrap_or(chars.len());
                        out.push(chars[i..end].iter().collect());
                        i = end;
                    }
                }
            }
        }
        out
    }
}

/// Units joined back into a normalised text.
pub fn join(units: &[String]) -> String {
    normalise(&units.join(" "))
}

/// How two unit sequences line up: the units they share at the start and at the end, and what differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alignment {
    /// Shared units before and after the difference (the context).
    pub before: Vec<String>,
    pub after: Vec<String>,
    pub left: Vec<String>,
    pub right: Vec<String>,
}

impl Alignment {
    pub fn of(a: &[String], b: &[String]) -> Alignment {
        let before = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let after = a[before..]
            .iter()
            .rev()
            .zip(b[before..].iter().rev())
            .take_while(|(x, y)| x == y)
            .count();
        Alignment {
            before: a[..before].to_vec(),
            after: a[a.len() - after..].to_vec(),
            left: a[before..a.len() - after].to_vec(),
            right: b[before..b.len() - after].to_vec(),
        }
    }

    pub fn has_context(&self) -> bool {
        !self.before.is_empty() || !self.after.is_empty()
    }

    /// The context as a key: the shared units with a hole where the difference is.
    pub fn context_key(&self) -> String {
        format!("{}\u{1}{}", self.before.join(" "), self.after.join(" "))
    }
}

/// Pairs of words that take the same place in titles otherwise the same (`acme red 连衣裙 dress` and
/// `acme red 连身裙 dress`), with how many titles show each pair.
pub fn aligned_title_words(titles: &[Vec<String>]) -> HashMap<(String, String), u32> {
    let mut groups: HashMap<(usize, Vec<&str>), Vec<&str>> = HashMap::new();
    for units in titles {
        for (hole, word) in units.iter().enumerate() {
            let mut key: Vec<&str> = units.iter().map(String::as_str).collect();
            key[hole] = "\u{1}";
            groups.entry((hole, key)).or_default().push(word);
        }
    }
    let mut pairs: HashMap<(String, String), u32> = HashMap::new();
    for words in groups.values_mut() {
        words.sort_unstable();
        words.dedup();
        if words.len() < 2 || words.len() > MAX_ALIGNED_GROUP {
            continue;
        }
        for (i, a) in words.iter().enumerate() {
            for b in &words[i + 1..] {
                *pairs.entry((a.to_string(), b.to_string())).or_default() += 1;
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary(titles: &[&str]) -> Vocabulary {
        let mut v = Vocabulary::default();
        for t in titles {
            for u in Vocabulary::title_units(t) {
                v.add(&u);
            }
        }
        v
    }

    #[test]
    fn chinese_is_cut_into_title_words() {
        let v = vocabulary(&[
            "Acme 红色 连衣裙 dress",
            "Nova 纯棉 T恤 t-shirt",
            "北极星 新款 连身裙 frock",
        ]);
        assert_eq!(v.units("红色连衣裙"), ["红色", "连衣裙"]);
        assert_eq!(v.units("纯棉连身裙"), ["纯棉", "连身裙"]);
        assert_eq!(v.units("acme dress"), ["acme", "dress"]);
        assert_eq!(v.units("北极星dress"), ["北极星", "dress"]);
        assert_eq!(v.units("红色t恤"), ["红色", "t恤"]);
        assert_eq!(v.units("大码裙子"), ["大", "码", "裙", "子"]);
        assert_eq!(join(&v.units("红色 连衣裙")), "红色连衣裙");
    }

    #[test]
    fn alignments_share_a_context() {
        let s = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        let a = Alignment::of(&s(&["acme", "trainers"]), &s(&["acme", "sneakers"]));
        assert_eq!(
            (a.left.clone(), a.right.clone()),
            (s(&["trainers"]), s(&["sneakers"]))
        );
        assert!(a.has_context());
        let b = Alignment::of(&s(&["yoga", "mat"]), &s(&["exercise", "mat"]));
        assert_eq!(b.context_key(), "\u{1}mat");
        let c = Alignment::of(&s(&["dress"]), &s(&["black", "dress"]));
        assert!(c.left.is_empty() && c.right == s(&["black"]));
        let d = Alignment::of(&s(&["dress"]), &s(&["连衣裙"]));
        assert!(!d.has_context());
    }

    #[test]
    fn titles_aligned_on_one_word() {
        let titles: Vec<Vec<String>> = [
            "acme red 连衣裙 dress",
            "acme red 连身裙 dress",
            "acme red 连衣裙 frock",
            "nova blue 运动鞋 sneakers",
        ]
        .iter()
        .map(|t| Vocabulary::title_units(t))
        .collect();
        let pairs = aligned_title_words(&titles);
        assert_eq!(pairs[&("连衣裙".to_string(), "连身裙".to_string())], 1);
        assert_eq!(pairs[&("dress".to_string(), "frock".to_string())], 1);
        assert_eq!(pairs.len(), 2);
    }
}
