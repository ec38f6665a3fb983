//! Mining synonym pairs from one window of the query log (see the module documentation of
//! [`crate::synonym`] for the method).

use std::collections::{HashMap, HashSet};

use super::clicks::{Clicks, Scale};
use super::units::{Alignment, Vocabulary, join};
use crate::correction::deletions::DeletionIndex;
use crate::correction::distance::edits;
use crate::correction::same_spelling;
use crate::held_out::Window;
use crate::query::is_cjk;
use crate::query::log::{LogFilter, QueryLog};

/// Queries (or cores) filed under one clicked item at most when co-clicks are counted: the item's most
/// clicked ones. An item everyone clicks says little about which queries mean the same.
const MAX_QUERIES_PER_ITEM: usize = 64;
/// Contexts a word must be dropped in, without changing the clicks, to count as droppable.
const MIN_DROP_CONTEXTS: u32 = 2;
/// Clicks at which the similarity of two queries is trusted half (their smaller click count).
const HALF_TRUST_CLICKS: f64 = 15.0;
/// Weights of the evidence in a pair's score.
const SIMILARITY_WEIGHT: f64 = 0.6;
const REFORMULATION_WEIGHT: f64 = 0.3;
const TITLE_WEIGHT: f64 = 0.1;

#[derive(Clone, Copy, Debug)]
pub(super) struct Settings {
    pub filter: LogFilter,
    pub session_ms: i64,
    pub min_clicks: f64,
    pub min_similarity: f64,
    pub min_reformulations: u32,
    pub max_synonyms: usize,
}

/// A learned pair. Two-way pairs are synonyms both ways; a one-way pair expands `a` with `b` only (users who
/// typed `a` meant `b`).
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub a: String,
    pub b: String,
    pub score: f32,
    pub two_way: bool,
    pub intervened: bool,
}

/// What mining a window found, for `ExtendInfo`.
#[derive(Clone, Debug, Default)]
pub(super) struct Found {
    pub pairs: Vec<Pair>,
    pub droppable: usize,
    pub cores: usize,
    pub compared: usize,
    pub reformulations: usize,
}

/// Clicks per query of the kept searches of `window`.
pub(super) fn query_clicks(
    log: &QueryLog,
    window: Window,
    filter: LogFilter,
) -> HashMap<u32, Clicks> {
    let (kept, _) = log.kept(window.from_ms, window.to_ms, filter);
    let mut counts: HashMap<u32, Vec<(u32, f32)>> = HashMap::new();
    for s in kept {
        let query = log.searches[s as usize].query;
        for click in log.clicks_of(s, window.to_ms) {
            counts.entry(query).or_default().push((click.item, 1.0));
        }
    }
    counts
        .into_iter()
        .map(|(q, c)| (q, Clicks::from_counts(c)))
        .collect()
}

/// Pairs of `vectors` (by their index) that share clicked items, with their dot products.
pub(super) fn shared_items(vectors: &[&Clicks]) -> HashMap<(u32, u32), f64> {
    let mut by_item: HashMap<u32, Vec<(u32, f32)>> = HashMap::new();
    for (id, clicks) in vectors.iter().enumerate() {
        for &(item, n) in clicks.items() {
            by_item.entry(item).or_default().push((id as u32, n));
        }
    }
    let mut dots: HashMap<(u32, u32), f64> = HashMap::new();
    for mut filed in by_item.into_values() {
        if filed.len() > MAX_QUERIES_PER_ITEM {
            filed.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            filed.truncate(MAX_QUERIES_PER_ITEM);
        }
        for (i, &(a, x)) in filed.iter().enumerate() {
            for &(b, y) in &filed[i + 1..] {
                let key = if a < b { (a, b) } else { (b, a) };
                *dots.entry(key).or_default() += f64::from(x) * f64::from(y);
            }
        }
    }
    dots
}

/// Evidence gathered for one pair of terms, over the contexts it was seen in.
#[derive(Default)]
struct Evidence {
    /// The contexts, numbers left out (`mat` and `mat 832` are one context).
    contexts: HashSet<String>,
    /// The cores on each side: their clicks are pooled, so that many small contexts weigh as their sum.
    left: HashSet<u32>,
    right: HashSet<u32>,
    /// Distinct users reformulating left → right and right → left.
    forward: HashSet<u32>,
    backward: HashSet<u32>,
    /// The whole cores of a context (one without numbers if there is one), kept when the pair was seen in one
    /// context only.
    phrases: Option<(String, String, bool)>,
}

/// Latin-script words known to be spelled right: those of item titles and of clicked queries. A reformulation
/// from a query with a word one edit from a known word is a misspelling corrected, not a synonym.
struct Spelling {
    known: HashSet<String>,
    words: Vec<String>,
    index: Option<DeletionIndex>,
}

