//! `hot` and `hint` on hand-made logs and on generated behaviour with a known true top list.

mod common;

use algocenter_domain::Function;
use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::query::normalise;
use algocenter_functions::query_list::{
    HintTrainer, HotTrainer, ListOrder, QueryListModel, TAG_NEW, TAG_POPULAR, TAG_RISING,
};
use algocenter_functions::{TrainError, TrainedModel};
use common::{NOW, click, generated, search, train};

fn hot(data: &InMemoryData, params: &[(&str, &str)], resources: &[(&str, &str)]) -> TrainedModel {
    train(
        &HotTrainer,
        Function::Hot,
        "offline_inference",
        data,
        params,
        resources,
    )
    .unwrap()
}

fn listed(model: &QueryListModel, hit: usize, order: ListOrder) -> Vec<String> {
    model
        .top(hit, order, None)
        .into_iter()
        .map(|q| q.query.clone())
        .collect()
}

/// `n` searches of `query` by distinct users, `days_ago` days before now.
fn searches(
    query: &str,
    n: usize,
    days_ago: i64,
    tag: &str,
) -> Vec<algocenter_domain::behaviour::BehaviourEvent> {
    (0..n)
        .map(|i| {
            search(
                &format!("{tag}-u{i}"),
                query,
                NOW - days_ago * DAY_MS - 1000 * i as i64 - 1,
                &format!("{tag}-{query}-{i}"),
            )
        })
        .collect()
}

#[test]
fn hot_ranks_by_pv_or_uv_and_tags_growth() {
    let mut events = Vec::new();
    // This window (last 14 days): "dress" 60, "coat" 40, "jeans" 30; the window before: "coat" 10, "jeans" 25.
    events.extend(searches("dress", 60, 3, "a"));
    events.extend(searches("Coat", 40, 3, "b"));
    events.extend(searches("jeans", 30, 3, "c"));
    events.extend(searches("coat", 10, 20, "d"));
    events.extend(searches("jeans", 25, 20, "e"));
    // One heavy user: many searches of "boots" (capped at 3 a day over 5 days = 15), one user.
    for day in 2..7 {
        for i in 0..50 {
            events.push(search(
                "heavy",
                "boots",
                NOW - day * DAY_MS - i,
                &format!("h{day}-{i}"),
            ));
        }
    }
    // Filler so the function has enough data.
    events.extend(searches("misc", 20, 5, "f"));
    let data = InMemoryData {
        events,
        ..Default::default()
    };
    let out = hot(&data, &[], &[]);
    let model = QueryListModel::decode(&out.artifact).unwrap();
    let top = model.top(10, ListOrder::Pv, None);
    let by_pv: Vec<(&str, u64, u64, u8)> = top
        .iter()
        .map(|q| (q.query.as_str(), q.pv, q.uv, q.tags))
        .collect();
    assert_eq!(
        by_pv,
        [
            ("dress", 60, 60, TAG_NEW),
            ("Coat", 40, 40, TAG_RISING),
            ("jeans", 30, 30, TAG_POPULAR),
            ("misc", 20, 20, TAG_NEW),
            ("boots", 15, 1, TAG_NEW),
        ]
    );
    assert_eq!(
        listed(&model, 10, ListOrder::Uv),
        ["dress", "Coat", "jeans", "misc", "boots"]
    );
    assert_eq!(listed(&model, 2, ListOrder::Default), ["dress", "Coat"]);
    assert_eq!(out.metrics["searches_capped_as_spam"], 235);
}

#[test]
fn hot_default_order_follows_sort_type() {
    let mut events = searches("many users", 30, 2, "a");
    for i in 0..48 {
        // 4 users × 12 days × 1 search.
        events.push(search(
            &format!("fan{}", i % 4),
            "few users",
            NOW - (i / 4 + 1) * DAY_MS,
            &format!("f{i}"),
        ));
    }
    events.extend(searches("filler", 40, 2, "z"));
    let data = InMemoryData {
        events,
        ..Default::default()
    };
    let pv = QueryListModel::decode(&hot(&data, &[], &[]).artifact).unwrap();
    assert_eq!(
        listed(&pv, 3, ListOrder::Default),
        ["few users", "filler", "many users"]
    );
    let uv = QueryListModel::decode(&hot(&data, &[("sort_type", "uv")], &[]).artifact).unwrap();
    assert_eq!(
        listed(&uv, 3, ListOrder::Default),
        ["filler", "many users", "few users"]
    );
}

