//! One generator computed for one example, from its inputs as the two sides resolved them.

use algocenter_domain::feature_generator::{Combiner, Kind, OverlapMethod, Spec};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::{Facts, MAX_KEYS, Resolved, Want, discrete_key, from_value};

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
fn numbers<'a>(r: &'a Resolved, item: &str, facts: &dyn Facts) -> Option<Numbers<'a>> {
    match r {
        Resolved::Numbers(n) => Some(Numbers::Stored(n)),
        Resolved::Counter(c, d) => facts.counter(item, *c, *d).map(Numbers::Counted),
        _ => None,
    }
}

/// The values a lookup found, as far as its combiners need them.
struct Found {
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

pub(super) fn compute_one(
    spec: &Spec,
    generator: usize,
    inputs: &[&Resolved],
    item: &str,
    facts: &dyn Facts,
    numbers_out: &mut [f32],
    keys_out: &mut Vec<u64>,
) {
    let salt = generator as u64;
    match spec.kind {
        Kind::Raw => {
            if let Some(n) = numbers(inputs[0], item, facts) {
                for (out, v) in numbers_out.iter_mut().zip(n.as_slice()) {
                    *out = *v as f32;
                }
            }
        }
        Kind::Id | Kind::Combo => {
            // The cross product of the inputs' values, each hashed with the generator's salt.
            let mut acc: Vec<u64> = vec![xxh3_64_with_seed(&salt.to_le_bytes(), 0x636f)];
            for r in inputs {
                let counted: Vec<u64>;
                let values: &[u64] = match r {
                    Resolved::Counter(..) => match numbers(r, item, facts) {
                        Some(n) => {
                            counted = n
                                .as_slice()
                                .iter()
                                .map(|v| discrete_key(&v.to_string()))
                                .collect();
                            &counted
                        }
                        None => return,
                    },
                    _ => match keys(r) {
                        Some(k) => k,
                        None => return,
                    },
                };
                let mut next = Vec::with_capacity((acc.len() * values.len()).min(MAX_KEYS));
                'cross: for a in &acc {
                    for v in values {
                        if next.len() == MAX_KEYS {
                            break 'cross;
                        }
                        let mut bytes = [0u8; 16];
                        bytes[..8].copy_from_slice(&a.to_le_bytes());
                        bytes[8..].copy_from_slice(&v.to_le_bytes());
                        next.push(xxh3_64_with_seed(&bytes, 0x636f));
                    }
                }
                acc = next;
            }
            *keys_out = acc;
        }
        Kind::Lookup => {
            let Some(key_list) = keys(inputs[1]) else {
                return;
            };
            // Combined as found: no list of the values.
            let mut found = Found::default();
            match inputs[0] {
                Resolved::Map(m) => key_list
                    .iter()
                    .filter_map(|k| m.iter().find(|(mk, _)| mk == k).map(|e| e.1))
                    .for_each(|v| found.add(v)),
                Resolved::ClickMap(map) => {
                    if !facts.has_click_map(item) {
                        return;
                    }
                    key_list
                        .iter()
                        .filter_map(|k| facts.click_map(item, *map, *k))
                        .for_each(|v| found.add(v));
                }
                _ => return,
            }
            numbers_out[0] = found.combined(spec.combiner) as f32;
        }
        Kind::Overlap => {
            let (Resolved::Text(q), Resolved::Text(t)) = (inputs[0], inputs[1]) else {
                return;
            };
            if q.terms.is_empty() {
                return;
            }
            // Both term lists are sorted and distinct.
            let in_title = |k: &u64| t.terms.binary_search(k).is_ok();
            let common: Vec<u64> = q.terms.iter().copied().filter(in_title).collect();
            let value = match spec.method {
                OverlapMethod::QueryCommonRatio => {
                    (common.len() as f64 / q.terms.len() as f64 * 10.0).floor()
                }
                OverlapMethod::TitleCommonRatio if t.terms.is_empty() => return,
                OverlapMethod::TitleCommonRatio => {
                    (common.len() as f64 / t.terms.len() as f64 * 100.0).floor()
                }
                OverlapMethod::IsContain => {
                    f64::from(u8::from(t.normalised.contains(q.normalised.as_str())))
                }
                OverlapMethod::IsEqual => f64::from(u8::from(t.normalised == q.normalised)),
                OverlapMethod::CommonWord | OverlapMethod::DiffWord => {
                    let words: Vec<u64> = if spec.method == OverlapMethod::CommonWord {
                        common
                    } else {
                        q.terms.iter().copied().filter(|k| !in_title(k)).collect()
                    };
                    let mut bytes = salt.to_le_bytes().to_vec();
                    for w in words {
                        bytes.extend_from_slice(&w.to_le_bytes());
                    }
                    *keys_out = vec![xxh3_64_with_seed(&bytes, 0x6f76)];
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
