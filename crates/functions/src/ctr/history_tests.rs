//! The user-history field served as trained: a model trained on a small hand-made log, its artifact decoded,
//! and each held-out exposure scored both ways (the trainer's examples, serving's [`CtrModel::score`]).

use std::collections::{HashMap, HashSet};

use algocenter_domain::behaviour::BehaviourEvent;

use super::deep::DeepConfig;
use super::examples::{HistoryPlan, build, pages};
use super::features::{ItemFields, RawFeature};
use super::ffm::{Crosses, FfmConfig, sigmoid};
use super::log::Log;
use super::model::{CtrModel, Stored, UserHistories};
use super::train::{Candidate as Config, Kind, Run, Ticker, Validation};
use super::{Candidate, Situation, logits};

const HOUR: i64 = 3_600_000;

fn event(kind: &str, user: &str, rn: &str, item: &str, at: i64, hour: &str) -> BehaviourEvent {
    BehaviourEvent {
        user_id: user.into(),
        imei: String::new(),
        biz_id: String::new(),
        trace_id: String::new(),
        rn: rn.into(),
        item_id: item.into(),
        item_type: "item".into(),
        bhv_type: kind.into(),
        bhv_time_ms: at,
        reach_time_ms: at,
        raw_query: String::new(),
        hits: None,
        position: (kind == "expose").then_some(1),
        context: vec![("hour".into(), hour.into())],
        extra: Vec::new(),
    }
}

/// Twelve users, each shown four of twenty items an hour and clicking the items of their own taste (the item's
/// number modulo 3 = the user's), over three days.
fn hand_made_log() -> Log {
    let positives: HashSet<String> = ["click".to_string()].into();
    let mut log = Log::default();
    let mut n = 0u64;
    for hour in 0..72 {
        for u in 0..12u64 {
            let rn = format!("r{hour}-{u}");
            let user = format!("u{u}");
            for _ in 0..4 {
                n = n
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let item = (n >> 33) % 20;
                let at = i64::from(hour) * HOUR + (u * 10) as i64;
                let h = (hour % 24).to_string();
                let id = format!("i{item}");
                log.add(&event("expose", &user, &rn, &id, at, &h), &positives);
                if item % 3 == u % 3 || (n >> 20).is_multiple_of(7) {
                    log.add(&event("click", &user, &rn, &id, at + 1_000, &h), &positives);
                }
            }
        }
    }
    log.label(30 * 60_000);
    log
}

#[test]
fn serving_scores_a_users_history_as_the_trainer_does() {
    let log = hand_made_log();
    let fields = ItemFields::default();
    let item_raw: Vec<Vec<RawFeature>> = log
        .item_ids
        .iter()
        .map(|id| fields.features(id, None))
        .collect();
    let eval_start = 60 * HOUR;
    let trained = log.exposures.partition_point(|e| e.time_ms < eval_start);
    let fit_len = trained * 9 / 10;
    let plan = HistoryPlan {
        limit: 5,
        trained: 0..trained,
        cutoff_ms: eval_start,
    };
    let built = build(&log, &item_raw, 0..fit_len, 1, Some(plan));
    let set = &built.set;
    let nf = built.schema.fields();
    let history = set.history.as_ref().unwrap();
    let validation = Validation::new(set, pages(&log.exposures, fit_len..trained));
    let fit = pages(&log.exposures, 0..fit_len);
    let ticker = Ticker::default();
    for kind in [Kind::Deep, Kind::Ffm] {
        let config = Config {
            kind,
            ffm: FfmConfig {
                k: 4,
                learning_rate: 0.05,
                l2: 0.00002,
                crosses: Crosses::Personal,
            },
            deep: DeepConfig {
                dim: 4,
                hidden: [8, 4, 0],
                learning_rate: 0.003,
                embedding_l2: 0.001,
                batch: 32,
                crosses: Crosses::Personal,
                cross_learning_rate: 0.05,
            },
        };
        let mut run = Run::new(
            config,
            nf,
            u32::MAX >> (32 - nf),
            built.vocabulary.rows(),
            2,
            1,
            3,
        );
        while !run.finished {
            assert!(run.epoch(set, &fit, &validation, &ticker));
        }
        let (scorer, position) = run.finish(set, &validation, &ticker).unwrap();
        let held_out: Vec<u32> = (trained as u32..log.exposures.len() as u32).collect();
        let trainer = logits(&scorer, &position, set, &held_out);
        let stored = Stored {
            item_fields: fields.clone(),
            schema: built.schema.clone(),
            scorer,
            position,
            vocabulary: built.vocabulary.keys.clone(),
            items: Vec::new(),
            fitted: None,
            history: Some(UserHistories::served(history, &log.users.ids)),
        };
        let model = CtrModel::decode(&super::model::encode(&stored).unwrap()).unwrap();
        assert_eq!(model.users_with_history(), 12);
        let users: HashMap<u32, &str> = log
            .users
            .ids
            .iter()
            .map(|(k, &v)| (v, k.as_str()))
            .collect();
        let mut rows = Vec::new();
        for (&i, z) in held_out.iter().zip(&trainer) {
            let e = &log.exposures[i as usize];
            history.rows(e.user, Some((e.time_ms, e.rn)), &mut rows);
            assert_eq!(
                rows.len(),
                5,
                "every user chose five items before the held-out days"
            );
            let served = model.score(
                &Situation {
                    user: Some(users[&e.user]),
                    query: None,
                    context: &log.context_pairs[e.context as usize],
                    position: 1,
                },
                &[Candidate {
                    id: &log.item_ids[e.item as usize],
                    attributes: None,
                }],
            )[0];
            assert!(
                (served - sigmoid(*z)).abs() < 1e-5,
                "{kind:?}: {served} vs {}",
                sigmoid(*z)
            );
        }
        // With the histories emptied the same user scores otherwise: serving does read them.
        let mut forgetful = stored;
        forgetful.history = Some(UserHistories {
            limit: 5,
            users: Vec::new(),
        });
        let forgetful = CtrModel::from_stored(forgetful).unwrap();
        let e = &log.exposures[held_out[0] as usize];
        let situation = Situation {
            user: Some(users[&e.user]),
            query: None,
            context: &log.context_pairs[e.context as usize],
            position: 1,
        };
        let candidate = [Candidate {
            id: &log.item_ids[e.item as usize],
            attributes: None,
        }];
        assert_ne!(
            model.score(&situation, &candidate),
            forgetful.score(&situation, &candidate)
        );
    }
}