#[test]
fn blacklist_hides_and_whitelist_pins() {
    let mut events = searches("dress", 50, 2, "a");
    events.extend(searches("bad word", 80, 2, "b"));
    events.extend(searches("coat", 30, 2, "c"));
    let data = InMemoryData {
        events,
        ..Default::default()
    };
    let out = hot(
        &data,
        &[("blacklist", "black"), ("whitelist", "white")],
        &[
            ("blacklist", "BAD  word\n"),
            ("whitelist", "# pinned\nnew arrivals\ncoat\n"),
        ],
    );
    let model = QueryListModel::decode(&out.artifact).unwrap();
    let top = model.top(10, ListOrder::Default, None);
    let got: Vec<(&str, u64)> = top.iter().map(|q| (q.query.as_str(), q.pv)).collect();
    assert_eq!(got, [("new arrivals", 0), ("coat", 30), ("dress", 50)]);
}

#[test]
fn too_few_searches_is_insufficient_data() {
    let data = InMemoryData {
        events: searches("dress", 20, 2, "a"),
        ..Default::default()
    };
    let err = train(
        &HotTrainer,
        Function::Hot,
        "offline_inference",
        &data,
        &[],
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(&err, TrainError::InsufficientData(m) if m.contains("searches: 20 of 100")),
        "{err}"
    );
}

/// The generated world's true top list, normalised, best first.
fn true_top(world: &algocenter_generator::World) -> Vec<(String, f64)> {
    let mut shares: Vec<(String, f64)> = world
        .query_shares()
        .into_iter()
        .fold(std::collections::HashMap::new(), |mut m, (q, s)| {
            *m.entry(normalise(&q)).or_insert(0.0) += s;
            m
        })
        .into_iter()
        .collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    shares
}

/// The learned top-30 agrees with the true order wherever the sample size can tell two queries apart: of any two
/// of the true top 40 whose expected searches differ by more than four standard deviations, the more searched
/// one is listed higher (or the other not at all).
#[test]
fn hot_finds_the_true_top_list_and_a_bot_does_not_move_it() {
    let searches_total = 300_000u64;
    let (world, mut data) = generated(searches_total, 11);
    let truth = true_top(&world);
    let clean = QueryListModel::decode(&hot(&data, &[], &[]).artifact).unwrap();
    let learned: Vec<String> = listed(&clean, 30, ListOrder::Pv)
        .iter()
        .map(|q| normalise(q))
        .collect();
    let rank = |q: &str| learned.iter().position(|l| l == q).unwrap_or(learned.len());
    let n = searches_total as f64;
    let mut checked = 0;
    for (i, (better, p)) in truth[..40].iter().enumerate() {
        for (worse, r) in &truth[i + 1..40] {
            let (a, b) = (p * n, r * n);
            if a - b > 4.0 * (a + b).sqrt() && rank(better) < learned.len() {
                checked += 1;
                assert!(
                    rank(better) < rank(worse),
                    "{better} ({a:.0} expected) is listed below {worse} ({b:.0}): {learned:?}"
                );
            } else if a - b > 4.0 * (a + b).sqrt() {
                panic!("{better} ({a:.0} expected searches) is missing from {learned:?}");
            }
        }
    }
    assert!(checked > 300, "only {checked} pairs resolved");

    // A bot hammering one query all day, every day, and a second one sharing a popular query.
    for day in 0..14 {
        for i in 0..2_000 {
            let at = NOW - day * DAY_MS - 1 - i * 40;
            data.events.push(search(
                "bot-1",
                "cheap followers",
                at,
                &format!("b{day}-{i}"),
            ));
            data.events
                .push(search("bot-2", &truth[20].0, at, &format!("c{day}-{i}")));
        }
    }
    let botted = QueryListModel::decode(&hot(&data, &[], &[]).artifact).unwrap();
    let pv_of = |model: &QueryListModel, q: &str| {
        model
            .top(30, ListOrder::Pv, None)
            .iter()
            .find(|l| normalise(&l.query) == q)
            .map(|l| l.pv)
    };
    assert_eq!(pv_of(&botted, "cheap followers"), None);
    // The shared query gains at most the cap: 3 searches a day over 14 days.
    let shared = truth[20].0.as_str();
    let gained = pv_of(&botted, shared).unwrap_or(0) - pv_of(&clean, shared).unwrap_or(0);
    assert!(gained <= 42, "{shared} gained {gained}");
    let others = |model: &QueryListModel| -> Vec<String> {
        listed(model, 30, ListOrder::Pv)
            .iter()
            .map(|q| normalise(q))
            .filter(|q| q != shared)
            .collect()
    };
    assert_eq!(others(&botted), others(&clean), "the bots moved the list");
}

