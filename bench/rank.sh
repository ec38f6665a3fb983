#!/usr/bin/env bash
# rank serving benchmark, end to end (issue 18): builds algocenter, generates (or reuses) the graded shop
# (`generate --graded`), starts the server on a fresh data dir (bench/lib.sh: loopback, unsigned), pushes items and
# behaviour, creates a feature_generator resource of 50 generators (bench/rank_generators.json) with the CLI, a
# rank instance on it, trains it (training time, the server's peak RSS, held-out metrics), then loads
# POST /v4/openapi/app-groups/bench/functions/rank/instances/r50/predict, each request 100 candidate items with the
# query, user and budget of a generated search, with wrk: paced at RATE requests/s (bench/requests.lua's
# PACE_RATE send schedule; the delivered rate is printed) and saturated. Each load reports wrk's p50/p99, the rate
# delivered and the server's CPU during it (cores busy, and CPU ms per request, from /proc). Raw outputs:
# bench/results/<timestamp>-rank/.
#
# Knobs (environment): EVENTS=1000000 RATE=500 DURATION=20 CONNECTIONS=8 (saturated run) CANDIDATES=100
#   EXPLAIN=1  requests ask for explanations too ("explain": true)
#   GEN_DIR=/tmp/algocenter-gen-graded-$EVENTS  reused when complete; REGENERATE=1 rebuilds it
#   KEEP_DATA=1  keep the server's data dir      SKIP_BUILD=1  use the binary as built (BIN, default the release one)
#   BIN=path  another build's binary (with SKIP_BUILD=1), for an A/B on the same data; the summary names it
#   PROFILE=1  record the server with perf during each saturated run ($OUT/perfsaturated*.data, then `perf report -i`)
#   AB="binA binB"  after training, serve the same data dir (the same model) with binA, binB, binB, binA in turn
#               (the server restarted on it each time) and load each: an A/B that a retrained model cannot blur
#               (the window follows the clock, so a model trained a few minutes later may have other trees)
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
EVENTS="${EVENTS:-1000000}" RATE="${RATE:-500}" DURATION="${DURATION:-20}" CONNECTIONS="${CONNECTIONS:-8}"
CANDIDATES="${CANDIDATES:-100}" EXPLAIN="${EXPLAIN:-}"
GEN_DIR="${GEN_DIR:-/tmp/algocenter-gen-graded-$EVENTS}"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-rank"
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/steps.txt" >&2; }
die() { echo "FAILED: $*" | tee -a "$OUT/steps.txt" >&2; exit 1; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -p algocenter
fi
source bench/lib.sh
generate_once "$GEN_DIR" --graded --events "$EVENTS"
wc -l "$GEN_DIR/behavior.jsonl" | tee "$OUT/dataset.txt"

start_server --workers 1
RANK=/v4/openapi/app-groups/bench/functions/rank
cli() { "$BIN" --endpoint "$URL" --retries 0 "$@"; }

push_data "$GEN_DIR"

log "feature_generator resource of $(jq length bench/rank_generators.json) generators, rank instance, training"
cli resource create --app bench --function rank fifty --generators bench/rank_generators.json \
  >"$OUT/resource.txt" 2>&1 || { cat "$OUT/resource.txt" >&2; die "resource create"; }
cli instance create --app bench --function rank r50 --model-type tf_checkpoint \
  --param feature_generator=fifty --param train_window_days=30 >"$OUT/instance.txt" 2>&1 \
  || { cat "$OUT/instance.txt" >&2; die "instance create"; }
echo 5 >"/proc/$PID/clear_refs"  # peak RSS of the training: reset VmHWM to the current RSS first
t0=$(date +%s%3N)
api POST "$RANK/instances/r50/tasks" "" >/dev/null
status=$(wait_task "$RANK/instances/r50/tasks/1" "$OUT/task.json")
wall=$(( $(date +%s%3N) - t0 ))
jq -r .Result.ExtendInfo "$OUT/task.json" | jq -S . >"$OUT/extend-info.json"
[[ "$status" == success ]] || die "rank training $status: $(cat "$OUT/extend-info.json")"
echo "rank: wall_s=$(awk -v m="$wall" 'BEGIN {printf "%.2f", m / 1000}') peak_rss_mb=$(mem VmHWM) features=$(jq '.features | length' "$OUT/extend-info.json") trees=$(jq .trees "$OUT/extend-info.json") ndcg_at_10=$(jq .ndcg_at_10 "$OUT/extend-info.json") logged_ndcg_at_10=$(jq .logged_ndcg_at_10 "$OUT/extend-info.json") popularity_ndcg_at_10=$(jq .popularity_ndcg_at_10 "$OUT/extend-info.json")" \
  | tee "$OUT/training.txt"

log "request file: $CANDIDATES candidates for each of 5,000 generated searches"
python3 - "$GEN_DIR" "$OUT/requests.txt" "$RANK/instances/r50/predict" "$CANDIDATES" "${EXPLAIN:+1}" <<'PY'
import json, random, sys
gen, out, path, candidates, explain = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), bool(sys.argv[5])
random.seed(1)
with open(f"{gen}/items.jsonl", encoding="utf-8") as f:
    items = [json.loads(line)["fields"]["item_id"] for line in f]
