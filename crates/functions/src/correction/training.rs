//! What a `correction` generation learns from a window of the query log and the item titles: the known words,
//! the target queries, the Chinese words by reading, and the corrections users made themselves.

use std::collections::{HashMap, HashSet};

use super::distance::edits;
use super::model::Knowledge;
use super::reading::{exact_key, fuzzy_key, syllables, typed_as_pinyin, typed_key};
use crate::TrainError;
use crate::held_out::Window;
use crate::query::log::{LogFilter, QueryLog};
use crate::query::{is_cjk, is_usable, normalise};

/// Weight of one occurrence of a word in an item title, against one clicked search.
const TITLE_WEIGHT: f32 = 0.2;
/// Longest Chinese title word kept, in characters (longer runs are whole titles without spaces).
const MAX_CHINESE_WORD: usize = 12;

#[derive(Clone, Copy, Debug)]
pub(super) struct Settings {
    pub filter: LogFilter,
    pub min_target_users: u32,
    pub max_edits: u8,
    pub session_ms: i64,
    pub min_reformulations: u32,
    pub pinyin: bool,
}

/// The words of the item titles, counted.
#[derive(Default)]
pub(super) struct TitleWords {
    pub latin: HashMap<String, u32>,
    pub chinese: HashMap<String, u32>,
}

impl TitleWords {
    /// Adds the words of one title: split at spaces (before normalising, which joins Chinese words).
    pub(super) fn add(&mut self, title: &str) {
        for piece in title.split_whitespace() {
            let normal = normalise(piece);
            for word in normal.split(' ').filter(|w| !w.is_empty()) {
                let chinese = word.chars().filter(|&c| is_cjk(c)).count();
                if chinese == 0 {
                    *self.latin.entry(word.to_string()).or_default() += 1;
                } else if chinese == word.chars().count() && chinese <= MAX_CHINESE_WORD {
                    *self.chinese.entry(word.to_string()).or_default() += 1;
                }
            }
        }
    }
}

/// The intervention dictionary: what is always rewritten, and what is never corrected.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Dictionary {
    pub rewrites: Vec<(String, String)>,
    pub never: Vec<String>,
}

/// Parses `wrong<TAB>right` and `never<TAB>query` lines; a malformed line fails the run naming it.
pub(super) fn parse_dictionary(content: Option<&str>) -> Result<Dictionary, TrainError> {
    let (mut rewrites, mut never) = (Vec::new(), Vec::new());
    for (n, line) in content.unwrap_or("").lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let bad = || {
            TrainError::Failed(format!(
                "intervention_dict line {}: expected 'wrong<TAB>right' or 'never<TAB>query', got '{line}'",
                n + 1
            ))
        };
        let [first, second] = fields.as_slice() else {
            return Err(bad());
        };
        let second = normalise(second);
        if !is_usable(&second) {
            return Err(bad());
        }
        if first.trim().eq_ignore_ascii_case("never") {
            never.push(second);
        } else {
            let wrong = normalise(first);
            if !is_usable(&wrong) || wrong == second {
                return Err(bad());
            }
            rewrites.push((wrong, second));
        }
    }
    Ok(Dictionary { rewrites, never })
}

/// Whether `right` is a spelling correction of `typed` at all: Latin-script text a few edits apart with the
/// same numbers (`iphone 13` → `iphone 14` is another query, not a correction), Chinese read alike, or `typed`
/// is its pinyin. A Chinese character replaced by one read differently is another word.
pub(super) fn related(typed: &str, right: &str, max_edits: usize) -> bool {
    let a: Vec<char> = typed.chars().collect();
    let b: Vec<char> = right.chars().collect();
    let digits = |s: &[char]| {
        s.iter()
            .filter(|c| c.is_numeric())
            .copied()
            .collect::<String>()
    };
    let chinese = a.iter().chain(&b).any(|&c| is_cjk(c));
    if !chinese && a.len() >= 4 && digits(&a) == digits(&b) && edits(&a, &b) <= max_edits {
        return true;
    }
    let Some(right_reading) = syllables(right) else {
        return false;
    };
    match syllables(typed) {
        Some(typed_reading) => fuzzy_key(&typed_reading) == fuzzy_key(&right_reading),
        None => typed_as_pinyin(typed).is_some_and(|key| key == typed_key(&right_reading)),
    }
}

