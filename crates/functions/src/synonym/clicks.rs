//! Where a query's clicks land, and how alike two queries' clicks are.
//!
//! Plain cosine similarity of click counts punishes queries with few clicks: two samples of 20 clicks from the
//! same 300 items share almost none, and their cosine is near 0 although they mean the same. So the similarity
//! here is the cosine divided by the cosine two samples of these sizes would have if they were drawn from one
//! distribution: for `n` clicks from a distribution with concentration `S = Σp²`, the expected cosine between the
//! sample and the distribution is `√(nS / (1 + nS))`, and between two samples the product of theirs. About 1
//! for the same distribution whatever the sample sizes, about 0 for disjoint ones.
//!
//! `S` is estimated from the repeats within each sample (the unbiased `Σx(x−1) / n(n−1)`; the shared items are
//! left out, or the estimate would grow with the overlap it is meant to judge), shrunk towards the typical
//! concentration of the well-clicked queries of the same log ([`Scale`]): a sample of 20 clicks has too few
//! repeats to say much about its own.

/// Clicks per item, sorted by item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Clicks {
    items: Vec<(u32, f32)>,
    total: f64,
    squares: f64,
}

impl Clicks {
    /// From (item, clicks) in any order, items repeated or not.
    pub fn from_counts(mut counts: Vec<(u32, f32)>) -> Clicks {
        counts.sort_unstable_by_key(|c| c.0);
        let mut items: Vec<(u32, f32)> = Vec::with_capacity(counts.len());
        for (item, n) in counts {
            match items.last_mut() {
                Some(last) if last.0 == item => last.1 += n,
                _ => items.push((item, n)),
            }
        }
        let total = items.iter().map(|c| f64::from(c.1)).sum();
        let squares = items.iter().map(|c| f64::from(c.1).powi(2)).sum();
        Clicks {
            items,
            total,
            squares,
        }
    }

    /// The clicks of several queries together.
    pub fn sum<'a>(parts: impl IntoIterator<Item = &'a Clicks>) -> Clicks {
        Clicks::from_counts(
            parts
                .into_iter()
                .flat_map(|c| c.items.iter().copied())
                .collect(),
        )
    }

    pub fn total(&self) -> f64 {
        self.total
    }

    pub fn items(&self) -> &[(u32, f32)] {
        &self.items
    }

    pub fn dot(&self, other: &Clicks) -> f64 {
        let (mut i, mut j, mut dot) = (0, 0, 0.0);
        while i < self.items.len() && j < other.items.len() {
            let (a, b) = (self.items[i], other.items[j]);
            match a.0.cmp(&b.0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += f64::from(a.1) * f64::from(b.1);
                    i += 1;
                    j += 1;
                }
            }
        }
        dot
    }

    /// Plain cosine similarity.
    pub fn cosine(&self, other: &Clicks) -> f64 {
        cosine(self.dot(other), self.squares, other.squares)
    }

    /// Σx(x−1): the pairs of clicks on one item.
    fn repeats(&self) -> f64 {
        self.squares - self.total
    }
}

/// Weight of the typical concentration against a pair's own repeats, in pairs of clicks.
const PRIOR_PAIRS: f64 = 2_000.0;

/// The typical concentration of clicks in one log, which the similarity of sparse samples leans on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// `Σp²` of the log's queries, pooled: all repeats over all pairs of clicks (the well-clicked queries
    /// weigh most); `None` when no query has two clicks.
    typical: Option<f64>,
}

impl Scale {
    /// No typical concentration known: each pair's own repeats, or a uniform spread over the items seen.
    pub const NONE: Scale = Scale { typical: None };

