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
/// For ASCII text of at most [`MAX_QUERY_CHARS`] bytes the answer is whether it holds a letter or a digit:
/// normalising ASCII only lower-cases it and turns everything else into single spaces, so it never lengthens
/// it and keeps exactly its letters and digits. `None` for other text: only normalising tells.
pub fn is_usable_raw(raw_query: &str) -> Option<bool> {
    let bytes = raw_query.as_bytes();
    (bytes.is_ascii() && bytes.len() <= MAX_QUERY_CHARS)
        .then(|| bytes.iter().any(u8::is_ascii_alphanumeric))
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
        assert!(answered > 250, "{answered}");
        for not_told in ["连衣裙", "Ｎｉｋｅ", "™", "café"] {
            assert_eq!(is_usable_raw(not_told), None, "{not_told}");
        }
        assert_eq!(is_usable_raw(&format!("{longest}b")), None);
    }
}
