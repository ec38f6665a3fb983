//! How Chinese text reads: the pinyin syllables of its characters (tones dropped; a character with several
//! readings reads as its first), which find homophones (`连衣群` reads as `连衣裙`), near-homophones under the
//! usual confusions of southern accents and quick typing (`z`/`zh`, `c`/`ch`, `s`/`sh`, `n`/`l`, `-n`/`-ng`),
//! and the Chinese a user meant when they typed its pinyin with the input method off (`lianyiqun`).

use pinyin::ToPinyin;

use crate::query::is_cjk;

/// The syllables of a text: a Chinese character's pinyin, or a run of other letters and digits as it is.
/// `None` when the text has no Chinese character or one without a known reading.
pub fn syllables(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut latin = String::new();
    let mut chinese = false;
    for c in text.chars() {
        if is_cjk(c) {
            if !latin.is_empty() {
                out.push(std::mem::take(&mut latin));
            }
            out.push(c.to_pinyin()?.plain().to_string());
            chinese = true;
        } else if c.is_alphanumeric() {
            latin.push(c);
        } else if !latin.is_empty() {
            out.push(std::mem::take(&mut latin));
        }
    }
    if !latin.is_empty() {
        out.push(latin);
    }
    chinese.then_some(out)
}

/// The syllables joined with `'`: texts with the same key are homophones.
pub fn exact_key(syllables: &[String]) -> String {
    syllables.join("'")
}

/// One syllable with the usual confusions folded: `zh`/`ch`/`sh` → `z`/`c`/`s`, `n` → `l` at the start, and
/// `-ng` → `-n` at the end.
fn folded(syllable: &str) -> String {
    let mut s = syllable.to_string();
    for (from, to) in [("zh", "z"), ("ch", "c"), ("sh", "s")] {
        if let Some(rest) = s.strip_prefix(from) {
            s = format!("{to}{rest}");
            break;
        }
    }
    if let Some(rest) = s.strip_prefix('n')
        && !rest.is_empty()
    {
        s = format!("l{rest}");
    }
    if let Some(stem) = s.strip_suffix("ng")
        && stem.len() > 1
        && stem.ends_with(['a', 'e', 'i'])
    {
        s = format!("{stem}n");
    }
    s
}

/// The syllables folded and joined: texts with the same key are near-homophones.
pub fn fuzzy_key(syllables: &[String]) -> String {
    syllables
        .iter()
        .map(|s| folded(s))
        .collect::<Vec<_>>()
        .join("'")
}

/// The syllables as a user types them with the input method off: run together (`lianyiqun`).
pub fn typed_key(syllables: &[String]) -> String {
    syllables.concat()
}

/// What was typed, as a [`typed_key`] to look up: Latin letters and digits only, spaces dropped. `None` when
/// the text has other characters or too few letters to be a Chinese word's pinyin.
pub fn typed_as_pinyin(text: &str) -> Option<String> {
    let key: String = text.chars().filter(|c| *c != ' ').collect();
    (key.chars().count() >= 4 && key.chars().all(|c| c.is_ascii_alphanumeric())).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Vec<String> {
        syllables(text).unwrap()
    }

    #[test]
    fn homophones_share_a_key() {
        assert_eq!(exact_key(&s("连衣裙")), "lian'yi'qun");
        assert_eq!(exact_key(&s("连衣群")), exact_key(&s("连衣裙")));
        assert_ne!(exact_key(&s("连衣裙")), exact_key(&s("运动鞋")));
        assert_eq!(exact_key(&s("t恤")), "t'xu");
        assert_eq!(exact_key(&s("nike运动鞋")), "nike'yun'dong'xie");
        assert_eq!(syllables("dress"), None);
    }

    #[test]
    fn near_homophones_share_a_fuzzy_key() {
        // zh/z, n/l, -ng/-n.
        assert_eq!(fuzzy_key(&s("知识")), fuzzy_key(&s("自私")));
        assert_eq!(fuzzy_key(&s("牛奶")), fuzzy_key(&s("流来")));
        assert_eq!(fuzzy_key(&s("生鲜")), fuzzy_key(&s("森鲜")));
        assert_ne!(fuzzy_key(&s("连衣裙")), fuzzy_key(&s("运动鞋")));
    }

    #[test]
    fn pinyin_typed_with_the_input_method_off() {
        assert_eq!(typed_key(&s("连衣裙")), "lianyiqun");
        assert_eq!(typed_as_pinyin("lian yi qun").as_deref(), Some("lianyiqun"));
        assert_eq!(typed_as_pinyin("abc"), None);
        assert_eq!(typed_as_pinyin("连衣裙"), None);
    }
}
