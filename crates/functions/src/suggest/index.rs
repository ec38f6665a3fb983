//! The completion index of a `suggest` generation: built once from ranked candidates, never changed, answered
//! from two FSTs (see the module documentation of [`crate::suggest`]).

use algocenter_domain::Error;
use fst::automaton::Str;
use fst::{Automaton, IntoStreamer, Map, MapBuilder, Streamer};
use serde::{Deserialize, Serialize};

use super::typo::OneEdit;
use crate::TrainError;
use crate::query::{is_usable, normalise, pinyin_keys};

const MAGIC: &[u8; 5] = b"ACSUG";
const FORMAT_V1: u8 = 1;

/// Most completions a request may ask for.
pub const MAX_HIT: usize = 30;
/// Prefixes shared by more keys than this get a precomputed list.
pub const HEAVY_PREFIX: usize = 64;
/// Prefixes this long (in characters) or longer tolerate one typo.
pub const TYPO_MIN_CHARS: usize = 4;
/// Most keys a typo-tolerant lookup visits, to bound its time.
const TYPO_SCAN_LIMIT: usize = 4096;
/// A key's FST value with this bit set points into `multi` (several queries share the key).
const MULTI: u64 = 1 << 63;

/// A candidate completion.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub normal: String,
    pub display: String,
    pub weight: f64,
}

#[derive(Serialize, Deserialize)]
struct Body {
    displays: Vec<String>,
    keys: Vec<u8>,
    /// Runs of `[n, id, id, …]` for keys shared by several queries.
    multi: Vec<u32>,
    heavy: Vec<u8>,
    /// Runs of `[n, id, id, …]`: the best queries of each heavy prefix.
    lists: Vec<u32>,
}

/// A trained `suggest` generation.
pub struct SuggestIndex {
    displays: Vec<String>,
    keys: Map<Vec<u8>>,
    multi: Vec<u32>,
    heavy: Map<Vec<u8>>,
    lists: Vec<u32>,
}

impl std::fmt::Debug for SuggestIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuggestIndex")
            .field("queries", &self.displays.len())
            .field("keys", &self.keys.len())
            .field("heavy_prefixes", &self.heavy.len())
            .finish()
    }
}

/// A prefix being walked while the heavy prefixes are found.
struct OpenPrefix {
    /// Byte length of the prefix.
    end: usize,
    /// The first key that has it.
    first: usize,
    /// Its best queries found so far.
    best: Vec<u32>,
}

/// The MAX_HIT best (smallest) query numbers, once each, in order.
fn keep_best(ids: &mut Vec<u32>) {
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(MAX_HIT);
}

/// Orders candidates as the index numbers them: by weight, best first.
pub(super) fn rank(candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then_with(|| a.normal.cmp(&b.normal))
    });
}

fn run(slice: &[u32], at: usize) -> &[u32] {
    let n = slice.get(at).copied().unwrap_or(0) as usize;
    let start = at.saturating_add(1);
    slice.get(start..start.saturating_add(n)).unwrap_or(&[])
}

fn build_error(e: fst::Error) -> TrainError {
    TrainError::Failed(format!("building the suggestion index: {e}"))
}

/// Byte offsets of the ends of each character prefix of `key` (1 char, 2 chars, …, all).
pub(super) fn prefix_ends(key: &str) -> impl Iterator<Item = usize> + '_ {
    key.char_indices()
        .skip(1)
        .map(|(i, _)| i)
        .chain(std::iter::once(key.len()))
}

