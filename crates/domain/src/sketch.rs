//! Distinct counts without keeping every value: a HyperLogLog sketch (Flajolet et al. 2007) with 2^12
//! registers (4 KiB, standard error about 1.6 %), mergeable by register-wise maximum so that per-day sketches add
//! up to any window.

/// log2 of the register count.
const P: u32 = 12;
const REGISTERS: usize = 1 << P;

/// The splitmix64 finaliser: xxh3's short-input path leaves its top bits, which pick the register, visibly less
/// mixed (50 ids like `u0`…`u49` fell into 47 registers), so they are mixed once more.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistinctSketch {
    registers: Vec<u8>,
}

impl Default for DistinctSketch {
    fn default() -> Self {
        DistinctSketch {
            registers: vec![0; REGISTERS],
        }
    }
}

impl DistinctSketch {
    /// Restores a sketch from [`Self::as_bytes`]; anything of the wrong size gives an empty sketch.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.len() == REGISTERS {
            DistinctSketch {
                registers: bytes.to_vec(),
            }
        } else {
            DistinctSketch::default()
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.registers
    }

    pub fn insert(&mut self, value: &str) {
        let hash = mix(xxhash_rust::xxh3::xxh3_64(value.as_bytes()));
        let index = (hash >> (64 - P)) as usize;
        // Leading zeros of the remaining bits, plus one; the sentinel bit bounds it at 64 - P + 1.
        let rest = (hash << P) | (1 << (P - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        if self.registers[index] < rank {
            self.registers[index] = rank;
        }
    }

    pub fn merge(&mut self, other: &DistinctSketch) {
        for (mine, theirs) in self.registers.iter_mut().zip(&other.registers) {
            *mine = (*mine).max(*theirs);
        }
    }

    pub fn estimate(&self) -> u64 {
        let m = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = self
            .registers
            .iter()
            .map(|&r| 2f64.powi(-i32::from(r)))
            .sum();
        let raw = alpha * m * m / sum;
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        // Linear counting is more accurate while many registers are still empty.
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(estimate: u64, truth: u64, tolerance: f64) -> bool {
        (estimate as f64 - truth as f64).abs() <= tolerance * truth as f64
    }

    #[test]
    fn estimates_are_close_from_tiny_to_large() {
        for n in [0u64, 1, 10, 1000, 50_000, 500_000] {
            let mut sketch = DistinctSketch::default();
            for i in 0..n {
                sketch.insert(&format!("user-{i}"));
                sketch.insert(&format!("user-{i}"));
            }
            let estimate = sketch.estimate();
            assert!(
                n == 0 && estimate == 0 || within(estimate, n, 0.05),
                "n={n} estimate={estimate}"
            );
        }
    }

    #[test]
    fn short_similar_ids_are_counted_exactly_while_few() {
        let mut sketch = DistinctSketch::default();
        for i in 0..50 {
            sketch.insert(&format!("u{i}"));
        }
        assert_eq!(sketch.estimate(), 50);
    }

    #[test]
    fn merging_counts_the_union() {
        let (mut a, mut b) = (DistinctSketch::default(), DistinctSketch::default());
        for i in 0..20_000 {
            a.insert(&i.to_string());
        }
        for i in 10_000..30_000 {
            b.insert(&i.to_string());
        }
        a.merge(&b);
        assert!(within(a.estimate(), 30_000, 0.05), "{}", a.estimate());
        assert_eq!(DistinctSketch::from_bytes(a.as_bytes()), a);
    }
}
