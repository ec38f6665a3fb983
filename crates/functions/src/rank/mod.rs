//! `rank`: a custom sort model. The features are the generators of a `feature_generator` resource (or a
//! built-in set, [`defaults`]); the model is LambdaMART on NDCG@10 over the searches of the window.
//!
//! **Examples.** One search (`rn`) is one group: its exposures, each graded by the best behaviour that followed
//! it on the same `rn` and item within `attribution_window_minutes` (`label_weights`, by default expose 0,
//! click 1, cart 2, buy 3). Searches without a positive grade order nothing and are left out (their exposures
//! still count in the items' statistics). The logged position is never a feature.
//!
//! **Split by time** ([`HeldOutSplit::evaluate`]): searches of the last `holdout_days` are evaluated on, never
//! trained on; of the others, the most recent `validation_share` stops the boosting when NDCG@10 stops rising.
//! The evaluated model is the served one.
//!
//! **Position debiasing** (`position_debiasing=ipw`): a click at position 8 says more than one at position 1,
//! which users look at anyway. The examination propensity of each position is estimated from the logs by
//! intervention harvesting (Agarwal et al., WSDM 2019): the same query and item shown at position 1 in some
//! searches and at position k in others clicks less at k only because of k, so the ratio of their click rates,
//! pooled over all such pairs, estimates propensity(k) / propensity(1). A pair of examples is then weighted by
//! the inverse propensity of its better example's position (capped, normalised to mean 1), as in unbiased
//! LambdaMART (Hu et al., WWW 2019). The `ctr` function debiases by serving at a fixed position instead; its
//! score as a feature (`ctr_instance`) is taken at position 1.
//!
//! **Evaluation.** Held-out clicks are biased the same way: users clicked what the old ranking showed first,
//! so plain NDCG on them rewards agreeing with the logged order. NDCG is pooled over the held-out searches
//! (summed DCG over summed best DCG) and, with `ipw`, each gain is divided by the propensity of the position it
//! was logged at: an inverse-propensity estimate of the NDCG the order would earn if every position were looked
//! at. (A per-search mean cannot be debiased so: a search's one click scores the same wherever it was logged.)
//! The plain per-search mean is reported beside it as `observed_ndcg_at_10`.
//!
//! **Metrics** (`ExtendInfo`): held-out NDCG@5, NDCG@10 and MRR of the model, of the logged order, of item
//! popularity (training clicks) and of the `ctr` instance's score alone when one is named; feature importances
//! (split gain, as shares); example and group counts; the propensities used.

mod cross_fit;
mod defaults;
pub mod encoding;
pub mod examples;
pub mod facts;
pub mod features;
pub mod gbdt;
mod known;
pub mod lambdarank;
mod model;
mod propensity;
mod training;

pub use model::{CTR_COLUMN, Candidate, Explanation, RankModel, Scored};
pub use training::{RankTrainer, examples};
