//! `suggest` scored on a public web search log, as the issue that asked for personal completions describes it:
//! a log of tab-separated `AnonID, Query, QueryTime, ItemRank, ClickURL` rows (the layout of the best known
//! public web query log; a header line is skipped), the first USERS users, every row a `search` event (rows of one
//! user, query and time are one search with several clicks) and every ClickURL a `click` joined to it by `rn`, the
//! last HOLDOUT_DAYS held out. The trainer's own replay then scores it: held-out queries of 4+ characters, their
//! prefixes of 2-8 characters, top 10, MRR, with and without `user_id`, next to most-popular completion and own
//! history first. Without a file, the generator's repeat-search shape stands in.
//!
//! ```text
//! cargo bench -p algocenter-functions --bench web_log -- [LOG.txt] [USERS=1000] [HOLDOUT_DAYS=14]
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::time::Instant;

use algocenter_domain::Function;
use algocenter_domain::behaviour::BehaviourEvent;
use algocenter_domain::catalogue::{Parameter, ParameterList, version_for_model_type};
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::progress::Level;
use algocenter_functions::suggest::SuggestTrainer;
use algocenter_functions::{Cancelled, Progress, Trainer, TrainingJob};
use algocenter_generator::{GeneratorConfig, Habits, World};

struct Quiet;

impl Progress for Quiet {
    fn update(&mut self, _: &[Level<'_>]) -> Result<(), Cancelled> {
        Ok(())
    }
}

/// Epoch ms of `YYYY-MM-DD HH:MM:SS` (UTC).
fn epoch_ms(text: &str) -> Option<i64> {
    let n = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from the civil date (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000)
}

fn event(user: &str, kind: &str, at_ms: i64, rn: &str) -> BehaviourEvent {
    BehaviourEvent {
        user_id: user.into(),
        imei: String::new(),
        biz_id: "web".into(),
        trace_id: "log".into(),
        rn: rn.into(),
        item_id: String::new(),
        item_type: String::new(),
        bhv_type: kind.into(),
        bhv_time_ms: at_ms,
        reach_time_ms: at_ms,
        raw_query: String::new(),
        hits: None,
        position: None,
        context: Vec::new(),
        extra: Vec::new(),
    }
}

/// The searches and clicks of the first `users` users of a log file.
fn read_log(path: &str, users: usize) -> std::io::Result<Vec<BehaviourEvent>> {
    let file = BufReader::new(std::fs::File::open(path)?);
    let mut kept: HashMap<String, ()> = HashMap::new();
    let mut events = Vec::new();
    let mut last: Option<(String, String, i64, String)> = None;
    for (n, line) in file.lines().enumerate() {
        let line = line?;
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(user), Some(query), Some(Some(at))) =
            (cols.first(), cols.get(1), cols.get(2).map(|t| epoch_ms(t)))
        else {
            continue;
        };
        if !kept.contains_key(*user) {
            if kept.len() >= users {
                continue;
            }
            kept.insert(user.to_string(), ());
        }
        let same = last
            .as_ref()
            .is_some_and(|(u, q, t, _)| u == user && q == query && *t == at);
        if !same {
            let rn = format!("l{n}");
            let mut search = event(user, "search", at, &rn);
            search.raw_query = query.to_string();
            events.push(search);
            last = Some((user.to_string(), query.to_string(), at, rn));
        }
        if let (Some(url), Some((_, _, _, rn))) = (cols.get(4).filter(|u| !u.is_empty()), &last) {
            let mut click = event(user, "click", at + 1000, rn);
            click.item_id = url.to_string();
            click.item_type = "url".into();
            events.push(click);
        }
    }
    Ok(events)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let path = args.iter().find(|a| a.parse::<u64>().is_err());
    let numbers: Vec<i64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let users = numbers.first().copied().unwrap_or(1000) as usize;
    let holdout_days = numbers.get(1).copied().unwrap_or(14);
    let events = match path {
        Some(path) => read_log(path, users).expect("reading the log"),
        None => {
            println!("no log given: the generator's repeat-search shape (Habits::WEB)");
            let world = World::new(GeneratorConfig {
                habits: Habits::WEB,
                days: 90,
                searches: 100_000,
                users: users as u32,
                ..GeneratorConfig::default()
            });
            let mut events = Vec::new();
            world.events(&mut |e, _| {
                if e.bhv_type == "search" || e.bhv_type == "click" {
                    events.push(e.clone());
                }
            });
            events
        }
    };
    let (first, last) = events.iter().fold((i64::MAX, i64::MIN), |(a, b), e| {
        (a.min(e.bhv_time_ms), b.max(e.bhv_time_ms))
    });
    let now_ms = last + 1;
    let window_days = ((now_ms - first) / DAY_MS + 1).max(holdout_days + 1);
    println!(
        "{} events, {} searches, {window_days} days, the last {holdout_days} held out",
        events.len(),
        events.iter().filter(|e| e.bhv_type == "search").count()
    );
    let data = InMemoryData {
        events,
        ..Default::default()
    };
    let version =
        version_for_model_type(Function::Suggest, "offline_inference").expect("catalogue");
    let list = [
        ("train_window_days", window_days.to_string()),
        ("holdout_days", holdout_days.to_string()),
    ]
    .map(|(name, value)| Parameter {
        name: name.into(),
        value,
    });
    let parameters = version.effective(ParameterList::Create, &list);
    let usage = version.effective(ParameterList::Usage, &[]);
    let resources = BTreeMap::new();
    let artifacts = BTreeMap::new();
    let job = TrainingJob {
        app_group: "web",
        instance: "web",
        function: Function::Suggest,
        model_type: "offline_inference",
        generation: 1,
        parameters: &parameters,
        usage_parameters: &usage,
        now_ms,
        data: &data,
        resources: &resources,
        artifacts: &artifacts,
    };
    let started = Instant::now();
    let model = SuggestTrainer.train(&job, &mut Quiet).expect("training");
    println!("trained in {:.1} s", started.elapsed().as_secs_f64());
    for name in [
        "mrr_with_user_id",
        "mrr",
        "baseline_most_popular_mrr",
        "baseline_most_popular_shared_mrr",
        "baseline_own_history_then_most_popular_mrr",
        "holdout_prefixes",
        "chosen",
        "bot_identities",
        "user_histories",
        "history_bytes",
    ] {
        println!(
            "{name}: {}",
            model.metrics.get(name).cloned().unwrap_or_default()
        );
    }
}
