//! What the trainers report while they run, as the engine shows it (`Progress` and `Step`): their declared
//! steps in order, rising to 100, and a prompt stop when the run is cancelled.

mod common;

use std::sync::LazyLock;

use algocenter_domain::Function;
use algocenter_domain::data::InMemoryData;
use algocenter_functions::progress::{Level, percent};
use algocenter_functions::{Cancelled, Progress, TrainError, Trainer};
use algocenter_functions::{category, ctr, pop, query_list, suggest};
use algocenter_generator::{GeneratorConfig, World};
use common::{NOW, Recorder, train_reporting};

/// Every event of a small generated shop: enough for each function, and for scans to report their counts.
static DATA: LazyLock<InMemoryData> = LazyLock::new(|| {
    let world = World::new(GeneratorConfig::for_events(240_000, 14, NOW, 11));
    let mut data = InMemoryData {
        items: world.item_documents().collect(),
        ..Default::default()
    };
    world.events(&mut |e, _| data.events.push(e.clone()));
    data
});

type Case = (
    &'static dyn Trainer,
    Function,
    &'static str,
    &'static [(&'static str, &'static str)],
);

fn trainers() -> Vec<Case> {
    vec![
        (&pop::PopTrainer, Function::Pop, "pop", &[]),
        (
            &query_list::HotTrainer,
            Function::Hot,
            "offline_inference",
            &[],
        ),
        (
            &query_list::HintTrainer,
            Function::Hint,
            "near_realtime",
            &[],
        ),
        (
            &suggest::SuggestTrainer,
            Function::Suggest,
            "offline_inference",
            &[],
        ),
        (
            &category::CategoryTrainer,
            Function::Category,
            "offline_inference",
            &[],
        ),
        (
            &ctr::CtrTrainer,
            Function::Ctr,
            "tf_checkpoint",
            &[("id_field", "item_id"), ("title_field", "title")],
        ),
    ]
}

#[test]
fn every_trainer_reports_its_steps_rising_to_100() {
    for (trainer, function, model_type, params) in trainers() {
        let mut recorder = Recorder::default();
        train_reporting(
            trainer,
            function,
            model_type,
            &DATA,
            params,
            &[],
            &mut recorder,
        )
        .unwrap_or_else(|e| panic!("{function}: {e}"));
        let seen = &recorder.0;
        assert!(
            seen.windows(2).all(|w| w[0].0 <= w[1].0),
            "{function}: progress went back: {seen:?}"
        );
        assert_eq!(
            seen.last(),
            Some(&(100, "done".to_string())),
            "{function}: {seen:?}"
        );
        assert!(
            seen[..seen.len() - 1]
                .iter()
                .all(|(p, text)| *p < 100 && !text.is_empty()),
            "{function}: 100 only at the end, and every step named: {seen:?}"
        );
        let shown = |part: &str| seen.iter().any(|(_, text)| text.contains(part));
        assert!(shown("evaluating on held-out days"), "{function}: {seen:?}");
        assert!(
            shown(" events"),
            "{function}: a scan counts its events: {seen:?}"
        );
        // pop and ctr serve the model they evaluated.
        if !matches!(function, Function::Pop | Function::Ctr) {
            assert!(
                shown("refitting on the whole window"),
                "{function}: {seen:?}"
            );
        }
    }
}

/// Cancels at the first report at or past a percentage, and counts the reports that follow.
struct CancelAt {
    at: u8,
    cancelled: bool,
    after: usize,
}

impl Progress for CancelAt {
    fn update(&mut self, stack: &[Level<'_>]) -> Result<(), Cancelled> {
        if self.cancelled {
            self.after += 1;
            return Err(Cancelled);
        }
        if percent(stack) >= self.at {
            self.cancelled = true;
            return Err(Cancelled);
        }
        Ok(())
    }
}

#[test]
fn a_cancelled_run_stops_at_once_wherever_it_is() {
    for (trainer, function, model_type, params) in trainers() {
        for at in [1, 50, 90] {
            let mut sink = CancelAt {
                at,
                cancelled: false,
                after: 0,
            };
            let outcome =
                train_reporting(trainer, function, model_type, &DATA, params, &[], &mut sink);
            assert!(
                matches!(outcome, Err(TrainError::Cancelled)),
                "{function} cancelled at {at}%: {outcome:?}"
            );
            assert_eq!(sink.after, 0, "{function} kept reporting after {at}%");
        }
    }
}
