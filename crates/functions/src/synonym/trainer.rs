//! The `synonym` trainer: item titles and the query log are read once; pairs mined on the window before the
//! held-out days are judged by the held-out days' co-clicks next to the co-click-cosine baseline, and the served
//! pairs are mined again on the whole window.

use std::collections::{HashMap, HashSet};

use algocenter_domain::Function;
use algocenter_domain::data::WindowCounts;

use super::clicks::{Clicks, Scale};
use super::mining::{Found, Pair, Settings, cosine_baseline, mine, query_clicks};
use super::model::SynonymModel;
use super::units::{Vocabulary, aligned_title_words};
use crate::evaluation::{Metrics, share};
use crate::held_out::{EVALUATING, Evaluation, HeldOutSplit, REFITTING, Window};
use crate::progress::{Step, Steps, step};
use crate::query::log::{LogFilter, QueryLog, READING_LOG};
use crate::query::{is_usable, normalise};
use crate::{Progress, TrainError, TrainedModel, Trainer, TrainingJob, ensure_ready};

const READING_ITEMS: &str = "reading item titles";
const PLAN: &[Step] = &[
    step(READING_ITEMS, 10),
    step(READING_LOG, 55),
    step(EVALUATING, 20),
    step(REFITTING, 15),
];

/// Pairs judged by the evaluation: the best this many.
pub const JUDGED_TOP: usize = 100;
/// Held-out clicks each side of a pair needs to be judged.
const JUDGE_MIN_CLICKS: f64 = 10.0;
/// Held-out similarity at which a pair is confirmed.
const JUDGE_SIMILARITY: f64 = 0.5;
/// Titles compared for aligned words at most (the first ones read).
const MAX_ALIGNED_TITLES: usize = 200_000;

pub struct SynonymTrainer;

/// The intervention dictionary: pairs always served, and pairs never served.
#[derive(Clone, Debug, Default)]
pub(super) struct Dictionary {
    pub enabled: Vec<(String, String)>,
    pub blocked: HashSet<(String, String)>,
}

/// Parses `term<TAB>synonym<TAB>enabled|blocked` lines; a malformed line fails the run naming it.
pub(super) fn parse_dictionary(content: Option<&str>) -> Result<Dictionary, TrainError> {
    let mut d = Dictionary::default();
    for (n, line) in content.unwrap_or("").lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let bad = || {
            TrainError::Failed(format!(
                "intervention_dict line {}: expected 'term<TAB>synonym<TAB>enabled|blocked', got '{line}'",
                n + 1
            ))
        };
        let [a, b, status] = line.split('\t').collect::<Vec<_>>()[..] else {
            return Err(bad());
        };
        let (a, b) = (normalise(a), normalise(b));
        if !is_usable(&a) || !is_usable(&b) || a == b {
            return Err(bad());
        }
        match status.trim().to_ascii_lowercase().as_str() {
            "enabled" => d.enabled.push((a, b)),
            "blocked" => {
                d.blocked.insert((a.clone(), b.clone()));
                d.blocked.insert((b, a));
            }
            _ => return Err(bad()),
        }
    }
    Ok(d)
}

/// The served pairs: the mined ones without the blocked, with the enabled ones first.
fn apply(found: &Found, dictionary: &Dictionary) -> Vec<Pair> {
    let mut pairs: Vec<Pair> = dictionary
        .enabled
        .iter()
        .map(|(a, b)| Pair {
            a: a.clone(),
            b: b.clone(),
            score: 1.0,
            two_way: true,
            intervened: true,
        })
        .collect();
    let enabled: HashSet<(&str, &str)> = dictionary
        .enabled
        .iter()
        .flat_map(|(a, b)| [(a.as_str(), b.as_str()), (b.as_str(), a.as_str())])
        .collect();
    pairs.extend(
        found
            .pairs
            .iter()
            .filter(|p| {
                !dictionary.blocked.contains(&(p.a.clone(), p.b.clone()))
                    && !enabled.contains(&(p.a.as_str(), p.b.as_str()))
            })
            .cloned(),
    );
    pairs
}

