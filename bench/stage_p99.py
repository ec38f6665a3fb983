#!/usr/bin/env python3
"""Each query-analysis stage's p99 over one load, from two scrapes of GET /metrics taken around it.

usage: stage_p99.py BEFORE AFTER LABEL

Reads `algocenter_query_analysis_stage_seconds` buckets, subtracts BEFORE's counts from AFTER's and prints, per
stage, the number of analyses that ran it, the mean, and the p50 and p99 as the upper bound of the bucket they fall
in (so a figure is "at most"; the buckets are 100 µs apart between 0.1 and 1 ms).
"""
import re
import sys

SAMPLE = re.compile(
    r'^algocenter_query_analysis_stage_seconds_(bucket|sum|count)\{(.*)\} ([0-9.eE+-]+|\+Inf)$')


def read(path):
    stages = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = SAMPLE.match(line.strip())
            if not m:
                continue
            kind, labels, value = m.groups()
            labels = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            s = stages.setdefault(labels["stage"], {"buckets": {}, "sum": 0.0, "count": 0.0})
            if kind == "bucket":
                s["buckets"][float(labels["le"])] = float(value)
            else:
                s[kind] = float(value)
    return stages


def quantile(buckets, count, q):
    for bound in sorted(buckets):
        if buckets[bound] >= q * count:
            return bound
    return float("inf")


def main():
    before, after, label = read(sys.argv[1]), read(sys.argv[2]), sys.argv[3]
    order = ["correction", "segmentation", "weights", "synonyms", "categories", "rewrite"]
    for stage in sorted(after, key=lambda s: order.index(s) if s in order else len(order)):
        a, b = after[stage], before.get(stage, {"buckets": {}, "sum": 0.0, "count": 0.0})
        count = a["count"] - b["count"]
        if count <= 0:
            continue
        buckets = {le: n - b["buckets"].get(le, 0.0) for le, n in a["buckets"].items()}
        mean_ms = (a["sum"] - b["sum"]) / count * 1000
        fmt = lambda s: "over the last bucket" if s == float("inf") else f"<= {s * 1000:.3f} ms"
        print(f"query-analysis {label} stage {stage}: analyses={count:.0f} mean_ms={mean_ms:.3f} "
              f"p50 {fmt(quantile(buckets, count, 0.50))}, p99 {fmt(quantile(buckets, count, 0.99))}")


if __name__ == "__main__":
    main()