/// Whether two texts are one spelling apart: Latin-script words one edit apart (4+ characters, the same
/// numbers), Chinese read alike or nearly, or one the pinyin of the other. What users retype that way is a
/// correction, not another word for the same thing.
pub(crate) fn same_spelling(a: &str, b: &str) -> bool {
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let chinese = x.iter().chain(&y).any(|&c| is_cjk(c));
    if !chinese {
        return x.len().min(y.len()) >= 4 && related(a, b, 1);
    }
    // Pinyin of a short word too (`txu` for `t恤`).
    let typed = |latin: &str, chinese: &str| {
        !latin.chars().any(is_cjk)
            && syllables(chinese).is_some_and(|s| latin.replace(' ', "") == typed_key(&s))
    };
    related(a, b, 1) || related(b, a, 1) || typed(a, b) || typed(b, a)
}

/// Searches of the window in each user's order, as (search, identity, time): for spotting reformulations.
fn by_user(log: &QueryLog, kept: &[u32]) -> Vec<u32> {
    let mut order: Vec<u32> = kept
        .iter()
        .copied()
        .filter(|&s| log.searches[s as usize].identity != 0)
        .collect();
    order.sort_by_key(|&s| {
        let s = &log.searches[s as usize];
        (s.identity, s.at_ms)
    });
    order
}

/// Each pair of searches (abandoned, clicked) in which a user corrected what they typed: a search without a
/// click followed within the session by a related one with a click, of the same user.
pub(super) fn corrections_made(
    log: &QueryLog,
    kept: &[u32],
    clicks_before_ms: i64,
    settings: &Settings,
) -> Vec<(u32, u32)> {
    let order = by_user(log, kept);
    let clicked = |s: u32| log.clicks_of(s, clicks_before_ms).next().is_some();
    let mut out = Vec::new();
    for pair in order.windows(2) {
        let (first, second) = (pair[0], pair[1]);
        let (a, b) = (
            &log.searches[first as usize],
            &log.searches[second as usize],
        );
        if a.identity != b.identity
            || a.query == b.query
            || b.at_ms - a.at_ms > settings.session_ms
            || clicked(first)
            || !clicked(second)
        {
            continue;
        }
        if related(
            log.query(a.query),
            log.query(b.query),
            usize::from(settings.max_edits),
        ) {
            out.push((first, second));
        }
    }
    out
}

