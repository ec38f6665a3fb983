//! One generator computed for one example, from its inputs as the two sides resolved them.

use algocenter_domain::feature_generator::{Combiner, Kind, OverlapMethod, Spec};
use xxhash_rust::xxh3::{Xxh3, xxh3_64_with_seed};

use super::{CandidateFacts, Facts, MAX_KEYS, Resolved, Text, Want, discrete_key, from_value};

/// The numbers of an input for this example, borrowed where they are stored (a rerank computes every
/// generator for every candidate: no allocation per input).
enum Numbers<'a> {
    Stored(&'a [f64]),
    Counted(f64),
}

impl Numbers<'_> {
    fn as_slice(&self) -> &[f64] {
        match self {
            Numbers::Stored(n) => n,
            Numbers::Counted(v) => std::slice::from_ref(v),
        }
    }
}

/// The numbers a time-dependent input has for this example.
fn numbers<'a>(r: &'a Resolved, facts: &dyn CandidateFacts) -> Option<Numbers<'a>> {
    match r {
        Resolved::Numbers(n) => Some(Numbers::Stored(n)),
        Resolved::Counter(c, d) => facts.counter(*c, *d).map(Numbers::Counted),
        _ => None,
    }
}

/// The query's terms found and not found in a text. The overlap generators of the same two inputs share it: a
/// candidate computes it once, not once per method.
#[derive(Clone, Debug, Default)]
pub struct Intersection {
    /// Both in the query's order (sorted, distinct).
    common: Vec<u64>,
    diff: Vec<u64>,
}

impl Intersection {
    pub(super) fn of(&mut self, query: &Text, text: &Text) {
        self.common.clear();
        self.diff.clear();
        for &k in &query.terms {
            if text.terms.binary_search(&k).is_ok() {
                self.common.push(k);
            } else {
                self.diff.push(k);
            }
        }
    }
}

/// What a generator shares with the others of its kind and inputs.
#[derive(Clone, Copy)]
pub(super) enum Shared<'a> {
    None,
    Intersection(&'a Intersection),
    Found(Option<&'a Found>),
}

/// The key of a list of words, salted by the generator: one hash over the salt's and the words' bytes.
fn words_key(salt: u64, words: &[u64]) -> u64 {
    let mut hasher = Xxh3::with_seed(0x6f76);
    hasher.update(&salt.to_le_bytes());
    for w in words {
        hasher.update(&w.to_le_bytes());
    }
    hasher.digest()
}

/// Up to [`MAX_KEYS`] keys without an allocation.
struct Keys {
    keys: [u64; MAX_KEYS],
    len: usize,
}

impl Keys {
    fn one(key: u64) -> Keys {
        let mut keys = [0; MAX_KEYS];
        keys[0] = key;
        Keys { keys, len: 1 }
    }

    fn as_slice(&self) -> &[u64] {
        &self.keys[..self.len]
    }

    /// Each key crossed with each of `values`, at most [`MAX_KEYS`] of them.
    fn crossed(&self, values: impl Iterator<Item = u64> + Clone) -> Keys {
        let mut next = Keys {
            keys: [0; MAX_KEYS],
            len: 0,
        };
        'cross: for a in self.as_slice() {
            for v in values.clone() {
                if next.len == MAX_KEYS {
                    break 'cross;
                }
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&a.to_le_bytes());
                bytes[8..].copy_from_slice(&v.to_le_bytes());
                next.keys[next.len] = xxh3_64_with_seed(&bytes, 0x636f);
                next.len += 1;
            }
        }
        next
    }
}

/// The values a lookup found, as far as its combiners need them. The lookups of the same two inputs (one per
/// combiner) share it: a candidate looks the keys up once.
#[derive(Clone, Debug)]
pub struct Found {
    n: usize,
    sum: f64,
    max: f64,
    min: f64,
}

impl Default for Found {
    fn default() -> Self {
        Found {
            n: 0,
            sum: 0.0,
            max: f64::MIN,
            min: f64::MAX,
        }
    }
}

impl Found {
    fn add(&mut self, v: f64) {
        self.n += 1;
        self.sum += v;
        self.max = self.max.max(v);
        self.min = self.min.min(v);
    }

    /// The keys of `inputs[1]` looked up in the map of `inputs[0]`; none when the lookup gives no value (a
    /// missing input, or an item without click maps).
    pub(super) fn of(inputs: &[&Resolved], facts: &dyn CandidateFacts) -> Option<Found> {
        let key_list = keys(inputs[1])?;
        // Combined as found: no list of the values.
        let mut found = Found::default();
        match inputs[0] {
            Resolved::Map(m) => key_list
                .iter()
                .filter_map(|k| m.iter().find(|(mk, _)| mk == k).map(|e| e.1))
                .for_each(|v| found.add(v)),
            Resolved::ClickMap(map) => {
                if !facts.has_click_map() {
                    return None;
                }
                key_list
                    .iter()
                    .filter_map(|k| facts.click_map(*map, *k))
                    .for_each(|v| found.add(v));
            }
            _ => return None,
        }
        Some(found)
    }

