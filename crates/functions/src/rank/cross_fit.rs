//! The `ctr` instance's score as a feature, cross-fitted by day. The served ctr model saw rank's training days,
//! so on them its score is in-sample and better than it will be on new days: trees trained on it trust it too
//! much. Instead each training day is scored by a ctr model fitted without that day: the training days are
//! dealt into `ctr_folds` folds by day (day 1 to fold 1, day 2 to fold 2, …), and fold `k`'s days are scored
//! by the ctr learner trained on the window with fold `k`'s days hidden (the same learner and item fields as the
//! served model, through [`CtrTrainer::train_except`]). Those models hold out rank's held-out days as the served
//! one does, so none of them fits on a day it scores or on a day rank is evaluated on.
//!
//! Rank's held-out days and serving use the served ctr instance, unless it was fitted on a held-out day (its
//! artifact says which days it fitted on): then the held-out days are scored by the mean of the fold models and
//! `ExtendInfo` warns that the figures do not describe the served model exactly.

use algocenter_domain::Function;
use algocenter_domain::catalogue::{Parameter, ParameterList, version_for_model_type};
use algocenter_domain::data::day_of;
use serde_json::{Map, Value, json};

use super::features::Situation;
use super::model::ctr_scores;
use crate::ctr::{CtrModel, CtrTrainer};
use crate::held_out::{HeldOutSplit, Window};
use crate::progress::{Cancelled, Level, Progress, Steps, percent};
use crate::{TrainError, TrainingJob};

/// The ctr column's source for each search.
pub(super) struct CtrFeature {
    served: CtrModel,
    /// `folds[k]` never saw the training days of fold `k`.
    folds: Vec<CtrModel>,
    first_day: i64,
    /// The served model fitted on held-out days: they are scored by the folds' mean instead.
    served_saw_held_out: bool,
    report: Map<String, Value>,
}

/// Reports a fold model's training as a share of the cross-fitting step.
struct FoldProgress<'s, 'p> {
    steps: &'s mut Steps<'p>,
    fold: usize,
    folds: usize,
}