impl SuggestIndex {
    /// Builds the index of `candidates` (any order).
    pub fn build(mut candidates: Vec<Candidate>, pinyin: bool) -> Result<Self, TrainError> {
        rank(&mut candidates);
        let mut pairs: Vec<(String, u32)> = Vec::with_capacity(candidates.len() * 2);
        for (id, c) in candidates.iter().enumerate() {
            let id = id as u32;
            pairs.push((c.normal.clone(), id));
            if pinyin && let Some((full, initials)) = pinyin_keys(&c.normal) {
                pairs.push((full, id));
                if initials.chars().count() >= 2 {
                    pairs.push((initials, id));
                }
            }
        }
        pairs.sort();
        pairs.dedup();

        // Keys with their queries (several when a pinyin key equals another query or its pinyin).
        let mut keys: Vec<(String, Vec<u32>)> = Vec::with_capacity(pairs.len());
        for (key, id) in pairs {
            match keys.last_mut() {
                Some((last, ids)) if *last == key => ids.push(id),
                _ => keys.push((key, vec![id])),
            }
        }
        let mut multi = Vec::new();
        let mut builder = MapBuilder::memory();
        for (key, ids) in &keys {
            let value = match ids.as_slice() {
                [one] => u64::from(*one),
                many => {
                    let at = multi.len() as u64;
                    multi.push(many.len() as u32);
                    multi.extend_from_slice(many);
                    MULTI | at
                }
            };
            builder.insert(key, value).map_err(build_error)?;
        }
        let key_map = Map::new(builder.into_inner().map_err(build_error)?).map_err(build_error)?;

        // Heavy prefixes: the keys sharing a prefix are a contiguous run of the sorted keys. A stack of open
        // prefixes walks them in one pass; each keeps only its best MAX_HIT queries, which it hands to its
        // parent when it closes, so long shared prefixes never gather every id below them.
        let mut heavy: Vec<(String, Vec<u32>)> = Vec::new();
        let mut open: Vec<OpenPrefix> = Vec::new();
        let close = |prefix: OpenPrefix,
                     last: usize,
                     open: &mut Vec<OpenPrefix>,
                     heavy: &mut Vec<(String, Vec<u32>)>| {
            let mut best = prefix.best;
            keep_best(&mut best);
            if last - prefix.first > HEAVY_PREFIX {
                heavy.push((keys[prefix.first].0[..prefix.end].to_string(), best.clone()));
            }
            if let Some(parent) = open.last_mut() {
                parent.best.extend(best);
                if parent.best.len() > 4 * MAX_HIT {
                    keep_best(&mut parent.best);
                }
            }
        };
        for (i, (key, ids)) in keys.iter().enumerate() {
            // Close the open prefixes this key does not share.
            while let Some(top) = open.last() {
                let shared = key.len() >= top.end
                    && keys[top.first].0.as_bytes()[..top.end] == key.as_bytes()[..top.end];
                if shared {
                    break;
                }
                let Some(done) = open.pop() else { break };
                close(done, i, &mut open, &mut heavy);
            }
            let deepest = open.last().map_or(0, |p| p.end);
            for end in prefix_ends(key).filter(|&end| end > deepest) {
                open.push(OpenPrefix {
                    end,
                    first: i,
                    best: Vec::new(),
                });
            }
            // The deepest open prefix is now the key itself (sorted keys put a prefix before its extensions).
            if let Some(own) = open.last_mut() {
                own.best.extend_from_slice(ids);
            }
        }
        while let Some(done) = open.pop() {
            close(done, keys.len(), &mut open, &mut heavy);
        }
        heavy.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lists = Vec::new();
        let mut builder = MapBuilder::memory();
        for (prefix, ids) in &heavy {
            builder
                .insert(prefix, lists.len() as u64)
                .map_err(build_error)?;
            lists.push(ids.len() as u32);
            lists.extend_from_slice(ids);
        }
        let heavy_map =
            Map::new(builder.into_inner().map_err(build_error)?).map_err(build_error)?;
        Ok(SuggestIndex {
            displays: candidates.into_iter().map(|c| c.display).collect(),
            keys: key_map,
            multi,
            heavy: heavy_map,
            lists,
        })
    }

    fn push_ids(&self, value: u64, out: &mut Vec<u32>) {
        if value & MULTI != 0 {
            out.extend_from_slice(run(&self.multi, (value & !MULTI) as usize));
        } else {
            out.push(value as u32);
        }
    }