    /// 0 when nothing was found.
    fn combined(&self, combiner: Combiner) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        match combiner {
            Combiner::Sum => self.sum,
            Combiner::Mean => self.sum / self.n as f64,
            Combiner::Max => self.max,
            Combiner::Min => self.min,
        }
    }
}

fn keys(r: &Resolved) -> Option<&[u64]> {
    match r {
        Resolved::Keys(k) if !k.is_empty() => Some(k),
        _ => None,
    }
}

/// `shared` is what an overlap or a lookup shares with the generators of the same inputs, computed by the
/// caller once for all of them.
pub(super) fn compute_one(
    spec: &Spec,
    generator: usize,
    inputs: &[&Resolved],
    facts: &dyn CandidateFacts,
    shared: Shared<'_>,
    numbers_out: &mut [f32],
    keys_out: &mut Vec<u64>,
) {
    let salt = generator as u64;
    match spec.kind {
        Kind::Raw => {
            if let Some(n) = numbers(inputs[0], facts) {
                for (out, v) in numbers_out.iter_mut().zip(n.as_slice()) {
                    *out = *v as f32;
                }
            }
        }
        Kind::Id | Kind::Combo => {
            // The cross product of the inputs' values, each hashed with the generator's salt.
            let mut acc = Keys::one(xxh3_64_with_seed(&salt.to_le_bytes(), 0x636f));
            for r in inputs {
                acc = match r {
                    Resolved::Counter(..) => match numbers(r, facts) {
                        Some(n) => {
                            acc.crossed(n.as_slice().iter().map(|v| discrete_key(&v.to_string())))
                        }
                        None => return,
                    },
                    _ => match keys(r) {
                        Some(k) => acc.crossed(k.iter().copied()),
                        None => return,
                    },
                };
            }
            keys_out.clear();
            keys_out.extend_from_slice(acc.as_slice());
        }
        Kind::Lookup => {
            if let Shared::Found(Some(found)) = shared {
                numbers_out[0] = found.combined(spec.combiner) as f32;
            }
        }
        Kind::Overlap => {
            let (Resolved::Text(q), Resolved::Text(t), Shared::Intersection(both)) =
                (inputs[0], inputs[1], shared)
            else {
                return;
            };
            if q.terms.is_empty() {
                return;
            }
            let value = match spec.method {
                OverlapMethod::QueryCommonRatio => {
                    (both.common.len() as f64 / q.terms.len() as f64 * 10.0).floor()
                }
                OverlapMethod::TitleCommonRatio if t.terms.is_empty() => return,
                OverlapMethod::TitleCommonRatio => {
                    (both.common.len() as f64 / t.terms.len() as f64 * 100.0).floor()
                }
                OverlapMethod::IsContain => {
                    f64::from(u8::from(t.normalised.contains(q.normalised.as_str())))
                }
                OverlapMethod::IsEqual => f64::from(u8::from(t.normalised == q.normalised)),
                OverlapMethod::CommonWord | OverlapMethod::DiffWord => {
                    let words = if spec.method == OverlapMethod::CommonWord {
                        &both.common
                    } else {
                        &both.diff
                    };
                    keys_out.clear();
                    keys_out.push(words_key(salt, words));
                    return;
                }
            };
            numbers_out[0] = value as f32;
        }
        Kind::Sequence => {
            let (Some(candidate), Resolved::Keys(history)) = (keys(inputs[1]), inputs[0]) else {
                return;
            };
            let recent = &history[history.len().saturating_sub(spec.sequence_length)..];
            numbers_out[0] = recent.iter().filter(|h| candidate.contains(h)).count() as f32;
        }
    }
}

/// A user's recent items as the keys of the sequence generator's candidate-side input: the item ids, or the
/// items' values of that attribute.
pub(super) fn sequence_keys(spec: &Spec, items: &[String], facts: &dyn Facts) -> Resolved {
    let recent = &items[items.len().saturating_sub(spec.sequence_length)..];
    let Some(candidate) = spec.inputs.get(1) else {
        return Resolved::Missing;
    };
    let keys: Vec<u64> = if candidate.name == "system_item_id" {
        recent.iter().map(|i| discrete_key(i)).collect()
    } else {
        recent
            .iter()
            .flat_map(
                |i| match from_value(facts.item_attribute(i, &candidate.name), Want::Keys) {
                    Resolved::Keys(k) => k,
                    _ => Vec::new(),
                },
            )
            .collect()
    };
    Resolved::Keys(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_words_key_is_the_hash_of_the_salt_and_words_bytes() {
        for words in [&[][..], &[7], &[1, u64::MAX, 42]] {
            let mut bytes = 5u64.to_le_bytes().to_vec();
            for w in words {
                bytes.extend_from_slice(&w.to_le_bytes());
            }
            assert_eq!(words_key(5, words), xxh3_64_with_seed(&bytes, 0x6f76));
        }
        assert_ne!(words_key(5, &[7]), words_key(6, &[7]), "salted");
    }
}