fn hint(data: &InMemoryData, model_type: &str) -> TrainedModel {
    train(&HintTrainer, Function::Hint, model_type, data, &[], &[]).unwrap()
}

fn hints(model: &QueryListModel, hit: usize, user: Option<&str>) -> Vec<String> {
    model
        .top(hit, ListOrder::Default, user)
        .into_iter()
        .map(|q| q.query.clone())
        .collect()
}

#[test]
fn hints_favour_fresh_queries_that_lead_to_clicks() {
    let mut events = Vec::new();
    events.extend(searches("stale", 60, 12, "s"));
    events.extend(searches("fresh", 30, 1, "f"));
    // Same searches, one followed by clicks, one abandoned.
    for (query, clicked) in [("taken", true), ("ignored", false)] {
        for i in 0..25 {
            let rn = format!("{query}-{i}");
            let at = NOW - 2 * DAY_MS - i * 1000;
            events.push(search(&format!("u{i}"), query, at, &rn));
            if clicked {
                events.push(click(&format!("u{i}"), "item", at + 500, &rn));
            }
        }
    }
    let data = InMemoryData {
        events,
        ..Default::default()
    };
    let model = QueryListModel::decode(&hint(&data, "offline_inference").artifact).unwrap();
    let list = hints(&model, 10, None);
    let at = |q: &str| list.iter().position(|l| l == q).unwrap();
    assert!(at("fresh") < at("stale"), "{list:?}");
    assert!(at("taken") < at("ignored"), "{list:?}");
    // hot, by contrast, counts the window evenly.
    let hot_model = QueryListModel::decode(&hot(&data, &[], &[]).artifact).unwrap();
    assert_eq!(listed(&hot_model, 1, ListOrder::Pv), ["stale"]);
}

#[test]
fn near_realtime_hints_follow_the_users_categories() {
    use algocenter_domain::document::Document;
    let item = |id: &str, category: &str| Document {
        id: id.into(),
        attributes: serde_json::json!({ "category": category })
            .as_object()
            .unwrap()
            .clone(),
    };
    let mut events = Vec::new();
    let mut session =
        |user: &dyn Fn(i64) -> String, query: &str, item: &str, n: i64, days_ago: f64| {
            for i in 0..n {
                let rn = format!("{}-{query}-{i}", user(i));
                let at = NOW - (days_ago * DAY_MS as f64) as i64 - i * 1000;
                events.push(search(&user(i), query, at, &rn));
                events.push(click(&user(i), item, at + 500, &rn));
            }
        };
    session(&|i| format!("a{i}"), "phone", "p1", 50, 2.0);
    session(&|i| format!("b{i}"), "dress", "d1", 30, 2.0);
    session(&|i| format!("c{i}"), "skirt", "d2", 20, 2.0);
    // A fan of women's wear: ten dress searches, each with a click, half a day ago.
    session(&|_| "fan".to_string(), "dress", "d1", 10, 0.5);
    let data = InMemoryData {
        events,
        items: vec![
            item("p1", "数码>手机"),
            item("d1", "女装>连衣裙"),
            item("d2", "女装>半身裙"),
        ],
        ..Default::default()
    };
    let personal = QueryListModel::decode(&hint(&data, "near_realtime").artifact).unwrap();
    assert_eq!(hints(&personal, 3, None), ["phone", "dress", "skirt"]);
    assert!(personal.knows_user("fan"));
    assert_eq!(
        hints(&personal, 3, Some("fan")),
        ["dress", "phone", "skirt"]
    );
    // One search is too little evidence to move anything.
    assert_eq!(hints(&personal, 3, Some("b0")), ["phone", "dress", "skirt"]);
    assert_eq!(
        hints(&personal, 3, Some("stranger")),
        ["phone", "dress", "skirt"]
    );
    // offline_inference hints are the same for everyone.
    let plain = QueryListModel::decode(&hint(&data, "offline_inference").artifact).unwrap();
    assert!(!plain.knows_user("fan"));
    assert_eq!(hints(&plain, 3, Some("fan")), ["phone", "dress", "skirt"]);
}