    /// Query ids completing a normalised prefix, best first, at most `hit`.
    pub(super) fn complete_ids(&self, prefix: &str, hit: usize, typos: bool) -> Vec<u32> {
        let hit = hit.min(MAX_HIT);
        if prefix.is_empty() || hit == 0 {
            return Vec::new();
        }
        let mut ids: Vec<u32> = match self.heavy.get(prefix) {
            Some(at) => run(&self.lists, at as usize).to_vec(),
            None => {
                let mut ids = Vec::new();
                let mut stream = self
                    .keys
                    .search(Str::new(prefix).starts_with())
                    .into_stream();
                while let Some((_, value)) = stream.next() {
                    self.push_ids(value, &mut ids);
                }
                ids.sort_unstable();
                ids.dedup();
                ids
            }
        };
        ids.truncate(hit);
        if typos && ids.len() < hit && prefix.chars().count() >= TYPO_MIN_CHARS {
            // Exact completions first; near ones after them, best first.
            let mut near = Vec::new();
            let mut visited = 0;
            if let Some(automaton) = OneEdit::new(prefix) {
                let mut stream = self.keys.search(automaton.starts_with()).into_stream();
                while let Some((_, value)) = stream.next() {
                    self.push_ids(value, &mut near);
                    visited += 1;
                    if visited >= TYPO_SCAN_LIMIT {
                        break;
                    }
                }
            }
            // Two neighbouring characters typed the other way round: one typo to the user, two edits to
            // Levenshtein.
            let chars: Vec<char> = prefix.chars().collect();
            for i in 0..chars.len() - 1 {
                if chars[i] == chars[i + 1] || visited >= TYPO_SCAN_LIMIT {
                    continue;
                }
                let mut swapped = chars.clone();
                swapped.swap(i, i + 1);
                let swapped: String = swapped.into_iter().collect();
                let mut stream = self
                    .keys
                    .search(Str::new(&swapped).starts_with())
                    .into_stream();
                while let Some((_, value)) = stream.next() {
                    self.push_ids(value, &mut near);
                    visited += 1;
                    if visited >= TYPO_SCAN_LIMIT {
                        break;
                    }
                }
            }
            near.sort_unstable();
            near.dedup();
            for id in near {
                if ids.len() >= hit {
                    break;
                }
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// Completions of what a user typed (normalised here), best first, at most `hit` (≤ [`MAX_HIT`]).
    pub fn suggest(&self, typed: &str, hit: usize) -> Vec<&str> {
        let prefix = normalise(typed);
        // No query that long was indexed, and NFKC can make a short request long.
        if !is_usable(&prefix) {
            return Vec::new();
        }
        self.complete_ids(&prefix, hit, true)
            .into_iter()
            .map(|id| self.displays[id as usize].as_str())
            .collect()
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.displays.len()
    }

    pub fn is_empty(&self) -> bool {
        self.displays.is_empty()
    }

    /// Sizes for `ExtendInfo`: keys, heavy prefixes.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub fn heavy_prefix_count(&self) -> usize {
        self.heavy.len()
    }

    pub(super) fn encode(&self) -> Result<Vec<u8>, TrainError> {
        let body = Body {
            displays: self.displays.clone(),
            keys: self.keys.as_fst().as_bytes().to_vec(),
            multi: self.multi.clone(),
            heavy: self.heavy.as_fst().as_bytes().to_vec(),
            lists: self.lists.clone(),
        };
        let body = postcard::to_allocvec(&body)
            .map_err(|e| TrainError::Failed(format!("encoding the index: {e}")))?;
        let mut out = Vec::with_capacity(body.len() + MAGIC.len() + 1);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_V1);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads an artifact; a foreign, truncated or corrupt file is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let body = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| Error::internal("not a suggestion index artifact"))?;
        let corrupt = |e: &dyn std::fmt::Display| {
            Error::internal(format_args!("corrupt suggestion index artifact: {e}"))
        };
        let body: Body = match body.split_first() {
            Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest).map_err(|e| corrupt(&e))?,
            Some((format, _)) => {
                return Err(Error::internal(format_args!(
                    "suggestion index artifact of unknown format {format}"
                )));
            }
            None => return Err(Error::internal("truncated suggestion index artifact")),
        };
        let index = SuggestIndex {
            keys: Map::new(body.keys).map_err(|e| corrupt(&e))?,
            heavy: Map::new(body.heavy).map_err(|e| corrupt(&e))?,
            displays: body.displays,
            multi: body.multi,
            lists: body.lists,
        };
        // Every id the maps can yield must name a query: a corrupt file must not panic a request.
        let n = index.displays.len() as u32;
        let mut bad = false;
        let mut stream = index.keys.stream();
        while let Some((_, value)) = stream.next() {
            let mut ids = Vec::new();
            index.push_ids(value, &mut ids);
            bad |= ids.is_empty() || ids.iter().any(|&id| id >= n);
        }
        let mut stream = index.heavy.stream();
        while let Some((_, at)) = stream.next() {
            bad |= run(&index.lists, at as usize).iter().any(|&id| id >= n);
        }
        if bad {
            return Err(corrupt(&"an entry points outside the index"));
        }
        Ok(index)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn index(queries: &[(&str, f64)], pinyin: bool) -> SuggestIndex {
        SuggestIndex::build(
            queries
                .iter()
                .map(|(q, w)| Candidate {
                    normal: normalise(q),
                    display: q.to_string(),
                    weight: *w,
                })
                .collect(),
            pinyin,
        )
        .unwrap()
    }