    pub fn of<'a>(vectors: impl IntoIterator<Item = &'a Clicks>) -> Scale {
        let (repeats, pairs) = vectors.into_iter().fold((0.0, 0.0), |(r, p), c| {
            (r + c.repeats(), p + c.total * (c.total - 1.0))
        });
        Scale {
            typical: (repeats > 0.0 && pairs > 0.0).then(|| repeats / pairs),
        }
    }

    /// The similarity of two samples corrected for their sizes (see the module documentation), in [0, 1].
    pub fn similarity(&self, a: &Clicks, b: &Clicks) -> f64 {
        self.similarity_with_dot(a, b, a.dot(b))
    }

    /// [`Scale::similarity`] with the dot product already known.
    pub fn similarity_with_dot(&self, a: &Clicks, b: &Clicks, dot: f64) -> f64 {
        if a.total < 1.0 || b.total < 1.0 {
            return 0.0;
        }
        let cos = cosine(dot, a.squares, b.squares);
        if cos <= 0.0 {
            return 0.0;
        }
        let pairs = a.total * (a.total - 1.0) + b.total * (b.total - 1.0);
        let s = match self.typical {
            Some(typical) => {
                (a.repeats() + b.repeats() + PRIOR_PAIRS * typical) / (pairs + PRIOR_PAIRS)
            }
            None => {
                let seen = (a.items.len() + b.items.len()) as f64;
                ((a.repeats() + b.repeats()) / pairs.max(1.0)).max(1.0 / seen)
            }
        };
        let expected = |total: f64| (total * s / (1.0 + total * s)).sqrt();
        (cos / (expected(a.total) * expected(b.total))).min(1.0)
    }
}

fn cosine(dot: f64, a: f64, b: f64) -> f64 {
    if a <= 0.0 || b <= 0.0 {
        0.0
    } else {
        dot / (a * b).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small linear congruential generator: deterministic, no dependency.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// `n` clicks on items `offset..offset + spread`, the first ones likelier.
    fn sample(rng: &mut Lcg, n: usize, offset: u32, spread: u64) -> Clicks {
        Clicks::from_counts(
            (0..n)
                .map(|_| {
                    let a = rng.below(spread);
                    let b = rng.below(spread);
                    (offset + a.min(b) as u32, 1.0)
                })
                .collect(),
        )
    }

    #[test]
    fn small_samples_of_one_distribution_are_alike_and_of_two_are_not() {
        let mut rng = Lcg(3);
        let big = sample(&mut rng, 5000, 0, 300);
        let scale = Scale::of([&big]);
        for n in [20, 60, 200] {
            let (mut same, mut other, mut plain, mut pair, mut apart) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for _ in 0..20 {
                let small = sample(&mut rng, n, 0, 300);
                same += scale.similarity(&small, &big) / 20.0;
                plain += small.cosine(&big) / 20.0;
                other += scale.similarity(&sample(&mut rng, n, 1000, 300), &big) / 20.0;
                // Two small samples: the typical concentration stands in for their few repeats.
                pair += scale.similarity(&small, &sample(&mut rng, n, 0, 300)) / 20.0;
                apart += scale.similarity(&small, &sample(&mut rng, n, 1000, 300)) / 20.0;
            }
            assert!(same > 0.8, "{n} clicks: same distribution {same}");
            assert!(other < 0.05, "{n} clicks: another distribution {other}");
            assert!(pair > 0.6, "{n} and {n} clicks: same distribution {pair}");
            assert!(
                apart < 0.05,
                "{n} and {n} clicks: another distribution {apart}"
            );
            if n == 20 {
                assert!(plain < 0.6, "plain cosine punishes small samples: {plain}");
            }
        }
        // Without a typical concentration, a big sample's own repeats do.
        let small = sample(&mut rng, 60, 0, 300);
        assert!(Scale::NONE.similarity(&small, &big) > 0.7);
        assert_eq!(scale.similarity(&Clicks::default(), &small), 0.0);
    }

    #[test]
    fn sums_and_counts() {
        let a = Clicks::from_counts(vec![(3, 1.0), (1, 2.0), (3, 1.0)]);
        assert_eq!(a.items(), [(1, 2.0), (3, 2.0)]);
        assert_eq!(a.total(), 4.0);
        let b = Clicks::from_counts(vec![(3, 1.0), (9, 1.0)]);
        assert_eq!(
            Clicks::sum([&a, &b]).items(),
            [(1, 2.0), (3, 3.0), (9, 1.0)]
        );
        assert_eq!(a.dot(&b), 2.0);
    }
}
