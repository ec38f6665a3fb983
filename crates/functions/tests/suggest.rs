//! `suggest` on generated behaviour: held-out MRR against most-popular completion and "own history first", with
//! and without `user_id`; Chinese completion; the privacy rule; bots.

mod common;

use algocenter_domain::Function;
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::TrainedModel;
use algocenter_functions::query::normalise;
use algocenter_functions::suggest::{SuggestModel, SuggestTrainer};
use algocenter_generator::Habits;
use common::{NOW, generated, generated_with, search, train};

fn suggest(data: &InMemoryData, params: &[(&str, &str)]) -> TrainedModel {
    train(
        &SuggestTrainer,
        Function::Suggest,
        "offline_inference",
        data,
        params,
        &[],
    )
    .unwrap()
}

fn metric(out: &TrainedModel, name: &str) -> f64 {
    out.metrics[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} missing"))
}

/// Without `user_id` the global list must complete at least as well as most-popular completion of the queries
/// the privacy rule lets everyone see, and lose at most what the rule costs against counting every query:
/// one-off queries of other users (about 0.003 of MRR on generated data, where most distinct queries are seen
/// once or twice).
fn assert_without_user_id_holds_its_own(mrr: f64, most_popular: f64, shared: f64) {
    assert!(
        mrr >= shared,
        "without user_id {mrr} vs most popular of the shared queries {shared}"
    );
    assert!(
        mrr >= most_popular - 0.005,
        "without user_id {mrr} vs most popular {most_popular}"
    );
}

#[test]
fn suggest_ranks_held_out_queries_at_least_as_well_as_the_most_popular_completion() {
    let (_, data) = generated(150_000, 21);
    let out = suggest(&data, &[]);
    eprintln!("{}", serde_json::Value::Object(out.metrics.clone()));
    let mrr = metric(&out, "mrr");
    assert!(mrr > 0.1, "MRR {mrr}");
    assert_without_user_id_holds_its_own(
        mrr,
        metric(&out, "baseline_most_popular_mrr"),
        metric(&out, "baseline_most_popular_shared_mrr"),
    );

    let model = SuggestModel::decode(&out.artifact).unwrap();
    // Chinese, by characters and by pinyin.
    let by_char = model.suggest("连", 10);
    assert!(!by_char.is_empty());
    assert!(
        by_char.iter().all(|s| normalise(s).starts_with('连')),
        "{by_char:?}"
    );
    assert!(
        model
            .suggest("lianyiq", 10)
            .iter()
            .any(|s| s.contains("连衣裙"))
    );
    assert!(
        model
            .suggest("lyq", 10)
            .iter()
            .any(|s| s.contains("连衣裙"))
    );
    // A typo in an English prefix.
    let typo = model.suggest("sneakrs", 5);
    assert!(typo.iter().any(|s| s.contains("sneakers")), "{typo:?}");
}

/// The quality bar of repeat searches: people who search again for what they searched before.
#[test]
fn personal_completions_beat_most_popular_completion_on_repeat_searches() {
    let (_, data) = generated_with(100_000, 5, Habits::WEB);
    let out = suggest(&data, &[]);
    eprintln!("{}", serde_json::Value::Object(out.metrics.clone()));
    let with_user = metric(&out, "mrr_with_user_id");
    let without = metric(&out, "mrr");
    let most_popular = metric(&out, "baseline_most_popular_mrr");
    let shared = metric(&out, "baseline_most_popular_shared_mrr");
    let own_first = metric(&out, "baseline_own_history_then_most_popular_mrr");
    assert!(
        with_user >= 1.10 * most_popular,
        "with user_id {with_user} vs most popular {most_popular}"
    );
    assert_without_user_id_holds_its_own(without, most_popular, shared);
    // Own history first ranks the rest by every query's count; the model's rest keeps the privacy rule, and its
    // blend was chosen on other days: within 0.01 of it.
    assert!(
        with_user >= own_first - 0.01,
        "with user_id {with_user} vs own history first {own_first}"
    );
    let chosen = &out.metrics["chosen"];
    assert!(
        chosen["personal_weight"].as_f64().unwrap() > 0.0,
        "the search chose to use the history: {chosen}"
    );
    assert!(out.metrics["weight_candidates"].as_array().unwrap().len() >= 10);
    assert!(metric(&out, "user_histories") > 1000.0);

    // What the privacy rule costs, and nothing else: with it off (every query may be shown to everyone, as
    // most-popular completion shows them), the global list alone completes at least as well as counting.
    let open = suggest(&data, &[("min_users", "1")]);
    let (open_mrr, open_most_popular) = (
        metric(&open, "mrr"),
        metric(&open, "baseline_most_popular_mrr"),
    );
    eprintln!("min_users=1: mrr {open_mrr} vs most popular {open_most_popular}");
    assert!(
        open_mrr >= open_most_popular,
        "min_users=1: without user_id {open_mrr} vs most popular {open_most_popular}"
    );
}