searches = []
with open(f"{gen}/behavior.jsonl", encoding="utf-8") as f:
    for n, line in enumerate(f):
        if '"search"' not in line:
            continue
        fields = json.loads(line)["fields"]
        if fields.get("bhv_type") != "search":
            continue
        search = (fields["raw_query"], fields["user_id"], fields.get("context", "{}"))
        if len(searches) < 5000:
            searches.append(search)
        elif random.random() < 5000 / (n + 1):
            searches[random.randrange(5000)] = search
with open(out, "w", encoding="utf-8") as w:
    for query, user, context in searches:
        context = json.loads(context) if isinstance(context, str) else context
        body = {"query": query, "userId": user, "context": context,
                "items": random.sample(items, min(candidates, len(items))), "explain": explain}
        w.write(f"POST {path} " + json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")
PY
# One request checked by hand: every candidate comes back, scored.
first=$(head -1 "$OUT/requests.txt" | cut -d' ' -f3-)
api POST "$RANK/instances/r50/predict" "$first" >"$OUT/answer.json"
[[ "$(jq '.Result.Items | length' "$OUT/answer.json")" == "$CANDIDATES" ]] \
  || die "the answer does not hold $CANDIDATES items: $(head -c 400 "$OUT/answer.json")"

load() {  # load NAME [env...]: one wrk run, then its result line with the server's CPU during it
  local name=$1; shift
  local c0 t0 c1 t1
  local perf=""
  if [[ -n "${PROFILE:-}" && "$name" == saturated* ]]; then
    # Call graphs by DWARF: the release build keeps no frame pointers. Shares are valid under saturation.
    perf record -q -F 199 --call-graph dwarf,16384 -p "$PID" -o "$OUT/perf$name.data" -- sleep $((DURATION - 2)) \
      >"$OUT/perf.txt" 2>&1 &
    perf=$!
  fi
  c0=$(cpu_ticks); t0=$(date +%s%3N)
  env "$@" REQUESTS="$OUT/requests.txt" wrk -t2 -c"$conns" -d"${DURATION}s" -s bench/requests.lua "$URL" \
    >"$OUT/wrk-$name.txt" 2>&1 || die "wrk $name"
  [[ -z "$perf" ]] || wait "$perf" || die "perf record: $(cat "$OUT/perf.txt")"
  c1=$(cpu_ticks); t1=$(date +%s%3N)
  local result
  result=$(grep '^RESULT' "$OUT/wrk-$name.txt" | sed 's/^RESULT //')
  [[ "$result" == *"errors=0 non2xx=0"* ]] || die "$name: failed requests: $result"
  local requests=${result#requests=}; requests=${requests%% *}
  local tick; tick=$(getconf CLK_TCK)
  echo "rank predict $name: $result server_cpu_cores=$(awk -v c=$((c1 - c0)) -v k="$tick" -v ms=$((t1 - t0)) 'BEGIN {printf "%.2f", c / k / (ms / 1000)}') server_cpu_ms_per_request=$(awk -v c=$((c1 - c0)) -v k="$tick" -v n="$requests" 'BEGIN {printf "%.3f", c / k * 1000 / n}')" \
    | tee -a "$OUT/serving.txt"
}
# Paced: wrk's threads hand out send times for RATE requests/s in all, over enough connections that the slowest
# answers (12 ms at that rate) do not hold a send back.
paced_conns=$(awk -v r="$RATE" 'BEGIN {c = int(r * 12 / 1000) + 2; print (c < 4 ? 4 : c)}')
serve_loads() {  # serve_loads LABEL: the paced load, then the saturated one
  conns=$paced_conns
  load "paced$1" PACE_RATE="$RATE" PACE_THREADS=2
  conns=$CONNECTIONS
  load "saturated$1"
}
if [[ -z "${AB:-}" ]]; then
  log "serving"
  serve_loads ""
else
  read -r bin_a bin_b <<<"$AB"
  for bin in "$bin_a" "$bin_b" "$bin_b" "$bin_a"; do
    label=$([[ "$bin" == "$bin_a" ]] && echo A || echo B)
    log "serving with $label ($bin) on the same data"
    restart_server "$bin"
    # The first request loads the generation.
    api POST "$RANK/instances/r50/predict" "$first" >"$OUT/answer-$label.json" || die "$label does not answer"
    serve_loads "-$label"
  done
  echo "A = $bin_a, B = $bin_b" | tee -a "$OUT/serving.txt"
fi

{
  echo
  echo "algocenter rank bench $(date -u +%F) on $(nproc) cores (wrk and the server share them), load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty'), binary $BIN"
  echo "data set: $(cut -d' ' -f1 "$OUT/dataset.txt") events, $GEN_DIR; $CANDIDATES candidates a request${EXPLAIN:+, with explanations}"
  cat "$OUT/training.txt"
  echo "rank metrics: $(jq -c '{ndcg_at_10, observed_ndcg_at_10, logged_ndcg_at_10, popularity_ndcg_at_10, groups_fit, examples_fit, trees, seconds}' "$OUT/extend-info.json")"
  cat "$OUT/serving.txt"
  echo "after serving: RSS $(mem VmRSS) MB (peak $(mem VmHWM) MB)"
} | tee "$OUT/summary.txt"