/// What the model of `window` knows (the dictionary added by the caller).
pub(super) fn learn(
    log: &QueryLog,
    titles: &TitleWords,
    settings: &Settings,
    window: Window,
) -> Knowledge {
    let (kept, _) = log.kept(window.from_ms, window.to_ms, settings.filter);
    // Per query: clicked searches, and the distinct users who clicked.
    let mut clicked_searches: HashMap<u32, u32> = HashMap::new();
    let mut clicked_by: HashSet<(u32, u32)> = HashSet::new();
    for &s in &kept {
        let search = &log.searches[s as usize];
        if log.clicks_of(s, window.to_ms).next().is_some() {
            *clicked_searches.entry(search.query).or_default() += 1;
            clicked_by.insert((search.query, search.identity));
        }
    }
    let mut clicked_users: HashMap<u32, u32> = HashMap::new();
    for (query, _) in &clicked_by {
        *clicked_users.entry(*query).or_default() += 1;
    }

    // Words: of every clicked query (so that a rare query clicked as typed stays as it is), and of titles.
    let mut words: HashMap<String, f32> = HashMap::new();
    for (&query, &n) in &clicked_searches {
        for word in log.query(query).split(' ') {
            for part in word.split(is_cjk).filter(|p| !p.is_empty()) {
                *words.entry(part.to_string()).or_default() += n as f32;
            }
        }
    }
    for (word, &n) in &titles.latin {
        *words.entry(word.clone()).or_default() += n as f32 * TITLE_WEIGHT;
    }

    let mut targets: Vec<(String, f32)> = clicked_users
        .iter()
        .filter(|(_, users)| **users >= settings.min_target_users)
        .map(|(&query, &users)| (log.query(query).to_string(), users as f32))
        .collect();
    targets.sort_by(|a, b| a.0.cmp(&b.0));

    let mut chinese: HashMap<String, f32> = HashMap::new();
    if settings.pinyin {
        for (word, &n) in &titles.chinese {
            *chinese.entry(word.clone()).or_default() += n as f32 * TITLE_WEIGHT;
        }
        for (query, users) in &targets {
            if query.chars().any(is_cjk) {
                *chinese.entry(query.clone()).or_default() += *users;
            }
        }
    }

    let mut made: HashMap<(u32, u32), HashSet<u32>> = HashMap::new();
    for (first, second) in corrections_made(log, &kept, window.to_ms, settings) {
        let (a, b) = (
            &log.searches[first as usize],
            &log.searches[second as usize],
        );
        made.entry((a.query, b.query))
            .or_default()
            .insert(a.identity);
    }
    let mut observed: Vec<(String, String, u32)> = made
        .into_iter()
        .map(|((typed, right), users)| {
            (
                log.query(typed).to_string(),
                log.query(right).to_string(),
                users.len() as u32,
            )
        })
        .collect();
    observed.sort();

    let mut words: Vec<(String, f32)> = words.into_iter().collect();
    words.sort_by(|a, b| a.0.cmp(&b.0));
    let mut chinese: Vec<(String, f32)> = chinese.into_iter().collect();
    chinese.sort_by(|a, b| a.0.cmp(&b.0));
    // Readings only need the Chinese entries; keep the key spaces of homophone look-ups tidy.
    chinese.retain(|(text, _)| syllables(text).is_some_and(|s| !exact_key(&s).is_empty()));
    Knowledge {
        words,
        targets,
        chinese,
        observed,
        rewrites: Vec::new(),
        never: Vec::new(),
        max_edits: settings.max_edits,
        min_reformulations: settings.min_reformulations,
        pinyin: settings.pinyin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_has_two_kinds_of_lines() {
        let d = parse_dictionary(Some("# rules\nIphone15\tiphone 15\nnever\tNikee\n\n")).unwrap();
        assert_eq!(
            d.rewrites,
            [("iphone15".to_string(), "iphone 15".to_string())]
        );
        assert_eq!(d.never, ["nikee"]);
        let e = parse_dictionary(Some("ok\tfine\nwrong only\n")).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(parse_dictionary(Some("same\tSame\n")).is_err());
    }

    #[test]
    fn related_spellings() {
        assert!(related("snaekers", "sneakers", 2));
        assert!(related("连衣群", "连衣裙", 2));
        assert!(related("lianyiqun", "连衣裙", 2));
        assert!(!related("trainers", "sneakers", 2));
        assert!(!related("tea", "tee", 2), "too short to tell");
        assert!(!related("iphone 13", "iphone 14", 2));
        assert!(!related("black耳麦", "black耳机", 2), "another word");
        assert!(same_spelling("sneakers", "snaekers") && same_spelling("连衣裙", "lianyiqun"));
        assert!(same_spelling("txu", "t恤") && same_spelling("hongse taideng", "红色台灯"));
        assert!(!same_spelling("headphones", "earphones") && !same_spelling("tee", "tea"));
    }

    #[test]
    fn title_words_split_at_spaces_before_chinese_is_joined() {
        let mut titles = TitleWords::default();
        titles.add("Acme 红色 连衣裙 dress");
        titles.add("Acme black 连衣裙 T-Shirt");
        assert_eq!(titles.chinese["连衣裙"], 2);
        assert_eq!(titles.chinese["红色"], 1);
        assert_eq!(titles.latin["acme"], 2);
        assert_eq!(titles.latin["t-shirt"], 1);
    }
}
