#!/usr/bin/env bash
# Query-analysis benchmark, end to end: builds algocenter, generates (or reuses) the query-analysis shop
# (`generate --query-analysis`), starts the server on a fresh data dir (bench/lib.sh: loopback, unsigned), pushes
# items and behaviour, trains analyzer, termweight and category (training time, memory, held-out metrics), puts a
# rule naming all three, then loads GET /v3/openapi/apps/bench/query-analysis with every part on, with wrk: paced
# at RATE requests/s and saturated. Each training reports its wall time and the server's peak RSS during it; each
# load reports wrk's whole-request figures and each stage's p99 from the server's histogram
# (`algocenter_query_analysis_stage_seconds`, bench/stage_p99.py). Raw outputs:
# bench/results/<timestamp>-query-analysis/.
#
# Knobs (environment): EVENTS=10000000 RATE=2000 DURATION=10 CONNECTIONS=8 (saturated run)
#   LEXICON=1  every stage on: the shop with vocabulary habits (`generate --lexicon`: synonyms, misspellings)
#              instead of the query-analysis shop, and synonym and correction trained and named in the rule too
#   GEN_DIR=/tmp/algocenter-gen-qa-$EVENTS  reused when complete; REGENERATE=1 rebuilds it
#   KEEP_DATA=1  keep the server's data dir      SKIP_BUILD=1  use the binary as built (BIN, default the release one)
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
EVENTS="${EVENTS:-10000000}" RATE="${RATE:-2000}" DURATION="${DURATION:-10}" CONNECTIONS="${CONNECTIONS:-8}"
LEXICON="${LEXICON:-}"
GEN_DIR="${GEN_DIR:-/tmp/algocenter-gen-qa${LEXICON:+-lexicon}-$EVENTS}"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-query-analysis"
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/steps.txt" >&2; }
die() { echo "FAILED: $*" | tee -a "$OUT/steps.txt" >&2; exit 1; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -p algocenter
fi
source bench/lib.sh
if [[ -n "$LEXICON" ]]; then
  generate_once "$GEN_DIR" --lexicon --events "$EVENTS"
else
  generate_once "$GEN_DIR" --query-analysis --events "$EVENTS"
fi
wc -l "$GEN_DIR/behavior.jsonl" | tee "$OUT/dataset.txt"

start_server --workers 1
FUNCTIONS=/v4/openapi/app-groups/bench/functions

push_data "$GEN_DIR"

train() {  # train FUNCTION INSTANCE MODEL_TYPE PARAMETERS_JSON: one run, timed
  local fn=$1 name=$2 model=$3 params=$4
  api POST "$FUNCTIONS/$fn/instances" \
    "{\"instanceName\":\"$name\",\"modelType\":\"$model\",\"createParameters\":$params}" >/dev/null
  # Peak RSS per training: reset the server's VmHWM to its current RSS first.
  echo 5 >"/proc/$PID/clear_refs"
  local t0; t0=$(date +%s%3N)
  api POST "$FUNCTIONS/$fn/instances/$name/tasks" "" >/dev/null
  local status
  status=$(wait_task "$FUNCTIONS/$fn/instances/$name/tasks/1" "$OUT/$fn-task.json")
  local wall=$(( $(date +%s%3N) - t0 ))
  jq -r .Result.ExtendInfo "$OUT/$fn-task.json" | jq -S . >"$OUT/$fn-extend-info.json"
  [[ "$status" == success ]] || die "$fn training $status: $(cat "$OUT/$fn-extend-info.json")"
  echo "$fn: training_seconds=$(jq .training_seconds "$OUT/$fn-extend-info.json") wall_s=$(awk -v m="$wall" 'BEGIN {printf "%.2f", m / 1000}') peak_rss_mb=$(mem VmHWM)" \
    | tee -a "$OUT/training.txt"
}
ENTITIES='[{"name":"entity_fields","value":"brand,line,color"}]'
[[ -n "$LEXICON" ]] && ENTITIES='[]'
log "training"
train analyzer an text "$ENTITIES"
train termweight tw tf_checkpoint "$ENTITIES"
train category cat offline_inference '[]'
RULE='"analyzer":"an","termweight":"tw","category":"cat"'
if [[ -n "$LEXICON" ]]; then
  train synonym syn offline_inference '[]'
  train correction cor offline_inference '[]'
  RULE="$RULE,\"synonym\":\"syn\",\"correction\":\"cor\""
fi
api PUT /v4/openapi/app-groups/bench/query-analysis-rules/main \
  "{$RULE,\"fields\":[\"title^3\",\"brand\"],\"categoryField\":\"category\",\"default\":true}" \
  >/dev/null

log "request file: a sample of the generated searches"
python3 - "$GEN_DIR/behavior.jsonl" "$OUT/requests.txt" <<'PY'
import json, random, sys, urllib.parse
random.seed(1)
queries = []
with open(sys.argv[1], encoding="utf-8") as f:
    for n, line in enumerate(f):
        fields = json.loads(line)["fields"]
        if fields.get("bhv_type") == "search":
            if len(queries) < 20000:
                queries.append(fields["raw_query"])
            elif random.random() < 20000 / (n + 1):
                queries[random.randrange(20000)] = fields["raw_query"]
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for q in queries:
        out.write("GET /v3/openapi/apps/bench/query-analysis?query=" + urllib.parse.quote(q) + "\n")
PY

log "serving"
# Paced: wrk's threads hand out send times for RATE requests/s in all (bench/requests.lua, PACE_RATE), over
# enough connections that the slowest answers (12 ms at that rate) do not hold a send back.
conns=$(awk -v r="$RATE" 'BEGIN {c = int(r * 12 / 1000) + 2; print (c < 4 ? 4 : c)}')
scrape() { curl -sS --fail "$URL/metrics" >"$OUT/metrics-$1.txt" || die "GET /metrics"; }
scrape before-paced
PACE_RATE="$RATE" PACE_THREADS=2 REQUESTS="$OUT/requests.txt" \
  wrk -t2 -c"$conns" -d"${DURATION}s" -s bench/requests.lua "$URL" >"$OUT/wrk-paced.txt" 2>&1 || die "wrk paced"
scrape after-paced
REQUESTS="$OUT/requests.txt" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/requests.lua "$URL" \
  >"$OUT/wrk-saturated.txt" 2>&1 || die "wrk saturated"
scrape after-saturated
for mode in paced saturated; do
  result=$(grep '^RESULT' "$OUT/wrk-$mode.txt" | sed 's/^RESULT //')
  [[ "$result" == *"errors=0 non2xx=0"* ]] || die "$mode: failed requests: $result"
  echo "query-analysis $mode: $result" | tee -a "$OUT/serving.txt"
done
# Each stage's p99 during each load, from the server's histogram (the difference of the scrapes around the load).
python3 bench/stage_p99.py "$OUT/metrics-before-paced.txt" "$OUT/metrics-after-paced.txt" paced \
  | tee -a "$OUT/serving.txt"
python3 bench/stage_p99.py "$OUT/metrics-after-paced.txt" "$OUT/metrics-after-saturated.txt" saturated \
  | tee -a "$OUT/serving.txt"

{
  echo
  echo "algocenter query-analysis bench $(date -u +%F) on $(nproc) cores (wrk and the server share them), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty')"
  echo "data set: $(cut -d' ' -f1 "$OUT/dataset.txt") events, $GEN_DIR"
  cat "$OUT/training.txt"
  for fn in analyzer termweight category ${LEXICON:+synonym correction}; do
    echo "$fn metrics: $(jq -c 'del(.errors)' "$OUT/$fn-extend-info.json")"
  done
  cat "$OUT/serving.txt"
  echo "after serving: RSS $(mem VmRSS) MB (peak $(mem VmHWM) MB)"
} | tee "$OUT/summary.txt"