#[test]
fn hint_reports_held_out_coverage_and_personal_hit_rates() {
    let (_, data) = generated(100_000, 13);
    let out = hint(&data, "near_realtime");
    eprintln!("{}", serde_json::Value::Object(out.metrics.clone()));
    for name in [
        "holdout_coverage_at_3",
        "holdout_coverage_at_10",
        "personal_hit_rate_at_3",
        "overall_hit_rate_at_3",
    ] {
        let v = out.metrics[name].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{name} = {v}");
    }
    assert!(
        out.metrics["holdout_coverage_at_10"].as_f64()
            > out.metrics["holdout_coverage_at_3"].as_f64()
    );
    assert!(out.metrics["user_profiles"].as_u64().unwrap() > 1000);
}

/// On users who repeat their own searches, personal hints (the user's own repeated queries first) hit the
/// user's next searches far more often than the overall list.
#[test]
fn personal_hints_beat_the_overall_list_on_repeat_searches() {
    let (_, data) = common::generated_with(60_000, 17, algocenter_generator::Habits::WEB);
    let out = hint(&data, "near_realtime");
    eprintln!("{}", serde_json::Value::Object(out.metrics.clone()));
    let personal = out.metrics["personal_hit_rate_at_3"].as_f64().unwrap();
    let overall = out.metrics["overall_hit_rate_at_3"].as_f64().unwrap();
    assert!(
        personal >= 1.5 * overall && personal >= overall + 0.05,
        "personal {personal} vs overall {overall}"
    );
    assert!(out.metrics["users_with_own_queries"].as_u64().unwrap() > 1000);
}

#[test]
fn a_users_own_repeated_queries_come_first_in_their_hints_only() {
    let mut events = searches("phone", 100, 2, "a");
    events.extend(searches("dress", 90, 2, "b"));
    events.extend(searches("shoes", 80, 2, "c"));
    for i in 0..3 {
        events.push(search(
            "maria",
            "maria's garden club",
            NOW - (3 + i) * DAY_MS,
            &format!("m{i}"),
        ));
    }
    events.push(search("maria", "one-off", NOW - DAY_MS, "m9"));
    let data = InMemoryData {
        events,
        ..Default::default()
    };
    let model = QueryListModel::decode(&hint(&data, "near_realtime").artifact).unwrap();
    assert_eq!(
        hints(&model, 3, Some("maria")),
        ["maria's garden club", "phone", "dress"],
        "searched three times: first; once: not hers to repeat"
    );
    assert_eq!(hints(&model, 3, Some("a1")), ["phone", "dress", "shoes"]);
    assert_eq!(hints(&model, 3, None), ["phone", "dress", "shoes"]);
    // A second search since training (the live tail) makes a query one of the user's hints, the freshest.
    let live = [algocenter_functions::query::live::LiveSearch::new("One-Off", NOW + 1000).unwrap()];
    let with_live: Vec<String> = model
        .top_with_live(3, ListOrder::Default, Some("maria"), &live)
        .into_iter()
        .map(|q| q.query)
        .collect();
    assert_eq!(with_live, ["one-off", "maria's garden club", "phone"]);
}
