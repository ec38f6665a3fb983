//! How far what a user typed is from a word, in the typos people make: an optimal-string-alignment distance
//! (insertions, deletions, substitutions, swaps of two neighbours) in which the usual slips cost less than a
//! full edit: a key next to the right one on a QWERTY keyboard, two letters swapped, a letter doubled, one of a
//! double letter dropped.

/// Cost of a letter replaced by a keyboard neighbour, of two neighbouring letters swapped, and of a letter
/// doubled or one of a double letter dropped.
pub const SLIP: f32 = 0.6;

/// Rows of a QWERTY keyboard, with the digits above them.
const ROWS: [&[u8]; 4] = [b"1234567890", b"qwertyuiop", b"asdfghjkl", b"zxcvbnm"];

/// Where a key is: (row, column), the rows staggered by half a key.
fn key(c: char) -> Option<(f32, f32)> {
    let b = u8::try_from(c).ok()?;
    ROWS.iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|&k| k == b)
            .map(|i| (r as f32, i as f32 + r as f32 * 0.5))
    })
}

/// Whether two keys touch on a QWERTY keyboard (same row, or the row above or below).
pub fn adjacent(a: char, b: char) -> bool {
    match (key(a), key(b)) {
        (Some((ra, ca)), Some((rb, cb))) => {
            a != b && (ra - rb).abs() <= 1.0 && (ca - cb).abs() <= 1.0
        }
        _ => false,
    }
}

/// The weighted distance from `word` to what was `typed`, or `None` when it exceeds `limit`.
pub fn weighted(word: &[char], typed: &[char], limit: f32) -> Option<f32> {
    let (n, m) = (word.len(), typed.len());
    if (n as f32 - m as f32).abs() * SLIP > limit {
        return None;
    }
    // rows[i][j]: distance from word[..i] to typed[..j]; three rows for the swap.
    let width = m + 1;
    let mut rows = vec![0f32; 3 * width];
    for (j, cell) in rows.iter_mut().take(width).enumerate() {
        *cell = j as f32;
    }
    // The smallest distance of the row before: a swap reaches two rows back, so both must exceed the limit.
    let mut best_before = 0f32;
    for i in 1..=n {
        let current = (i % 3) * width;
        let previous = ((i + 2) % 3) * width;
        let earlier = ((i + 1) % 3) * width;
        rows[current] = i as f32;
        let mut best_in_row = rows[current];
        for j in 1..=m {
            let (w, t) = (word[i - 1], typed[j - 1]);
            let substitution = if w == t {
                0.0
            } else if adjacent(w, t) {
                SLIP
            } else {
                1.0
            };
            // A letter of the word missing from what was typed: cheap when it was one of a double letter.
            let dropped = if (i >= 2 && word[i - 2] == w) || word.get(i) == Some(&w) {
                SLIP
            } else {
                1.0
            };
            // A letter typed that the word does not have: cheap when it doubles its neighbour.
            let inserted = if (j >= 2 && typed[j - 2] == t) || typed.get(j) == Some(&t) {
                SLIP
            } else {
                1.0
            };
            let mut d = (rows[previous + j - 1] + substitution)
                .min(rows[previous + j] + dropped)
                .min(rows[current + j - 1] + inserted);
            if i >= 2 && j >= 2 && w == typed[j - 2] && word[i - 2] == t && w != t {
                d = d.min(rows[earlier + j - 2] + SLIP);
            }
            rows[current + j] = d;
            best_in_row = best_in_row.min(d);
        }
        if best_in_row > limit && best_before > limit {
            return None;
        }
        best_before = best_in_row;
    }
    let d = rows[(n % 3) * width + m];
    (d <= limit).then_some(d)
}

/// The number of edits (insertions, deletions, substitutions, swaps of neighbours) between two words.
pub fn edits(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut rows = vec![0usize; 3 * width];
    for (j, cell) in rows.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let current = (i % 3) * width;
        let previous = ((i + 2) % 3) * width;
        let earlier = ((i + 1) % 3) * width;
        rows[current] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[previous + j - 1] + cost)
                .min(rows[previous + j] + 1)
                .min(rows[current + j - 1] + 1);
            if i >= 2 && j >= 2 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[earlier + j - 2] + 1);
            }
            rows[current + j] = d;
        }
    }
    rows[(a.len() % 3) * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(word: &str, typed: &str) -> Option<f32> {
        let word: Vec<char> = word.chars().collect();
        let typed: Vec<char> = typed.chars().collect();
        weighted(&word, &typed, 3.0)
    }

    fn e(a: &str, b: &str) -> usize {
        edits(
            &a.chars().collect::<Vec<_>>(),
            &b.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn slips_cost_less_than_other_edits() {
        assert_eq!(w("sneakers", "sneakers"), Some(0.0));
        // A neighbouring key, a swap, a doubled letter, one of a double letter dropped.
        assert_eq!(w("sneakers", "sneakrrs"), Some(SLIP));
        assert_eq!(w("sneakers", "snaekers"), Some(SLIP));
        assert_eq!(w("sneakers", "sneakkers"), Some(SLIP));
        assert_eq!(w("coffee", "cofee"), Some(SLIP));
        // Other edits cost one each.
        assert_eq!(w("sneakers", "snepkers"), Some(1.0));
        assert_eq!(w("sneakers", "sneakrs"), Some(1.0));
        assert_eq!(w("sneakers", "sneakeres"), Some(1.0));
        assert_eq!(w("sneakers", "snxakxrs"), Some(2.0));
        assert!(adjacent('q', 'w') && adjacent('s', 'w') && adjacent('s', 'z'));
        assert!(!adjacent('q', 'p') && !adjacent('a', 'a') && !adjacent('连', 'a'));
    }

    #[test]
    fn the_limit_cuts_the_search_short() {
        let word: Vec<char> = "sneakers".chars().collect();
        let far: Vec<char> = "headphones".chars().collect();
        assert_eq!(weighted(&word, &far, 2.0), None);
        assert_eq!(weighted(&word, &['s'], 2.0), None);
    }

    #[test]
    fn edits_count_swaps_as_one() {
        assert_eq!(e("sneakers", "snaekers"), 1);
        assert_eq!(e("sneakers", "sneakrs"), 1);
        assert_eq!(e("abc", "cba"), 2);
        assert_eq!(e("", "abc"), 3);
        assert_eq!(e("连衣裙", "连衣群"), 1);
    }

    #[test]
    fn weighted_never_exceeds_the_edit_count_and_is_symmetric_in_plain_edits() {
        // A small linear congruential generator: deterministic, no dependency.
        let mut seed = 99u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let alphabet = ['a', 's', 'd', 'p', 'e'];
        for _ in 0..2000 {
            let a: Vec<char> = (0..next(7)).map(|_| alphabet[next(5) as usize]).collect();
            let b: Vec<char> = (0..next(7)).map(|_| alphabet[next(5) as usize]).collect();
            let d = weighted(&a, &b, 100.0).unwrap();
            let n = edits(&a, &b) as f32;
            assert!(d <= n + 1e-6, "{a:?} {b:?}: {d} > {n}");
            assert!(d >= n * SLIP - 1e-6, "{a:?} {b:?}: {d} < {n} slips");
        }
    }
}