#[test]
fn a_query_typed_by_one_user_only_is_suggested_to_that_user_and_no_one_else() {
    let mut events = Vec::new();
    // "secret recipe x": one user, many times. "secret santa": several users.
    for i in 0..6 {
        events.push(search(
            "alice",
            "secret recipe x",
            NOW - (3 + i) * DAY_MS,
            &format!("a{i}"),
        ));
    }
    for u in 0..5 {
        events.push(search(
            &format!("u{u}"),
            "secret santa",
            NOW - (2 + u) * DAY_MS,
            &format!("s{u}"),
        ));
    }
    for i in 0..120 {
        events.push(search(
            &format!("f{}", i % 40),
            "filler",
            NOW - (i % 10 + 1) * DAY_MS - i,
            &format!("f{i}"),
        ));
    }
    let data = InMemoryData {
        events,
        ..Default::default()
    };
    let only = |out: &TrainedModel, user: Option<&str>| {
        SuggestModel::decode(&out.artifact)
            .unwrap()
            .suggest_for("secr", 10, user, &[], NOW)
    };
    let fixed = [("weight_search", "off"), ("personal_weight", "1")];
    let out = suggest(&data, &fixed);
    assert_eq!(
        only(&out, Some("alice")),
        ["secret recipe x", "secret santa"]
    );
    assert_eq!(only(&out, Some("u1")), ["secret santa"]);
    assert_eq!(only(&out, Some("stranger")), ["secret santa"]);
    assert_eq!(only(&out, None), ["secret santa"]);
    // Turning the rule off (min_users=1) lets it through to everyone.
    let open = suggest(&data, &[fixed[0], fixed[1], ("min_users", "1")]);
    assert!(only(&open, None).contains(&"secret recipe x".to_string()));
}

#[test]
fn bots_are_spotted_by_their_rate_and_a_person_repeating_a_query_counts_in_full() {
    let mut events = Vec::new();
    // Two bots, 400 searches of one query each within an hour.
    for bot in ["bot1", "bot2"] {
        for i in 0..400 {
            events.push(search(
                bot,
                "cheap pills",
                NOW - 2 * DAY_MS + i * 5_000,
                &format!("{bot}-{i}"),
            ));
        }
    }
    // Two people search "python tutorial" 12 times each over days; 8 people search "pyramid" once.
    for who in ["p1", "p2"] {
        for i in 0..12 {
            events.push(search(
                who,
                "python tutorial",
                NOW - (2 + i) * DAY_MS,
                &format!("{who}-{i}"),
            ));
        }
    }
    for u in 0..8 {
        events.push(search(
            &format!("q{u}"),
            "pyramid",
            NOW - (2 + u) * DAY_MS,
            &format!("q{u}"),
        ));
    }
    let data = InMemoryData {
        events,
        ..Default::default()
    };
    let out = suggest(
        &data,
        &[
            ("weight_search", "off"),
            ("half_life_days", "365"),
            ("click_weight", "0"),
        ],
    );
    assert_eq!(metric(&out, "bot_identities"), 2.0);
    assert_eq!(metric(&out, "bot_searches"), 800.0);
    let model = SuggestModel::decode(&out.artifact).unwrap();
    assert!(
        model.suggest("c", 10).is_empty(),
        "the bots' query is not suggested"
    );
    assert_eq!(
        model.suggest("py", 10),
        ["python tutorial", "pyramid"],
        "24 searches by two people outweigh 8 by eight"
    );
    // The same with the old per-day cap (3 per user and day) ranks by the cap instead.
    let capped = suggest(
        &data,
        &[
            ("weight_search", "off"),
            ("half_life_days", "365"),
            ("click_weight", "0"),
            ("user_query_cap", "1"),
        ],
    );
    let capped = SuggestModel::decode(&capped.artifact).unwrap();
    assert_eq!(capped.suggest("py", 10), ["python tutorial", "pyramid"]);
}

#[test]
fn blacklisted_and_rare_queries_are_not_suggested() {
    let (_, data) = generated(30_000, 4);
    let out = train(
        &SuggestTrainer,
        Function::Suggest,
        "offline_inference",
        &data,
        &[("blacklist", "bl"), ("min_count", "3")],
        &[("blacklist", "连衣裙\n")],
    )
    .unwrap();
    let model = SuggestModel::decode(&out.artifact).unwrap();
    assert!(
        !model
            .suggest("连衣", 30)
            .iter()
            .any(|s| normalise(s) == "连衣裙")
    );
    let all = SuggestModel::decode(&suggest(&data, &[("min_count", "1")]).artifact).unwrap();
    assert!(all.index().len() > model.index().len());
}