impl Spelling {
    fn new(known: HashSet<String>) -> Spelling {
        let words: Vec<String> = known
            .iter()
            .filter(|w| w.chars().count() >= 3)
            .cloned()
            .collect();
        let index = DeletionIndex::build(&words, 1).ok();
        Spelling {
            known,
            words,
            index,
        }
    }

    fn misspelled(&self, units: &[String]) -> bool {
        let Some(index) = &self.index else {
            return false;
        };
        units.iter().any(|w| {
            let chars: Vec<char> = w.chars().collect();
            chars.len() >= 3
                && chars
                    .iter()
                    .all(|c| (c.is_alphabetic() || *c == '-') && !is_cjk(*c))
                && !self.known.contains(w)
                && index.candidates(&chars).iter().any(|&id| {
                    edits(&self.words[id as usize].chars().collect::<Vec<_>>(), &chars) <= 1
                })
        })
    }
}

/// How far a similarity measured on `clicks` clicks can be trusted, in [0, 1).
fn trust(clicks: f64) -> f64 {
    clicks / (clicks + HALF_TRUST_CLICKS)
}

/// Each query's units and core: the query without its droppable words.
struct Cores<'a> {
    log: &'a QueryLog,
    vocabulary: &'a Vocabulary,
    droppable: HashSet<String>,
    units: HashMap<u32, Vec<String>>,
    ids: HashMap<String, u32>,
    /// Each core's units and queries.
    cores: Vec<(Vec<String>, Vec<u32>)>,
    of: HashMap<u32, u32>,
}

impl<'a> Cores<'a> {
    fn new(log: &'a QueryLog, vocabulary: &'a Vocabulary) -> Self {
        Cores {
            log,
            vocabulary,
            droppable: HashSet::new(),
            units: HashMap::new(),
            ids: HashMap::new(),
            cores: Vec::new(),
            of: HashMap::new(),
        }
    }

    fn units(&mut self, q: u32) -> &[String] {
        let (log, vocabulary) = (self.log, self.vocabulary);
        self.units
            .entry(q)
            .or_insert_with(|| vocabulary.units(log.query(q)))
    }

    /// Words whose removal leaves a query's clicks as they were (`acme dress` and `dress`), in at least
    /// [`MIN_DROP_CONTEXTS`] queries on average alike at `min_similarity`.
    fn find_droppable(
        &mut self,
        clicks: &HashMap<u32, Clicks>,
        scale: &Scale,
        settings: &Settings,
    ) {
        let mut stats: HashMap<String, (f64, u32)> = HashMap::new();
        let mut queries: Vec<u32> = clicks
            .iter()
            .filter(|(_, c)| c.total() >= settings.min_clicks)
            .map(|(&q, _)| q)
            .collect();
        queries.sort_unstable();
        for q in queries {
            let units = self.units(q).to_vec();
            if units.len() < 2 {
                continue;
            }
            for i in 0..units.len() {
                let mut rest = units.clone();
                rest.remove(i);
                let Some(r) = self.log.query_id_of(&join(&rest)) else {
                    continue;
                };
                let Some(rc) = clicks
                    .get(&r)
                    .filter(|rc| rc.total() >= settings.min_clicks)
                else {
                    continue;
                };
                let stat = stats.entry(units[i].clone()).or_default();
                stat.0 += scale.similarity(&clicks[&q], rc);
                stat.1 += 1;
            }
        }
        self.droppable = stats
            .into_iter()
            .filter(|(_, (sum, n))| {
                *n >= MIN_DROP_CONTEXTS && sum / f64::from(*n) >= settings.min_similarity
            })
            .map(|(w, _)| w)
            .collect();
    }

    /// The core of a query, numbered.
    fn core(&mut self, q: u32) -> u32 {
        if let Some(&c) = self.of.get(&q) {
            return c;
        }
        let all = self.units(q).to_vec();
        let kept: Vec<String> = all
            .iter()
            .filter(|w| !self.droppable.contains(*w))
            .cloned()
            .collect();
        let kept = if kept.is_empty() { all } else { kept };
        let text = join(&kept);
        let cores = &mut self.cores;
        let id = *self.ids.entry(text).or_insert_with(|| {
            cores.push((kept, Vec::new()));
            (cores.len() - 1) as u32
        });
        self.cores[id as usize].1.push(q);
        self.of.insert(q, id);
        id
    }

    fn text(&self, core: u32) -> String {
        join(&self.cores[core as usize].0)
    }
}