/// The titles of the items: the words that cut Chinese queries, and the words aligned across titles.
struct Titles {
    vocabulary: Vocabulary,
    aligned: HashMap<(String, String), u32>,
}

fn read_titles(job: &TrainingJob<'_>, steps: &mut Steps<'_>) -> Result<Titles, TrainError> {
    let title_field = job.params().text("title_field")?;
    let mut vocabulary = Vocabulary::default();
    let mut units = Vec::new();
    steps.for_each_item(job.data, |item| {
        if let Some(title) = item.attributes.get(title_field).and_then(|v| v.as_str()) {
            let u = Vocabulary::title_units(title);
            for w in &u {
                vocabulary.add(w);
            }
            if units.len() < MAX_ALIGNED_TITLES {
                units.push(u);
            }
        }
    })?;
    Ok(Titles {
        vocabulary,
        aligned: aligned_title_words(&units),
    })
}

/// Held-out clicks of every held-out query that holds a term's units in a row, summed.
struct Judge<'a> {
    vocabulary: &'a Vocabulary,
    queries: Vec<(Vec<String>, Clicks)>,
    scale: Scale,
    cache: HashMap<String, Clicks>,
}

impl<'a> Judge<'a> {
    fn new(log: &QueryLog, vocabulary: &'a Vocabulary, settings: &Settings, held: Window) -> Self {
        let queries: Vec<(Vec<String>, Clicks)> = query_clicks(log, held, settings.filter)
            .into_iter()
            .map(|(q, c)| (vocabulary.units(log.query(q)), c))
            .collect();
        let scale = Scale::of(queries.iter().map(|(_, c)| c));
        Judge {
            vocabulary,
            queries,
            scale,
            cache: HashMap::new(),
        }
    }

    fn clicks(&mut self, term: &str) -> Clicks {
        if let Some(c) = self.cache.get(term) {
            return c.clone();
        }
        let units = self.vocabulary.units(term);
        let holding = self
            .queries
            .iter()
            .filter(|(q, _)| !units.is_empty() && q.windows(units.len()).any(|w| w == units))
            .map(|(_, c)| c);
        let sum = Clicks::sum(holding);
        self.cache.insert(term.to_string(), sum.clone());
        sum
    }

    /// (judged, confirmed) among pairs of terms.
    fn precision<'p>(&mut self, pairs: impl Iterator<Item = (&'p str, &'p str)>) -> (u64, u64) {
        let (mut judged, mut confirmed) = (0, 0);
        for (a, b) in pairs {
            let (x, y) = (self.clicks(a), self.clicks(b));
            if x.total() < JUDGE_MIN_CLICKS || y.total() < JUDGE_MIN_CLICKS {
                continue;
            }
            judged += 1;
            confirmed += u64::from(self.scale.similarity(&x, &y) >= JUDGE_SIMILARITY);
        }
        (judged, confirmed)
    }
}

fn score(
    log: &QueryLog,
    vocabulary: &Vocabulary,
    settings: &Settings,
    found: &Found,
    evaluation: Evaluation,
) -> Result<Metrics, TrainError> {
    let mut judge = Judge::new(log, vocabulary, settings, evaluation.held_out);
    let top = found
        .pairs
        .iter()
        .take(JUDGED_TOP)
        .map(|p| (p.a.as_str(), p.b.as_str()));
    let (judged, confirmed) = judge.precision(top);
    let baseline = cosine_baseline(log, settings, evaluation.fit, JUDGED_TOP);
    let (baseline_judged, baseline_confirmed) =
        judge.precision(baseline.iter().map(|(a, b, _)| (a.as_str(), b.as_str())));
    let mut metrics = Metrics::default();
    metrics.put("holdout_precision", share(confirmed, judged));
    metrics.put("holdout_judged_pairs", judged);
    metrics.put(
        "baseline_cosine_precision",
        share(baseline_confirmed, baseline_judged),
    );
    metrics.put("baseline_judged_pairs", baseline_judged);
    metrics.put("evaluated_pairs", found.pairs.len());
    Ok(metrics)
}