impl Progress for FoldProgress<'_, '_> {
    fn update(&mut self, stack: &[Level<'_>]) -> Result<(), Cancelled> {
        let inner = f64::from(percent(stack)) / 100.0;
        self.steps
            .fraction((self.fold as f64 + inner) / self.folds as f64)
    }
}

/// The fold of a training day: days are dealt in turn from the window's first day. One rule for which days a
/// fold model hides and which days it scores.
fn fold_of(day: i64, first_day: i64, folds: usize) -> usize {
    (day - first_day).rem_euclid(folds as i64) as usize
}

/// Whether two spans of time share an instant.
fn overlap(a: Window, b: Window) -> bool {
    a.from_ms < b.to_ms && b.from_ms < a.to_ms
}

impl CtrFeature {
    /// Decodes the served model and trains the fold models (the cross-fitting step of `steps`).
    pub(super) fn fit(
        job: &TrainingJob<'_>,
        served: &[u8],
        folds: usize,
        split: &HeldOutSplit,
        steps: &mut Steps<'_>,
    ) -> Result<CtrFeature, TrainError> {
        let served = CtrModel::decode(served).map_err(|e| {
            TrainError::Failed(format!("the ctr_instance's model cannot be read: {e}"))
        })?;
        let window = split.whole_window();
        let held_out = split.held_out();
        let first_day = day_of(window.from_ms);
        let training_days = day_of(held_out.from_ms - 1) - first_day + 1;
        let folds = folds.clamp(2, training_days.max(2) as usize);

        // The ctr learner as the served model was configured where its artifact says, defaults otherwise.
        let version = version_for_model_type(Function::Ctr, "tf_checkpoint")
            .map_err(|e| TrainError::Failed(e.to_string()))?;
        let fields = served.item_fields();
        let given = [
            ("model", served.kind()),
            ("id_field", fields.id.as_str()),
            ("title_field", fields.title.as_str()),
            ("category_field", fields.category.as_str()),
            ("tags_field", fields.tags.as_str()),
            ("description_field", fields.description.as_str()),
            ("train_window_days", &split.window_days().to_string()),
            ("holdout_days", &split.holdout_days().to_string()),
            // The fold models only feed rank: ctr's own quality gate does not apply to them.
            ("available_threshold", "0"),
        ]
        .map(|(name, value)| Parameter {
            name: name.to_string(),
            value: value.to_string(),
        });
        let parameters = version.effective(ParameterList::Create, &given);
        let usage = version.effective(ParameterList::Usage, &[]);
        let fold_job = TrainingJob {
            function: Function::Ctr,
            model_type: "tf_checkpoint",
            parameters: &parameters,
            usage_parameters: &usage,
            ..*job
        };
        let mut models = Vec::with_capacity(folds);
        let mut described = Vec::with_capacity(folds);
        for fold in 0..folds {
            let hidden =
                |t: i64| t < held_out.from_ms && fold_of(day_of(t), first_day, folds) == fold;
            let mut progress = FoldProgress {
                steps: &mut *steps,
                fold,
                folds,
            };
            let trained = CtrTrainer
                .train_except(&fold_job, &hidden, &mut progress)
                .map_err(|e| match e {
                    TrainError::Cancelled => TrainError::Cancelled,
                    TrainError::InsufficientData(m) => TrainError::InsufficientData(format!(
                        "the ctr model cross-fitted without fold {} of {folds}: {m}",
                        fold + 1
                    )),
                    TrainError::Failed(m) => TrainError::Failed(format!(
                        "the ctr model cross-fitted without fold {} of {folds}: {m}",
                        fold + 1
                    )),
                })?;
            let model = CtrModel::decode(&trained.artifact)
                .map_err(|e| TrainError::Failed(e.to_string()))?;
            let hidden_days: Vec<i64> = (0..training_days)
                .filter(|d| fold_of(first_day + d, first_day, folds) == fold)
                .map(|d| d + 1)
                .collect();
            described.push(json!({
                "hidden_days": hidden_days,
                "held_out_auc_within_position": trained.metrics.get("auc_within_position").cloned().unwrap_or(Value::Null),
            }));
            models.push(model);
        }

        let served_saw_held_out = served.fitted_on().is_some_and(|w| {
            overlap(
                Window {
                    from_ms: w.0,
                    to_ms: w.1,
                },
                held_out,
            )
        });
        let mut report = Map::new();
        report.insert(
            "ctr_cross_fit".into(),
            json!({
                "folds": folds,
                "days": "numbered from the window's first day; each fold model hid its days and never fitted on the held-out days",
                "models": described,
            }),
        );
        report.insert(
            "ctr_feature_on_held_out".into(),
            json!(match (served_saw_held_out, served.fitted_on()) {
                (true, _) =>
                    "the mean of the cross-fitted models: the ctr instance fitted on held-out days",
                (false, Some(_)) => "the ctr instance (it did not fit on the held-out days)",
                (false, None) =>
                    "the ctr instance (its artifact does not say which days it fitted on)",
            }),
        );
        let mut warnings = Vec::new();
        if served_saw_held_out {
            warnings.push(
                "the ctr instance's training window covers rank's held-out days: the held-out figures use \
                 cross-fitted ctr scores instead of the instance's, which serving uses; train the ctr instance \
                 before the held-out days begin (or rank with more holdout_days) to evaluate what serves",
            );
        }
        if served.users_with_history() > 0 {
            // A fold model with histories would hold clicks of the very days it scores.
            warnings.push(
                "the ctr instance reads each user's earlier clicks (user_history) and the cross-fitted models \
                 do not: rank's trees learned on ctr scores without that field, and serving gives them the \
                 instance's scores with it",
            );
        }
        if !warnings.is_empty() {
            report.insert("warning".into(), json!(warnings.join("; ")));
        }
        Ok(CtrFeature {
            served,
            folds: models,
            first_day,
            served_saw_held_out,
            report,
        })
    }

    /// The ctr column of one search's candidates, of `day`, held out or not.
    pub(super) fn scores(
        &self,
        day: i64,
        held_out: bool,
        situation: &Situation<'_>,
        candidates: &[(&str, Option<&Map<String, Value>>)],
    ) -> Vec<f32> {
        if !held_out {
            let model = &self.folds[fold_of(day, self.first_day, self.folds.len())];
            return ctr_scores(model, situation, candidates);
        }
        if !self.served_saw_held_out {
            return ctr_scores(&self.served, situation, candidates);
        }
        let mut mean = vec![0.0f32; candidates.len()];
        for model in &self.folds {
            for (m, s) in mean
                .iter_mut()
                .zip(ctr_scores(model, situation, candidates))
            {
                *m += s / self.folds.len() as f32;
            }
        }
        mean
    }

    /// Each fold model's scores of one held-out search's candidates (to evaluate them, not as a feature).
    pub(super) fn fold_scores(
        &self,
        situation: &Situation<'_>,
        candidates: &[(&str, Option<&Map<String, Value>>)],
    ) -> Vec<Vec<f32>> {
        self.folds
            .iter()
            .map(|model| ctr_scores(model, situation, candidates))
            .collect()
    }

    pub(super) fn folds(&self) -> usize {
        self.folds.len()
    }

    /// What `ExtendInfo` says about the cross-fitting.
    pub(super) fn report(&self) -> &Map<String, Value> {
        &self.report
    }
}