/// Distinct users who searched one core and, within the session, another one and clicked it; misspellings
/// retyped are left out.
fn reformulations(
    log: &QueryLog,
    cores: &mut Cores<'_>,
    spelling: &Spelling,
    settings: &Settings,
    window: Window,
) -> HashMap<(u32, u32), HashSet<u32>> {
    let (kept, _) = log.kept(window.from_ms, window.to_ms, settings.filter);
    let mut by_user: Vec<u32> = kept
        .into_iter()
        .filter(|&s| log.searches[s as usize].identity != 0)
        .collect();
    by_user.sort_by_key(|&s| {
        let s = &log.searches[s as usize];
        (s.identity, s.at_ms)
    });
    let mut out: HashMap<(u32, u32), HashSet<u32>> = HashMap::new();
    for pair in by_user.windows(2) {
        let (a, b) = (
            &log.searches[pair[0] as usize],
            &log.searches[pair[1] as usize],
        );
        if a.identity != b.identity
            || a.query == b.query
            || b.at_ms - a.at_ms > settings.session_ms
            || log.clicks_of(pair[1], window.to_ms).next().is_none()
        {
            continue;
        }
        // A misspelling retyped, whatever was typed next, is the correction function's business.
        if same_spelling(log.query(a.query), log.query(b.query))
            || spelling.misspelled(cores.units(a.query))
            || spelling.misspelled(cores.units(b.query))
        {
            continue;
        }
        let (ca, cb) = (cores.core(a.query), cores.core(b.query));
        if ca != cb {
            out.entry((ca, cb)).or_default().insert(a.identity);
        }
    }
    out
}

