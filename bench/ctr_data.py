#!/usr/bin/env python3
"""Helpers of bench/ctr.sh over a generated data set (stdlib only).

  ctr_data.py truth GEN_DIR HOLDOUT_START_MS
      AUC and logloss of the generator's true click probabilities on the exposures at or after HOLDOUT_START_MS
      (the trainer's held-out period), labelled as the trainer labels them (a click, cart or buy on the same rn
      and item). Needs truth_exposures.csv (`algocenter generate --truth`).
  ctr_data.py requests GEN_DIR OUT_FILE [--app A] [--instance I] [--count N] [--candidates K]
      N predict requests (one per line, `POST <path> <json>`) for bench/requests.lua: the query and user of a
      generated search and K candidates, its ten exposed items and random others.
"""

import argparse
import csv
import json
import math
import random
import sys


def fields(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)["fields"]


def auc(scores, labels):
    order = sorted(range(len(scores)), key=scores.__getitem__)
    positives = sum(labels)
    negatives = len(labels) - positives
    rank_sum, i = 0.0, 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        tied = sum(1 for k in order[i:j + 1] if labels[k])
        rank_sum += tied * ((i + j) / 2 + 1)
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def truth(args):
    held_out, clicked = set(), set()
    with open(f"{args.gen_dir}/behavior.jsonl", encoding="utf-8") as f:
        for line in f:
            # Most lines are exposures; only those of the held-out period and the positives are parsed.
            if '"bhv_type":"expose"' in line:
                e = json.loads(line)["fields"]
                if e["bhv_time"] >= args.holdout_start_ms:
                    held_out.add((e["rn"], e["item_id"]))
            elif any(f'"bhv_type":"{t}"' in line for t in ("click", "cart", "buy")):
                e = json.loads(line)["fields"]
                clicked.add((e["rn"], e["item_id"]))
    scores, labels = [], []
    with open(f"{args.gen_dir}/truth_exposures.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = (row["rn"], row["item_id"])
            if key in held_out:
                held_out.discard(key)  # an exposure once, as the trainer deduplicates
                scores.append(float(row["p_click"]))
                labels.append(key in clicked)
    clamp = lambda p: min(max(p, 1e-7), 1 - 1e-7)
    loss = sum(-math.log(clamp(p)) if y else -math.log(clamp(1 - p)) for p, y in zip(scores, labels)) / len(scores)
    print(json.dumps({"truth_auc": round(auc(scores, labels), 4), "truth_logloss": round(loss, 4),
                      "truth_mean_ctr": round(sum(scores) / len(scores), 4),
                      "observed_ctr": round(sum(labels) / len(labels), 4), "exposures": len(scores)}))


def requests(args):
    rng = random.Random(1)
    items = [d["item_id"] for d in fields(f"{args.gen_dir}/items.jsonl")]
    searches, shown = {}, {}
    for e in fields(f"{args.gen_dir}/behavior.jsonl"):
        if e["bhv_type"] == "search" and len(searches) < args.count * 4:
            searches[e["rn"]] = (e["raw_query"], e["user_id"])
        elif e["bhv_type"] == "expose" and e["rn"] in searches:
            shown.setdefault(e["rn"], []).append(e["item_id"])
        if len(searches) >= args.count * 4 and len(shown) >= args.count:
            break
    path = f"/v4/openapi/app-groups/{args.app}/functions/ctr/instances/{args.instance}/predict"
    with open(args.out_file, "w", encoding="utf-8") as out:
        for rn in list(shown)[:args.count]:
            query, user = searches[rn]
            candidates = list(dict.fromkeys(shown[rn] + rng.sample(items, args.candidates)))[:args.candidates]
            body = {"query": query, "userId": user, "context": {"device": "ios"}, "items": candidates}
            out.write(f"POST {path} {json.dumps(body, ensure_ascii=False, separators=(',', ':'))}\n")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("truth")
    t.add_argument("gen_dir")
    t.add_argument("holdout_start_ms", type=int)
    r = sub.add_parser("requests")
    r.add_argument("gen_dir")
    r.add_argument("out_file")
    r.add_argument("--app", default="bench")
    r.add_argument("--instance", default="rank")
    r.add_argument("--count", type=int, default=2000)
    r.add_argument("--candidates", type=int, default=100)
    args = parser.parse_args()
    {"truth": truth, "requests": requests}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