    #[test]
    fn completions_are_ranked_by_weight() {
        let idx = index(
            &[
                ("dress", 5.0),
                ("dress red", 9.0),
                ("drum", 7.0),
                ("coat", 100.0),
            ],
            false,
        );
        assert_eq!(idx.suggest("dr", 10), ["dress red", "drum", "dress"]);
        assert_eq!(idx.suggest("DRE", 10), ["dress red", "dress"]);
        assert_eq!(idx.suggest("dr", 1), ["dress red"]);
        assert!(idx.suggest("x", 10).is_empty());
        assert!(idx.suggest("", 10).is_empty());
    }

    #[test]
    fn chinese_completes_by_characters_and_by_pinyin() {
        let idx = index(
            &[
                ("连衣裙", 10.0),
                ("连衣裙 夏季", 4.0),
                ("连帽衫", 6.0),
                ("dress", 1.0),
            ],
            true,
        );
        assert_eq!(idx.suggest("连", 10), ["连衣裙", "连帽衫", "连衣裙 夏季"]);
        assert_eq!(idx.suggest("连衣", 10), ["连衣裙", "连衣裙 夏季"]);
        assert_eq!(idx.suggest("lian", 10), ["连衣裙", "连帽衫", "连衣裙 夏季"]);
        assert_eq!(idx.suggest("lyq", 10), ["连衣裙", "连衣裙 夏季"]);
        assert_eq!(idx.suggest("d", 10), ["dress"]);
        let plain = index(&[("连衣裙", 10.0)], false);
        assert!(plain.suggest("lian", 10).is_empty());
    }

    #[test]
    fn one_typo_is_forgiven_from_four_characters() {
        let idx = index(
            &[("headphones", 10.0), ("heart", 3.0), ("leather shoes", 2.0)],
            false,
        );
        assert_eq!(idx.suggest("hedp", 10), ["headphones"]);
        assert_eq!(idx.suggest("headphnes", 10), ["headphones"]);
        assert_eq!(
            idx.suggest("haedph", 10),
            ["headphones"],
            "swapped neighbours"
        );
        // Exact completions come first.
        assert_eq!(idx.suggest("hear", 10), ["heart", "headphones"]);
        // Too short to guess.
        assert!(idx.suggest("hep", 10).is_empty());
    }

    #[test]
    fn heavy_prefixes_answer_from_their_lists_like_a_scan_would() {
        let queries: Vec<(String, f64)> = (0..500)
            .map(|i| (format!("q{i:03} item"), f64::from((i * 7919) % 500)))
            .collect();
        let refs: Vec<(&str, f64)> = queries.iter().map(|(q, w)| (q.as_str(), *w)).collect();
        let idx = index(&refs, false);
        assert!(idx.heavy_prefix_count() >= 2, "'q', 'q0', … are heavy");
        let mut want: Vec<&(String, f64)> = queries
            .iter()
            .filter(|(q, _)| q.starts_with("q1"))
            .collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1));
        let want: Vec<&str> = want.iter().take(10).map(|(q, _)| q.as_str()).collect();
        assert_eq!(idx.suggest("q1", 10), want);
        assert_eq!(idx.suggest("q", 30).len(), 30);
        assert_eq!(idx.suggest("q12", 30).len(), 10);
    }

    #[test]
    fn the_artifact_round_trips_and_corruption_is_an_error() {
        let idx = index(&[("连衣裙", 10.0), ("dress", 3.0)], true);
        let bytes = idx.encode().unwrap();
        let back = SuggestIndex::decode(&bytes).unwrap();
        assert_eq!(back.suggest("lyq", 5), ["连衣裙"]);
        assert!(SuggestIndex::decode(&bytes[..bytes.len() / 2]).is_err());
        assert!(SuggestIndex::decode(b"ACPOP\x01").is_err());
    }
}
