#!/usr/bin/env python3
"""LightGBM's lambdarank on the very examples algocenter's rank trainer built, side by side.

    bench/rank_lightgbm.sh [EVENTS]     # exports the examples, runs this, prints both

Reads DIR/{fit,validation,held_out}.csv (group, grade, logged position, then one column per feature, empty for
missing) and DIR/propensities.json as `rank_training --export DIR` writes them, trains LightGBM with the rank
trainer's defaults (31 leaves, learning rate 0.1, 20 examples per leaf, 63 bins, L2 1, at most 300 trees,
early stopping after 20 rounds on the validation part's NDCG@10 pooled as the trainer pools it) and reports, on the held-out part, the same
figures the trainer reports: NDCG@10 pooled over searches with gains divided by the examination propensity of
their logged position (with --ipw, else plain), and the per-search mean NDCG@10 of the observed grades.
"""

import json
import sys
import time

import lightgbm as lgb
import numpy as np


def load(path):
    rows = np.genfromtxt(path, delimiter=",", dtype=np.float64, missing_values="", filling_values=np.nan)
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    groups = rows[:, 0].astype(np.int64)
    grades = rows[:, 1]
    positions = rows[:, 2].astype(np.int64)
    features = rows[:, 3:]
    # Group sizes in order (rows of one search are contiguous).
    _, starts = np.unique(groups, return_index=True)
    sizes = np.diff(np.append(np.sort(starts), len(groups)))
    return features, grades, positions, sizes


def gain(grade):
    return 2.0 ** grade - 1.0


def discount(rank):
    return 1.0 / np.log2(rank + 2.0)


def dcg(scores, gains, k=10):
    # Ties against the model: lower gains first among equal scores.
    order = np.lexsort((gains, -scores))[:k]
    ideal = np.sort(gains)[::-1][:k]
    ranks = np.arange(len(order))
    return float(np.sum(gains[order] * discount(ranks))), float(np.sum(ideal * discount(np.arange(len(ideal)))))


def figures(scores, grades, positions, sizes, propensities, ipw):
    pooled_dcg, pooled_best, observed, n = 0.0, 0.0, 0.0, 0
    start = 0
    for size in sizes:
        s = scores[start:start + size]
        g = grades[start:start + size]
        p = positions[start:start + size]
        weights = np.array([1.0 / propensities[min(max(q, 1), len(propensities)) - 1] for q in p]) if ipw else 1.0
        d, b = dcg(s, gain(g) * weights)
        pooled_dcg += d
        pooled_best += b
        d, b = dcg(s, gain(g))
        if b > 0:
            observed += d / b
            n += 1
        start += size
    return pooled_dcg / max(pooled_best, 1e-12), observed / max(n, 1)


def main():
    directory = sys.argv[1]
    ipw = "--ipw" in sys.argv
    propensities = json.load(open(f"{directory}/propensities.json"))
    fit = load(f"{directory}/fit.csv")
    validation = load(f"{directory}/validation.csv")
    held = load(f"{directory}/held_out.csv")
    # Early stopping on the same figure the rank trainer stops on: NDCG@10 pooled over the validation searches
    # (LightGBM's own ndcg is the per-search mean, which on position-biased clicks peaks at the first tree).
    def pooled(scores, dataset):
        value, _ = figures(scores, validation[1], validation[2], validation[3], propensities, ipw)
        return "pooled_ndcg_at_10", value, True

    params = {
        "objective": "lambdarank",
        "metric": "None",
        "num_leaves": 31,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "max_bin": 63,
        "lambda_l2": 1.0,
        "verbosity": -1,
        "num_threads": 2,
        "deterministic": True,
    }
    train_set = lgb.Dataset(fit[0], label=fit[1], group=fit[3])
    valid_set = lgb.Dataset(validation[0], label=validation[1], group=validation[3], reference=train_set)
    started = time.perf_counter()
    cpu = time.process_time()
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=300,
        valid_sets=[valid_set],
        feval=pooled,
        callbacks=[lgb.early_stopping(20, verbose=False)],
    )
    seconds_with_python_metric = time.perf_counter() - started
    # Timing without the Python metric: the same number of trees built as the early-stopped run, no validation.
    rounds = booster.best_iteration + 20
    started = time.perf_counter()
    cpu = time.process_time()
    lgb.train(params, lgb.Dataset(fit[0], label=fit[1], group=fit[3]), num_boost_round=rounds)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    scores = booster.predict(held[0], num_iteration=booster.best_iteration)
    pooled, observed = figures(scores, held[1], held[2], held[3], propensities, ipw)
    print(json.dumps({
        "lightgbm": lgb.__version__,
        "rows_fit": int(len(fit[1])),
        "rows_held_out": int(len(held[1])),
        "features": int(fit[0].shape[1]),
        "best_iteration": booster.best_iteration,
        "ndcg_at_10": round(pooled, 4),
        "observed_ndcg_at_10": round(observed, 4),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "trees_timed": rounds,
        "seconds_with_python_metric": round(seconds_with_python_metric, 2),
    }))


if __name__ == "__main__":
    main()
