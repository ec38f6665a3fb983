//! Categorical columns (`id`, `combo`, the word methods of `overlap`) as numbers for the trees: each key's mean
//! grade in the training examples, smoothed towards the overall mean (target statistics). An example with
//! several keys gets the mean of theirs; a key seen fewer than `min_count` times gets the overall mean; an
//! example without a key is missing (NaN).
//!
//! A training example must not see its own grade in its encoding, or the trees learn to trust a statistic that
//! is perfect in training and noise in serving: the statistics an example is encoded with leave out its whole
//! search (its group), as the held-out and served examples are encoded with statistics that never saw them.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use super::features::Row;

/// Pseudo-examples at the overall mean that every key's mean is pulled towards.
pub const SMOOTHING: f64 = 10.0;

/// Key statistics of one column while they are counted.
#[derive(Default)]
pub struct Counting {
    sums: HashMap<u64, (f64, u32)>,
    total: f64,
    count: u64,
}

impl Counting {
    pub fn add(&mut self, keys: &[u64], grade: f32) {
        for &k in keys {
            let e = self.sums.entry(k).or_default();
            e.0 += f64::from(grade);
            e.1 += 1;
        }
        if !keys.is_empty() {
            self.total += f64::from(grade);
            self.count += 1;
        }
    }

    fn prior(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total / self.count as f64
        }
    }

    fn encode_one(&self, key: u64, minus: (f64, u32), min_count: u32, prior: f64) -> f64 {
        match self.sums.get(&key) {
            Some(&(s, n)) if n.saturating_sub(minus.1) >= min_count => {
                let (s, n) = (s - minus.0, f64::from(n - minus.1));
                (s + SMOOTHING * prior) / (n + SMOOTHING)
            }
            _ => prior,
        }
    }

    /// Encodes the rows of one group, leaving the group's own grades out: `keys[i]` and `grades[i]` are the
    /// group's rows.
    pub fn encode_group_out(
        &self,
        keys: &[&[u64]],
        grades: &[f32],
        min_count: u32,
        out: &mut [f32],
    ) {
        let prior = self.prior();
        for (i, row_keys) in keys.iter().enumerate() {
            if row_keys.is_empty() {
                out[i] = f32::NAN;
                continue;
            }
            let mut sum = 0.0;
            for &k in *row_keys {
                let mut own = (0.0, 0u32);
                for (j, other) in keys.iter().enumerate() {
                    if other.contains(&k) {
                        own.0 += f64::from(grades[j]);
                        own.1 += 1;
                    }
                }
                sum += self.encode_one(k, own, min_count, prior);
            }
            out[i] = (sum / row_keys.len() as f64) as f32;
        }
    }

    /// The table serving uses: every key seen at least `min_count` times.
    pub fn finish(&self, min_count: u32) -> Encoding {
        let prior = self.prior();
        Encoding {
            prior: prior as f32,
            values: self
                .sums
                .iter()
                .filter(|(_, (_, n))| *n >= min_count)
                .map(|(&k, _)| (k, self.encode_one(k, (0.0, 0), min_count, prior) as f32))
                .collect(),
        }
    }
}

/// The encoding of one categorical column.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    pub prior: f32,
    /// The keys are hashes already: a multiply mixes them enough, where the default hasher's rounds cost a
    /// rerank several probes per candidate. (The stored form is a map either way.)
    pub values: HashMap<u64, f32, FxBuildHasher>,
}

impl Encoding {
    pub fn encode(&self, keys: &[u64]) -> f32 {
        if keys.is_empty() {
            return f32::NAN;
        }
        let sum: f32 = keys
            .iter()
            .map(|k| self.values.get(k).copied().unwrap_or(self.prior))
            .sum();
        sum / keys.len() as f32
    }
}

/// The model's value of column `c` of a computed row: the number, or the encoding of a categorical column's
/// keys.
pub(crate) fn model_value(generated: &Row, encodings: &[Option<Encoding>], c: usize) -> f32 {
    match &encodings[c] {
        Some(e) => e.encode(&generated.keys[c]),
        None => generated.numbers[c],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_never_sees_its_own_grades() {
        let mut c = Counting::default();
        // Key 1: grades 3 (group A) and 0 ×9 (other groups); key 2 only in group A.
        c.add(&[1], 3.0);
        c.add(&[2], 3.0);
        for _ in 0..9 {
            c.add(&[1], 0.0);
        }
        let group: [&[u64]; 2] = [&[1], &[2]];
        let mut out = [0.0; 2];
        c.encode_group_out(&group, &[3.0, 3.0], 1, &mut out);
        let prior = 6.0 / 11.0;
        // Key 1 without group A: nine zeros, smoothed.
        let expected = (10.0 * prior) / (9.0 + 10.0);
        assert!((f64::from(out[0]) - expected).abs() < 1e-6, "{out:?}");
        // Key 2 is only known from group A itself: the prior.
        assert!((f64::from(out[1]) - prior).abs() < 1e-6);
        let served = c.finish(1);
        let full = (3.0 + 10.0 * prior) / (10.0 + 10.0);
        assert!((f64::from(served.encode(&[1])) - full).abs() < 1e-6);
        assert_eq!(served.encode(&[99]), served.prior, "unknown key");
        assert!(served.encode(&[]).is_nan(), "no key");
        assert_eq!(c.finish(5).values.len(), 1, "rare keys are left out");
    }

    #[test]
    fn artifacts_written_with_the_default_hasher_read_the_same() {
        #[derive(Serialize)]
        struct Before {
            prior: f32,
            values: HashMap<u64, f32>,
        }
        let before = Before {
            prior: 0.25,
            values: HashMap::from([(7, 1.5), (u64::MAX, 2.0)]),
        };
        let read: Encoding =
            postcard::from_bytes(&postcard::to_allocvec(&before).unwrap()).unwrap();
        assert_eq!(read.prior, 0.25);
        assert_eq!(read.encode(&[7, u64::MAX]), 1.75);
        assert_eq!(read.values.len(), 2);
    }
}
