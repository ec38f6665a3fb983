//! Where a model's held-out AUC on the context-aware shape falls short of the truth's: oracles that know part
//! of the generator's world, and the AUC split by what kind of row a click or a non-click is (the overall AUC
//! is the share-weighted mean of the splits, so the gap decomposes exactly). For the `ctr_training` bench's
//! `context` shape (issue 14 in `bench/README.md`); nothing here reaches a trainer.
#![allow(dead_code)]

use std::collections::HashMap;

use algocenter_domain::data::{DAY_MS, InMemoryData};
use algocenter_functions::evaluation::auc;
use algocenter_generator::context::{ContextWorld, Knowledge};

use super::ctr_world::Shown;

/// What kind of item a held-out row shows, for its user.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Kind {
    /// One of the user's own items, clicked by that user in the training days.
    OwnSeen,
    /// One of the user's own items, never clicked by that user before.
    OwnUnseen,
    /// Any other item the user clicked before.
    OtherSeen,
    OtherUnseen,
}

const KINDS: [Kind; 4] = [
    Kind::OwnSeen,
    Kind::OwnUnseen,
    Kind::OtherSeen,
    Kind::OtherUnseen,
];

/// Prints the oracles' AUCs and the model's gap to the truth split by row kind and by user activity.
pub fn report(world: &ContextWorld, data: &InMemoryData, held_out: &[Shown], model: &[f32]) {
    let from = world.config().end_ms - DAY_MS;
    let mut pair_clicks: HashMap<(u32, u32), u32> = HashMap::new();
    let mut user_clicks: HashMap<u32, u32> = HashMap::new();
    // Clicks and exposures of each item in the training days: a score that knows items alone.
    let mut item_rate: HashMap<&str, (f64, f64)> = HashMap::new();
    for e in data.events.iter().filter(|e| e.bhv_time_ms < from) {
        let rate = item_rate.entry(&e.item_id).or_default();
        if e.bhv_type == "click" {
            rate.0 += 1.0;
            if let Some((u, _, i)) = world.row_of(&e.user_id, &e.item_id, &e.context) {
                *pair_clicks.entry((u, i)).or_default() += 1;
                *user_clicks.entry(u).or_default() += 1;
            }
        } else {
            rate.1 += 1.0;
        }
    }
    let item_ctr: Vec<f32> = held_out
        .iter()
        .map(|s| {
            let (c, n) = item_rate.get(s.item.as_str()).copied().unwrap_or_default();
            ((c + 1.0) / (n + 3.0)) as f32
        })
        .collect();
    let rows: Vec<(u32, [usize; 8], u32)> = held_out
        .iter()
        .map(|s| {
            world
                .row_of(&s.user, &s.item, &s.context)
                .expect("a row of this world")
        })
        .collect();
    let labels: Vec<bool> = held_out.iter().map(|s| s.clicked).collect();
    let truth: Vec<f32> = held_out.iter().map(|s| s.truth as f32).collect();

    let oracle = |knows: &dyn Fn(u32) -> Knowledge<'static>, seen_only: bool| -> f64 {
        let scores: Vec<f32> = rows
            .iter()
            .map(|&(u, c, i)| {
                let seen = |item: u32| pair_clicks.contains_key(&(u, item));
                let k = Knowledge {
                    own: seen_only.then_some(&seen as &dyn Fn(u32) -> bool),
                    ..knows(u)
                };
                world.oracle(u, &c, i, &k) as f32
            })
            .collect();
        auc(&scores, &labels).unwrap_or(0.5)
    };
    let all = |_| Knowledge::ALL;
    let no_context = |_| Knowledge {
        context: false,
        ..Knowledge::ALL
    };
    let no_taste = |_| Knowledge {
        taste: false,
        ..Knowledge::ALL
    };
    let own_and_popularity = |_| Knowledge {
        taste: false,
        context: false,
        ..Knowledge::ALL
    };
    let popularity = |_| Knowledge {
        taste: false,
        context: false,
        own_items: false,
        own: None,
    };
    println!("oracles on the held-out rows (AUC; what each knows of the generator's world):");
    for (name, knows, seen_only) in [
        (
            "truth (everything)",
            &all as &dyn Fn(u32) -> Knowledge<'static>,
            false,
        ),
        ("without the context's effects", &no_context, false),
        ("without the user's taste", &no_taste, false),
        (
            "own items and popularity (no taste)",
            &own_and_popularity,
            false,
        ),
        ("popularity only", &popularity, false),
        (
            "truth, own items only those clicked in training",
            &all,
            true,
        ),
        (
            "without context, own items only those clicked",
            &no_context,
            true,
        ),
        (
            "own items clicked in training and popularity",
            &own_and_popularity,
            true,
        ),
    ] {
        println!("  {name}: {:.4}", oracle(knows, seen_only));
    }

    let kind = |&(u, _, i): &(u32, [usize; 8], u32)| {
        let seen = pair_clicks.contains_key(&(u, i));
        match (world.is_own(u, i), seen) {
            (true, true) => Kind::OwnSeen,
            (true, false) => Kind::OwnUnseen,
            (false, true) => Kind::OtherSeen,
            (false, false) => Kind::OtherUnseen,
        }
    };
    let kinds: Vec<Kind> = rows.iter().map(kind).collect();
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    // AUC of the rows of `keep` that are clicked against every non-click (or every click against the
    // non-clicks of `keep`): the overall AUC is their mean weighted by the clicks' (non-clicks') shares.
    let split = |scores: &[f32], keep: &dyn Fn(usize) -> bool, clicked: bool| -> (f64, f64) {
        let (mut s, mut l) = (Vec::new(), Vec::new());
        for (j, (&score, &label)) in scores.iter().zip(&labels).enumerate() {
            if label != clicked || keep(j) {
                s.push(score);
                l.push(label);
            }
        }
        let n = l.iter().filter(|&&x| x == clicked).count() as f64;
        (
            auc(&s, &l).unwrap_or(f64::NAN),
            n / if clicked { positives } else { negatives },
        )
    };
    let (model_auc, truth_auc) = (
        auc(model, &labels).unwrap_or(0.5),
        auc(&truth, &labels).unwrap_or(0.5),
    );
    println!(
        "gap to the truth by row kind (AUC of that kind's clicks against every non-click, or of every click against \
         that kind's non-clicks; share; the gap's part = share × (truth − model)); total gap {:.4}:",
        truth_auc - model_auc
    );
    for clicked in [true, false] {
        for k in KINDS {
            let keep = |j: usize| kinds[j] == k;
            let (m, share) = split(model, &keep, clicked);
            let (t, _) = split(&truth, &keep, clicked);
            let (c, _) = split(&item_ctr, &keep, clicked);
            if share > 0.0 {
                println!(
                    "  {} {k:?}: share {share:.3}, model {m:.4}, truth {t:.4}, item click-through {c:.4}, \
                     part of the gap {:.4}",
                    if clicked { "clicks" } else { "non-clicks" },
                    share * (t - m)
                );
            }
        }
    }

    // Users by their clicks in the training days, in thirds of the held-out rows.
    let mut activity: Vec<u32> = rows
        .iter()
        .map(|(u, _, _)| user_clicks.get(u).copied().unwrap_or(0))
        .collect();
    activity.sort_unstable();
    let cuts = [
        activity[activity.len() / 3],
        activity[2 * activity.len() / 3],
    ];
    println!("by user activity (clicks in the training days), thirds of the held-out rows:");
    for (t, range) in [
        (0, 0..cuts[0]),
        (1, cuts[0]..cuts[1]),
        (2, cuts[1]..u32::MAX),
    ] {
        let keep: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, (u, _, _))| range.contains(&user_clicks.get(u).copied().unwrap_or(0)))
            .map(|(j, _)| j)
            .collect();
        let pick = |s: &[f32]| keep.iter().map(|&j| s[j]).collect::<Vec<f32>>();
        let l: Vec<bool> = keep.iter().map(|&j| labels[j]).collect();
        let (m, tr) = (
            auc(&pick(model), &l).unwrap_or(0.5),
            auc(&pick(&truth), &l).unwrap_or(0.5),
        );
        println!(
            "  third {t} ({range:?} clicks, {} rows): model {m:.4}, truth {tr:.4}, gap {:.4}",
            keep.len(),
            tr - m
        );
    }
}