impl Trainer for SynonymTrainer {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        let p = job.params();
        let split = HeldOutSplit::read(job)?;
        let settings = Settings {
            // A search that found nothing and was retyped is a reformulation worth seeing.
            filter: LogFilter {
                user_query_cap: p.int("user_query_cap")?.max(1) as u32,
                drop_no_result: false,
                drop_no_click: false,
            },
            session_ms: p.int("session_minutes")?.max(1) * 60_000,
            min_clicks: p.int("min_clicks")?.max(1) as f64,
            min_similarity: p.float("min_similarity")?,
            min_reformulations: p.int("min_reformulations")?.max(1) as u32,
            max_synonyms: p.int("max_synonyms")?.max(1) as usize,
        };
        let dictionary = parse_dictionary(job.resource("intervention_dict"))?;

        let mut steps = Steps::new(progress, PLAN);
        steps.enter(READING_ITEMS)?;
        let titles = read_titles(job, &mut steps)?;
        steps.enter(READING_LOG)?;
        let whole = split.whole_window();
        let read = Window {
            from_ms: split.evaluated_window().from_ms,
            to_ms: whole.to_ms,
        };
        let log = QueryLog::read(job.data, read, &mut steps)?;
        let clicks = log
            .clicks
            .iter()
            .filter(|c| whole.contains(c.at_ms))
            .count() as u64;
        let counts = WindowCounts {
            searches: log.searches_in(whole),
            clicks,
            ..Default::default()
        };
        ensure_ready(
            Function::Synonym,
            &counts,
            format_args!(
                "(searches with a usable raw_query and clicks joined to them in the last {} days)",
                split.window_days()
            ),
        )?;

        let (found, mut metrics) = split.evaluate_then_refit(
            &mut steps,
            |fit| {
                Ok(mine(
                    &log,
                    &titles.vocabulary,
                    &titles.aligned,
                    &settings,
                    fit.window(),
                ))
            },
            |found, evaluation| score(&log, &titles.vocabulary, &settings, found, evaluation),
        )?;
        let model = SynonymModel::build(apply(&found, &dictionary))?;
        let artifact = model.encode()?;
        let two_way = model.pairs().iter().filter(|p| p.two_way).count();
        metrics.put("pairs", model.pairs().len());
        metrics.put("two_way_pairs", two_way);
        metrics.put("one_way_pairs", model.pairs().len() - two_way);
        metrics.put("terms", model.terms());
        metrics.put("intervened_pairs", dictionary.enabled.len());
        metrics.put("droppable_words", found.droppable);
        metrics.put("cores", found.cores);
        metrics.put("cores_compared", found.compared);
        metrics.put("reformulation_pairs", found.reformulations);
        metrics.put("title_words", titles.vocabulary.len());
        metrics.put("distinct_queries", log.query_count());
        metrics.put("log_searches", log.stats.searches);
        steps.finish()?;
        Ok(TrainedModel {
            artifact,
            metrics: metrics.into(),
            passed_quality_gate: !model.is_empty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_enables_and_blocks() {
        let d = parse_dictionary(Some(
            "# pairs\nTrainers\tsneakers\tenabled\nkicks\tsneakers\tBLOCKED\n",
        ))
        .unwrap();
        assert_eq!(
            d.enabled,
            [("trainers".to_string(), "sneakers".to_string())]
        );
        assert!(
            d.blocked
                .contains(&("sneakers".to_string(), "kicks".to_string()))
        );
        for bad in ["a\tb\n", "a\tb\tmaybe\n", "a\tA\tenabled\n"] {
            let e = parse_dictionary(Some(bad)).unwrap_err();
            assert!(e.to_string().contains("line 1"), "{e}");
        }
        let found = Found {
            pairs: vec![
                Pair {
                    a: "kicks".into(),
                    b: "sneakers".into(),
                    score: 0.9,
                    two_way: true,
                    intervened: false,
                },
                Pair {
                    a: "trainers".into(),
                    b: "sneakers".into(),
                    score: 0.5,
                    two_way: false,
                    intervened: false,
                },
            ],
            ..Found::default()
        };
        let served = apply(&found, &d);
        assert_eq!(served.len(), 1);
        assert!(served[0].intervened && served[0].two_way && served[0].score == 1.0);
    }
}
