#!/usr/bin/env bash
# Query-function benchmarks, end to end: builds algocenter, generates (or reuses) a data set, starts the server on
# a fresh data dir (bench/lib.sh: loopback, unsigned; signing costs are in bench/signing.sh), pushes the items and
# the behaviour, trains hot, hint (near_realtime), suggest and category one after the other (training time,
# memory, artifact size, held-out metrics), then loads each serving endpoint with wrk: saturated (CONNECTIONS
# connections) and paced near RATE requests/s. Raw outputs: bench/results/<timestamp>-query/.
#
# suggest is trained as near_realtime and loaded twice: without user_id and with the searching user's user_id
# (personal completions, the live tail). Last, the live tail's cost on the push path: TAIL_EVENTS events of live
# traffic (re-stamped to the time they are sent) pushed with no suggest request, then again while one connection
# asks 10 personal suggestions a second (the tail reads the store every second).
#
# Knobs (environment): EVENTS=10000000 CONNECTIONS=8 (saturated run) DURATION=10 RATE=5000 (paced run)
#   HABITS=shop|web  the users' search habits (algocenter generate --habits)   TAIL_EVENTS=300000
#   GEN_DIR=/tmp/algocenter-gen-q-$HABITS-$EVENTS  generated data set, reused when complete; REGENERATE=1 rebuilds it
#   KEEP_DATA=1  keep the server's data dir      SKIP_BUILD=1  use the binary as built
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
EVENTS="${EVENTS:-10000000}" CONNECTIONS="${CONNECTIONS:-8}" DURATION="${DURATION:-10}" RATE="${RATE:-5000}"
HABITS="${HABITS:-shop}" TAIL_EVENTS="${TAIL_EVENTS:-300000}"
GEN_DIR="${GEN_DIR:-/tmp/algocenter-gen-q-$HABITS-$EVENTS}"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-query"
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/steps.txt" >&2; }
die() { echo "FAILED: $*" | tee -a "$OUT/steps.txt" >&2; exit 1; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -p algocenter
fi
source bench/lib.sh
# Windows end at generation time: a data set older than about a day trains on a shifted window.
generate_once "$GEN_DIR" --events "$EVENTS" --habits "$HABITS"
wc -l "$GEN_DIR/behavior.jsonl" | tee "$OUT/dataset.txt"

start_server --workers 1
FUNCTIONS=/v4/openapi/app-groups/bench/functions

push_data "$GEN_DIR"
echo "after ingest: RSS $(mem VmRSS) MB" | tee "$OUT/memory.txt"

train() {  # train FUNCTION INSTANCE MODEL_TYPE: one run, timed; prints a summary line
  local fn=$1 name=$2 model=$3
  api POST "$FUNCTIONS/$fn/instances" "{\"instanceName\":\"$name\",\"modelType\":\"$model\"}" >/dev/null
  local t0; t0=$(date +%s%3N)
  api POST "$FUNCTIONS/$fn/instances/$name/tasks" "" >/dev/null
  local status
  status=$(wait_task "$FUNCTIONS/$fn/instances/$name/tasks/1" "$OUT/$fn-task.json")
  local wall=$(( $(date +%s%3N) - t0 ))
  jq -r .Result.ExtendInfo "$OUT/$fn-task.json" | jq -S . >"$OUT/$fn-extend-info.json"
  [[ "$status" == success ]] || die "$fn training $status: $(cat "$OUT/$fn-extend-info.json")"
  echo "$fn: training_seconds=$(jq .training_seconds "$OUT/$fn-extend-info.json") wall_s=$(awk -v m="$wall" 'BEGIN {printf "%.2f", m / 1000}') artifact_bytes=$(jq .artifact_bytes "$OUT/$fn-extend-info.json") rss_after_mb=$(mem VmRSS) peak_rss_mb=$(mem VmHWM)" \
    | tee -a "$OUT/training.txt"
}
log "training"
train hot hot1 offline_inference
train hint hint1 near_realtime
train suggest sug1 near_realtime
train category cat1 offline_inference

log "request files"
python3 bench/query_requests.py "$GEN_DIR" "$OUT/requests" --app bench

load() {  # load NAME: saturated, then paced
  local name=$1
  REQUESTS="$OUT/requests/$name.txt" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/requests.lua "$URL" \
    >"$OUT/wrk-$name-saturated.txt" 2>&1 || die "wrk $name"
  # Paced: wrk's threads hand out send times for RATE requests/s in all (bench/requests.lua, PACE_RATE), over
  # enough connections that the slowest answers (12 ms at that rate) do not hold a send back. The delivered rate
  # is in the result.
  local conns; conns=$(awk -v r="$RATE" 'BEGIN {c = int(r * 12 / 1000) + 2; print (c < 4 ? 4 : c)}')
  PACE_RATE="$RATE" PACE_THREADS=2 REQUESTS="$OUT/requests/$name.txt" \
    wrk -t2 -c"$conns" -d"${DURATION}s" -s bench/requests.lua "$URL" \
    >"$OUT/wrk-$name-paced.txt" 2>&1 || die "wrk $name paced"
  for mode in saturated paced; do
    local result; result=$(grep '^RESULT' "$OUT/wrk-$name-$mode.txt" | sed 's/^RESULT //')
    [[ "$result" == *"errors=0 non2xx=0"* ]] || die "$name $mode: failed requests: $result"
    echo "$name $mode: $result" | tee -a "$OUT/serving.txt"
  done
}
log "serving"
for name in hot hint suggest suggest_user category; do load "$name"; done
echo "after serving: RSS $(mem VmRSS) MB (peak $(mem VmHWM) MB)" | tee -a "$OUT/memory.txt"

log "live tail: push throughput without and with personal suggestions being asked"
awk -v n=$((2 * TAIL_EVENTS)) '!/"expose"/ {print; if (++k == n) exit}' "$GEN_DIR/behavior.jsonl" >"$OUT/live.jsonl"
head -n "$TAIL_EVENTS" "$OUT/live.jsonl" >"$OUT/live-a.jsonl"
tail -n "$TAIL_EVENTS" "$OUT/live.jsonl" >"$OUT/live-b.jsonl"
python3 bench/ingest.py "$URL" "$OUT/live-a.jsonl" --clients 4 --batch 1000 --restamp >"$OUT/tail-idle.txt" \
  || die "live push without the tail (see $OUT/tail-idle.txt)"
PACE_MS=100 REQUESTS="$OUT/requests/suggest_user.txt" wrk -t1 -c1 -d600s -s bench/requests.lua "$URL" \
  >"$OUT/wrk-tail.txt" 2>&1 &
WRK=$!
sleep 2
python3 bench/ingest.py "$URL" "$OUT/live-b.jsonl" --clients 4 --batch 1000 --restamp >"$OUT/tail-reading.txt" \
  || die "live push with the tail (see $OUT/tail-reading.txt)"
kill "$WRK"; wait "$WRK" 2>/dev/null || true
idle=$(sed -n 's/.*events_per_s=\([0-9]*\).*/\1/p' "$OUT/tail-idle.txt")
reading=$(sed -n 's/.*events_per_s=\([0-9]*\).*/\1/p' "$OUT/tail-reading.txt")
echo "live tail: push ${idle} events/s with the tail idle, ${reading} events/s while it reads every second ($(awk -v a="$idle" -v b="$reading" 'BEGIN {printf "%+.1f%%", (b - a) / a * 100}'))" \
  | tee "$OUT/tail.txt"

{
  echo
  echo "algocenter query bench $(date -u +%F) on $(nproc) cores (wrk and the server share them), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty')"
  echo "data set: $(cut -d' ' -f1 "$OUT/dataset.txt") events, $GEN_DIR"
  grep -E '^(seconds|events)' "$OUT/ingest.txt" | sed 's/^/ingest: /'
  cat "$OUT/training.txt"
  for fn in hot hint suggest category; do
    echo "$fn metrics: $(jq -c 'del(.errors)' "$OUT/$fn-extend-info.json")"
  done
  cat "$OUT/serving.txt"
  cat "$OUT/tail.txt"
  cat "$OUT/memory.txt"
} | tee "$OUT/summary.txt"
