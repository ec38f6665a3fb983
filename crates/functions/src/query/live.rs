//! Searches seen after a generation was trained (the live tail of `near_realtime` instances), as the query
//! functions read them: normalised, with the spelling the user typed.

use super::{MAX_QUERY_CHARS, is_usable, normalise};

/// A search the live tail saw after the generation was trained.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveSearch {
    pub normal: String,
    pub display: String,
    pub at_ms: i64,
}

impl LiveSearch {
    /// A live search of `raw_query`, `None` when the query is not one the query functions keep.
    pub fn new(raw_query: &str, at_ms: i64) -> Option<LiveSearch> {
        let normal = normalise(raw_query);
        is_usable(&normal).then(|| LiveSearch {
            normal,
            display: raw_query.split_whitespace().collect::<Vec<_>>().join(" "),
            at_ms,
        })
    }
}

/// Whether `raw_query` normalises to a usable query, told without normalising it when that is certain: the
/// live tail sees every pushed search but serves only the few of the users asked, so it normalises late.
///
/// Certain for text of ASCII and CJK unified ideographs (the basic block and extension A) of at most
/// [`MAX_QUERY_CHARS`] characters: normalising such text changes no character but lower-cases letters and turns
/// what is not a letter, digit or ideograph into single spaces (or nothing, beside an ideograph), so it never
/// lengthens it and is empty exactly when the text holds no letter, digit or ideograph. `None` for other text:
/// only normalising tells.
pub fn is_usable_raw(raw_query: &str) -> Option<bool> {
    let (mut chars, mut word) = (0, false);
    for c in raw_query.chars() {
        if c.is_ascii() {
            word |= c.is_ascii_alphanumeric();
        } else if is_plain_ideograph(c) {
            word = true;
        } else {
            return None;
        }
        chars += 1;
        if chars > MAX_QUERY_CHARS {
            return None;
        }
    }
    Some(word)
}

/// CJK unified ideographs of the basic block and extension A: letters that normalising leaves as they are.
fn is_plain_ideograph(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_searches_are_normalised_and_unusable_ones_dropped() {
        let live = LiveSearch::new("  Nike   Shoes ", 5).unwrap();
        assert_eq!(
            (live.normal.as_str(), live.display.as_str()),
            ("nike shoes", "Nike Shoes")
        );
        assert!(LiveSearch::new("!!!", 5).is_none());
    }

    #[test]
    fn the_raw_check_agrees_with_normalising_whenever_it_answers() {
        let longest = "a".repeat(MAX_QUERY_CHARS);
        let mut raws: Vec<String> = [
            "Nike Shoes",
            "!!!",
            "",
            "   ",
            "\t\x01\x7f",
            "c++",
            "a",
            "-",
            "3.5",
            "men's",
            "#1",
            "_",
            "~~x~~",
            "连衣裙",
            "Ｎｉｋｅ",
            "™",
            "café",
            "ǅ",
        ]
        .map(String::from)
        .to_vec();
        raws.extend([
            longest.clone(),
            format!("{longest}b"),
            format!("{longest} "),
            format!("!{}", "!".repeat(MAX_QUERY_CHARS)),
        ]);
        // Every printable ASCII character alone and beside a letter.
        raws.extend(
            (0u8..128).flat_map(|b| [char::from(b).to_string(), format!("x{}", char::from(b))]),
        );
        let mut answered = 0;
        for raw in &raws {
            let exact = LiveSearch::new(raw, 0).is_some();
            if let Some(told) = is_usable_raw(raw) {
                assert_eq!(told, exact, "{raw:?}");
                answered += 1;
            }
        }
        assert!(answered > 260, "{answered}");
        for not_told in ["Ｎｉｋｅ", "™", "café", "ガ", "连衣裙 ™"] {
            assert_eq!(is_usable_raw(not_told), None, "{not_told}");
        }
        assert_eq!(is_usable_raw(&format!("{longest}b")), None);
        assert_eq!(is_usable_raw(&"裙".repeat(MAX_QUERY_CHARS)), Some(true));
        assert_eq!(is_usable_raw(&"裙".repeat(MAX_QUERY_CHARS + 1)), None);
    }

    #[test]
    fn every_ideograph_the_raw_check_passes_normalises_to_itself() {
        let ideographs = (0x3400..=0x4DBF)
            .chain(0x4E00..=0x9FFF)
            .filter_map(char::from_u32);
        for c in ideographs {
            let alone = c.to_string();
            assert_eq!(normalise(&alone), alone, "U+{:04X}", c as u32);
            assert_eq!(is_usable_raw(&alone), Some(true));
        }
    }
}
