//! One typo, as an FST automaton: matches every key that has a prefix within one edit (a character inserted,
//! dropped or replaced) of a typed prefix. Built per request without compiling anything (the pattern is kept as
//! characters and the automaton simulated; compiling fst's Levenshtein DFA took hundreds of microseconds), it runs
//! over the key bytes as an NFA of at most 2 × 65 states held in two bit sets, decoding UTF-8 on the way, so an
//! edit is one character whatever its length in bytes.

use fst::Automaton;

use crate::query::MAX_QUERY_CHARS;

// The state sets hold positions 0..=n in a u128, and the step shifts them left by one.
const _: () = assert!(MAX_QUERY_CHARS <= 126);

/// Matches keys that start with something one character edit away from `pattern`. Use with `starts_with()`.
pub struct OneEdit {
    pattern: Vec<char>,
}

impl OneEdit {
    /// `None` when the pattern is longer than the normaliser keeps queries (the bit sets hold 128 positions).
    pub fn new(pattern: &str) -> Option<Self> {
        let pattern: Vec<char> = pattern.chars().collect();
        (pattern.len() <= MAX_QUERY_CHARS).then_some(OneEdit { pattern })
    }

    /// Positions `i` (as bits) where `pattern[i] == c`.
    fn matches(&self, c: char) -> u128 {
        self.pattern
            .iter()
            .enumerate()
            .filter(|(_, p)| **p == c)
            .fold(0, |m, (i, _)| m | 1 << i)
    }

    /// Positions 0..=n.
    fn valid(&self) -> u128 {
        (1u128 << (self.pattern.len() + 1)) - 1
    }

    /// Adds the states a dropped pattern character reaches: (i, 0) → (i + 1, 1).
    fn close(&self, mut state: State) -> State {
        state.one |= (state.zero << 1) & self.valid();
        state
    }

    fn step(&self, state: State, c: char) -> State {
        let m = self.matches(c);
        let below_end = self.valid() >> 1;
        let zero = (state.zero & m) << 1;
        let one = ((state.one & m) << 1) // match after an edit
            | ((state.zero & below_end) << 1) // replaced
            | state.zero; // inserted
        self.close(State {
            zero,
            one: one & self.valid(),
            partial: 0,
            pending: 0,
        })
    }
}

/// Sets of NFA states by edits used: bit `i` = `i` pattern characters consumed. `pending` continuation bytes of
/// a character are still expected, `partial` holds its bits so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    zero: u128,
    one: u128,
    partial: u32,
    pending: u8,
}

impl Automaton for OneEdit {
    type State = State;

    fn start(&self) -> State {
        self.close(State {
            zero: 1,
            one: 0,
            partial: 0,
            pending: 0,
        })
    }

    fn is_match(&self, state: &State) -> bool {
        let end = 1u128 << self.pattern.len();
        state.pending == 0 && (state.zero | state.one) & end != 0
    }

    fn can_match(&self, state: &State) -> bool {
        state.zero | state.one != 0
    }

    fn accept(&self, state: &State, byte: u8) -> State {
        let mut next = *state;
        if next.pending > 0 {
            // A continuation byte.
            next.partial = (next.partial << 6) | u32::from(byte & 0x3f);
            next.pending -= 1;
        } else {
            let (bits, pending) = match byte {
                0x00..=0x7f => (u32::from(byte), 0),
                0xc0..=0xdf => (u32::from(byte & 0x1f), 1),
                0xe0..=0xef => (u32::from(byte & 0x0f), 2),
                _ => (u32::from(byte & 0x07), 3),
            };
            next.partial = bits;
            next.pending = pending;
        }
        if next.pending > 0 {
            return next;
        }
        // Keys are valid UTF-8 (they are `str`s); a broken one simply matches nothing.
        match char::from_u32(next.partial) {
            Some(c) => self.step(next, c),
            None => State {
                zero: 0,
                one: 0,
                partial: 0,
                pending: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Character edit distance (insert, drop, replace).
    fn distance(a: &[char], b: &[char]) -> usize {
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut previous = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let substitution = previous + usize::from(ca != cb);
                previous = row[j + 1];
                row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
            }
        }
        row[b.len()]
    }

    /// Whether some prefix of `key` is within one edit of `pattern`, by brute force.
    fn expected(pattern: &str, key: &str) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let k: Vec<char> = key.chars().collect();
        (0..=k.len()).any(|n| distance(&p, &k[..n]) <= 1)
    }

    fn runs(pattern: &str, key: &str) -> bool {
        let automaton = OneEdit::new(pattern).unwrap().starts_with();
        let mut state = automaton.start();
        for &b in key.as_bytes() {
            state = automaton.accept(&state, b);
        }
        automaton.is_match(&state)
    }

    #[test]
    fn agrees_with_the_edit_distance_on_latin_and_chinese() {
        let words = [
            "sneakers",
            "sneaker",
            "snaekers",
            "sneakrs",
            "sneaXkers",
            "sxeakers",
            "sn",
            "",
            "headphones",
            "连衣裙",
            "连衣群",
            "连裙",
            "连衣裙夏",
            "衣裙",
            "连x衣裙",
            "t-shirt",
            "tshirt",
        ];
        for pattern in ["sneak", "snek", "连衣裙", "连衣", "tshi", "h"] {
            for key in words {
                assert_eq!(
                    runs(pattern, key),
                    expected(pattern, key),
                    "{pattern:?} vs {key:?}"
                );
            }
        }
    }

    #[test]
    fn agrees_with_the_edit_distance_on_random_strings() {
        // A small linear congruential generator: deterministic, no dependency.
        let mut seed = 12345u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let alphabet = ['a', 'b', 'c', '连', '衣'];
        for _ in 0..3000 {
            let (plen, klen) = (next(6) + 1, next(8));
            let pattern: String = (0..plen).map(|_| alphabet[next(5) as usize]).collect();
            let key: String = (0..klen).map(|_| alphabet[next(5) as usize]).collect();
            assert_eq!(
                runs(&pattern, &key),
                expected(&pattern, &key),
                "{pattern:?} vs {key:?}"
            );
        }
    }

    #[test]
    fn long_patterns_are_refused() {
        assert!(OneEdit::new(&"x".repeat(MAX_QUERY_CHARS + 1)).is_none());
        assert!(OneEdit::new(&"x".repeat(MAX_QUERY_CHARS)).is_some());
    }
}
