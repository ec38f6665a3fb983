//! Phrases of the synonym stage: a run of tokens that the synonym instance knows as one term (`exercise mat` ↔
//! `健身垫`, or a Chinese word the analyzer split) is joined into one token before its synonyms are looked up, so
//! that the rewrite searches the phrase or its synonyms as one OR-group rather than each word alone.

use algocenter_functions::query::normalise;

use super::{AnalysedToken, Level};

/// Most tokens one phrase joins.
pub(super) const MAX_PHRASE_TOKENS: usize = 4;

/// The characters `start..end` of the analysed text (token offsets count characters).
pub(super) fn written(text: &[char], start: usize, end: usize) -> String {
    text.get(start..end)
        .map(|c| c.iter().collect())
        .unwrap_or_default()
}

fn importance(level: Option<Level>) -> u8 {
    match level {
        Some(Level::High) => 3,
        Some(Level::Mid) => 2,
        Some(Level::Low) => 1,
        None => 0,
    }
}

/// Joins, left to right, the longest run of 2..=[`MAX_PHRASE_TOKENS`] adjacent tokens that are not all stop words
/// and whose written text `known` accepts. A joined token is the phrase normalised, weighs as its heaviest part,
/// has its most important level, and is a stop word only if every part was.
pub(super) fn join(
    tokens: Vec<AnalysedToken>,
    text: &[char],
    known: impl Fn(&str) -> bool,
) -> Vec<AnalysedToken> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let longest = (i + 2..=tokens.len().min(i + MAX_PHRASE_TOKENS))
            .rev()
            .find(|&j| {
                let run = &tokens[i..j];
                !run.iter().all(|t| t.stop_word)
                    && known(&written(text, run[0].start, run[j - i - 1].end))
            });
        let Some(j) = longest else {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        };
        let run = &tokens[i..j];
        let (start, end) = (run[0].start, run[run.len() - 1].end);
        out.push(AnalysedToken {
            text: normalise(&written(text, start, end)),
            start,
            end,
            source: None,
            entity: None,
            weight: run
                .iter()
                .filter_map(|t| t.weight)
                .max_by(|a, b| a.total_cmp(b)),
            level: run
                .iter()
                .map(|t| t.level)
                .max_by_key(|l| importance(*l))
                .flatten(),
            stop_word: run.iter().all(|t| t.stop_word),
            synonyms: Vec::new(),
        });
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(
        text: &str,
        start: usize,
        weight: f32,
        level: Level,
        stop_word: bool,
    ) -> AnalysedToken {
        AnalysedToken {
            text: text.into(),
            start,
            end: start + text.chars().count(),
            source: None,
            entity: None,
            weight: Some(weight),
            level: Some(level),
            stop_word,
            synonyms: Vec::new(),
        }
    }

    #[test]
    fn a_known_run_of_tokens_becomes_one_token_and_others_stay() {
        let text: Vec<char> = "cheap Exercise  Mat 运动 鞋".chars().collect();
        let tokens = vec![
            token("cheap", 0, 0.1, Level::Low, false),
            token("exercise", 6, 0.5, Level::Mid, false),
            token("mat", 16, 0.8, Level::High, false),
            token("运动", 20, 0.4, Level::Mid, false),
            token("鞋", 23, 0.6, Level::High, false),
        ];
        let joined = join(tokens, &text, |w| {
            ["exercise mat", "运动 鞋"].contains(&w.to_lowercase().replace("  ", " ").as_str())
        });
        let texts: Vec<&str> = joined.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["cheap", "exercise mat", "运动鞋"]);
        let mat = &joined[1];
        assert_eq!((mat.start, mat.end), (6, 19));
        assert_eq!((mat.weight, mat.level), (Some(0.8), Some(Level::High)));
        assert!(!mat.stop_word);
    }

    #[test]
    fn stop_words_alone_are_not_joined_and_nothing_known_changes_nothing() {
        let text: Vec<char> = "of the".chars().collect();
        let tokens = vec![
            token("of", 0, 0.0, Level::Low, true),
            token("the", 3, 0.0, Level::Low, true),
        ];
        assert_eq!(join(tokens.clone(), &text, |_| true), tokens);
        assert_eq!(join(tokens.clone(), &text, |_| false), tokens);
    }
}
