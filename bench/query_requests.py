#!/usr/bin/env python3
"""Writes the request files of bench/query.sh from a generated data set's searches: what users really typed,
so that prefixes, users and queries follow the traffic.

    python3 bench/query_requests.py GEN_DIR OUT_DIR [--app bench] [--count 20000] [--seed 1]

OUT_DIR/hot.txt, hint.txt, suggest.txt, suggest_user.txt (the same prefixes with the searching user's user_id),
category.txt: one request per line (see bench/requests.lua).
"""

import argparse
import json
import os
import random
import urllib.parse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("gen_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--app", default="bench")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    # A sample of searches (reservoir over the file, which is too large to hold).
    searches = []
    seen = 0
    with open(os.path.join(args.gen_dir, "behavior.jsonl"), encoding="utf-8") as f:
        for line in f:
            if '"search"' not in line:
                continue
            fields = json.loads(line)["fields"]
            seen += 1
            if len(searches) < args.count:
                searches.append(fields)
            else:
                j = rng.randrange(seen)
                if j < args.count:
                    searches[j] = fields

    base = f"/v3/openapi/apps/{args.app}"
    quote = urllib.parse.quote
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "hot.txt"), "w", encoding="utf-8") as out:
        for s in searches[:2000]:
            sort = rng.choice(["default", "pv", "uv"])
            out.write(f"GET {base}/actions/hot?model_name=hot1&hit=10&sort_type={sort}\n")
    with open(os.path.join(args.out_dir, "hint.txt"), "w", encoding="utf-8") as out:
        for s in searches:
            out.write(f"GET {base}/actions/hint?model_name=hint1&user_id={quote(s['user_id'])}\n")
    with open(os.path.join(args.out_dir, "suggest.txt"), "w", encoding="utf-8") as plain, \
            open(os.path.join(args.out_dir, "suggest_user.txt"), "w", encoding="utf-8") as personal:
        for s in searches:
            query = s["raw_query"]
            prefix = query[: rng.randint(1, len(query))]
            line = f"GET {base}/suggest/sug1/search?query={quote(prefix)}&hit=10"
            plain.write(line + "\n")
            personal.write(f"{line}&user_id={quote(s['user_id'])}\n")
    path = f"/v4/openapi/app-groups/{args.app}/functions/category/instances/cat1/predict"
    with open(os.path.join(args.out_dir, "category.txt"), "w", encoding="utf-8") as out:
        for s in searches:
            body = json.dumps({"queries": [s["raw_query"]]}, ensure_ascii=False)
            out.write(f"POST {path} {body}\n")


if __name__ == "__main__":
    main()