pub(super) fn mine(
    log: &QueryLog,
    vocabulary: &Vocabulary,
    aligned_titles: &HashMap<(String, String), u32>,
    settings: &Settings,
    window: Window,
) -> Found {
    let clicks = query_clicks(log, window, settings.filter);
    let scale = Scale::of(clicks.values());
    let mut cores = Cores::new(log, vocabulary);
    cores.find_droppable(&clicks, &scale, settings);
    let mut clicked: Vec<u32> = clicks.keys().copied().collect();
    clicked.sort_unstable();
    let mut known: HashSet<String> = vocabulary.latin_words().cloned().collect();
    for &q in &clicked {
        cores.core(q);
        let units = cores.units(q);
        known.extend(units.iter().filter(|w| !w.chars().any(is_cjk)).cloned());
    }
    let spelling = Spelling::new(known);
    let reformulated = reformulations(log, &mut cores, &spelling, settings, window);

    let core_clicks: Vec<Clicks> = cores
        .cores
        .iter()
        .map(|(_, qs)| Clicks::sum(qs.iter().filter_map(|q| clicks.get(q))))
        .collect();
    let compared: Vec<u32> = (0..cores.cores.len() as u32)
        .filter(|&c| core_clicks[c as usize].total() >= settings.min_clicks)
        .collect();
    let vectors: Vec<&Clicks> = compared.iter().map(|&c| &core_clicks[c as usize]).collect();
    let mut candidates: HashSet<(u32, u32)> = HashSet::new();
    for ((i, j), dot) in shared_items(&vectors) {
        if scale.similarity_with_dot(vectors[i as usize], vectors[j as usize], dot)
            >= settings.min_similarity / 2.0
        {
            let (a, b) = (compared[i as usize], compared[j as usize]);
            candidates.insert((a.min(b), a.max(b)));
        }
    }
    candidates.extend(reformulated.keys().map(|&(a, b)| (a.min(b), a.max(b))));

    // Each pair of cores as a pair of terms: what differs between them, in the context they share.
    let mut evidence: HashMap<(String, String), Evidence> = HashMap::new();
    let mut sorted: Vec<(u32, u32)> = candidates.into_iter().collect();
    sorted.sort_unstable();
    for (a, b) in sorted {
        let alignment = Alignment::of(&cores.cores[a as usize].0, &cores.cores[b as usize].0);
        if alignment.left.is_empty() || alignment.right.is_empty() {
            // One is the other with more words: a narrower query, not a synonym.
            continue;
        }
        let numeric = |w: &String| w.chars().any(|c| c.is_numeric());
        if alignment.left.iter().chain(&alignment.right).any(numeric) {
            continue;
        }
        let (left, right) = (join(&alignment.left), join(&alignment.right));
        let (whole_a, whole_b) = (cores.text(a), cores.text(b));
        // A misspelling is the correction function's business.
        if same_spelling(&left, &right) || same_spelling(&whole_a, &whole_b) {
            continue;
        }
        let flip = left > right;
        let key = if flip { (right, left) } else { (left, right) };
        let e = evidence.entry(key).or_default();
        let plain = |side: &[String]| {
            side.iter()
                .filter(|w| !numeric(w))
                .cloned()
                .collect::<Vec<_>>()
        };
        let canonical = Alignment {
            before: plain(&alignment.before),
            after: plain(&alignment.after),
            ..alignment.clone()
        };
        e.contexts.insert(canonical.context_key());
        let (to_left, to_right) = if flip { (b, a) } else { (a, b) };
        e.left.insert(to_left);
        e.right.insert(to_right);
        e.forward
            .extend(reformulated.get(&(to_left, to_right)).into_iter().flatten());
        e.backward
            .extend(reformulated.get(&(to_right, to_left)).into_iter().flatten());
        let with_numbers = alignment.before.iter().chain(&alignment.after).any(numeric);
        if canonical.has_context() && e.phrases.as_ref().is_none_or(|p| p.2 && !with_numbers) {
            let (x, y) = if flip {
                (whole_b, whole_a)
            } else {
                (whole_a, whole_b)
            };
            e.phrases = Some((x, y, with_numbers));
        }
    }

    let mut pairs: Vec<Pair> = Vec::new();
    for ((left, right), e) in evidence {
        let pooled =
            |side: &HashSet<u32>| Clicks::sum(side.iter().map(|&c| &core_clicks[c as usize]));
        let (x, y) = (pooled(&e.left), pooled(&e.right));
        let sim = (x.total() >= settings.min_clicks && y.total() >= settings.min_clicks)
            .then(|| scale.similarity(&x, &y));
        let confidence = trust(x.total().min(y.total()));
        let reformulations = (e.forward.len() + e.backward.len()) as u32;
        let similar = sim.is_some_and(|s| s >= settings.min_similarity);
        // Retyped by enough users, and the clicks of both sides, when there are enough, do not disagree (a
        // word the search engine does not know gets no clicks at all: that is when users retype it most).
        let retyped = reformulations >= settings.min_reformulations
            && sim.is_none_or(|s| s >= settings.min_similarity / 2.0);
        if !similar && !retyped {
            continue;
        }
        // A difference seen in one context only is kept with its context (`yoga mat`, `exercise mat`).
        let one_context = e.contexts.len() == 1 && !e.contexts.contains("\u{1}");
        let (a, b) = match (&e.phrases, one_context) {
            (Some((x, y, _)), true) => (x.clone(), y.clone()),
            _ => (left.clone(), right.clone()),
        };
        let aligned = aligned_titles
            .get(&(left.clone(), right.clone()))
            .copied()
            .unwrap_or(0);
        let score = SIMILARITY_WEIGHT * sim.unwrap_or(0.0).clamp(0.0, 1.0) * confidence
            + REFORMULATION_WEIGHT
                * (1.0
                    - 0.5f64
                        .powf(f64::from(reformulations) / f64::from(settings.min_reformulations)))
            + TITLE_WEIGHT * (1.0 - 0.5f64.powf(f64::from(aligned) / 2.0));
        let score = ((score * 10_000.0).round() / 10_000.0) as f32;
        let (a, b) = if similar || e.forward.len() >= e.backward.len() {
            (a, b)
        } else {
            (b, a)
        };
        pairs.push(Pair {
            a,
            b,
            score,
            two_way: similar,
            intervened: false,
        });
    }
    pairs.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then_with(|| (&x.a, &x.b).cmp(&(&y.a, &y.b)))
    });
    // At most `max_synonyms` per term, best first.
    let mut per_term: HashMap<String, usize> = HashMap::new();
    pairs.retain(|p| {
        let ok = per_term.get(&p.a).copied().unwrap_or(0) < settings.max_synonyms
            && per_term.get(&p.b).copied().unwrap_or(0) < settings.max_synonyms;
        if ok {
            *per_term.entry(p.a.clone()).or_default() += 1;
            *per_term.entry(p.b.clone()).or_default() += 1;
        }
        ok
    });
    Found {
        pairs,
        droppable: cores.droppable.len(),
        cores: cores.cores.len(),
        compared: compared.len(),
        reformulations: reformulated.len(),
    }
}

/// The co-click-cosine-only baseline: pairs of whole queries ranked by the plain cosine of their clicks.
pub(super) fn cosine_baseline(
    log: &QueryLog,
    settings: &Settings,
    window: Window,
    limit: usize,
) -> Vec<(String, String, f64)> {
    let clicks = query_clicks(log, window, settings.filter);
    let mut queries: Vec<u32> = clicks
        .iter()
        .filter(|(_, c)| c.total() >= settings.min_clicks)
        .map(|(&q, _)| q)
        .collect();
    queries.sort_unstable();
    let vectors: Vec<&Clicks> = queries.iter().map(|q| &clicks[q]).collect();
    let mut pairs: Vec<(String, String, f64)> = shared_items(&vectors)
        .into_iter()
        .map(|((i, j), _)| {
            (
                log.query(queries[i as usize]).to_string(),
                log.query(queries[j as usize]).to_string(),
                vectors[i as usize].cosine(vectors[j as usize]),
            )
        })
        .collect();
    pairs.sort_by(|x, y| {
        y.2.total_cmp(&x.2)
            .then_with(|| (&x.0, &x.1).cmp(&(&y.0, &y.1)))
    });
    pairs.truncate(limit);
    pairs
}
