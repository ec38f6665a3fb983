#!/usr/bin/env bash
# Data benchmarks, end to end: builds algocenter, generates (or reuses) a behaviour data set, starts the server on
# a fresh data dir, pushes the items, runs bench/ingest.py while sampling the server's memory every second, records
# the data status, times a pop training run through the API, stops the server and measures the read-back rate of
# the database with the store's read_back bench. Raw outputs: bench/results/<timestamp>-data/.
#
# Knobs (environment): EVENTS=10000000 CLIENTS=4 BATCH=1000 WORKERS=1 (training threads)
#   GEN_DIR=/tmp/algocenter-gen-$EVENTS  generated data set, reused when complete; REGENERATE=1 rebuilds it
#   KEEP_DATA=1   keep the server's data dir (database) after the run     SKIP_BUILD=1  use the binary as built
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
EVENTS="${EVENTS:-10000000}" CLIENTS="${CLIENTS:-4}" BATCH="${BATCH:-1000}" WORKERS="${WORKERS:-1}"
GEN_DIR="${GEN_DIR:-/tmp/algocenter-gen-$EVENTS}"
BIN="$CARGO_TARGET_DIR/release/algocenter"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-data"
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/steps.txt" >&2; }
die() { echo "FAILED: $*" | tee -a "$OUT/steps.txt" >&2; exit 1; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -p algocenter
fi

# The data set ends at generation time and the pop window is the last 30 days with the last day held out, so a
# data set older than about a day trains on a shifted window: regenerate it then.
if [[ -n "${REGENERATE:-}" || ! -f "$GEN_DIR/.complete" ]]; then
  log "generating $EVENTS events into $GEN_DIR"
  rm -rf "$GEN_DIR"
  /usr/bin/time -f "%e s, max RSS %M KB" "$BIN" generate --out "$GEN_DIR" --events "$EVENTS" 2>&1 | tee "$OUT/generate.txt"
  touch "$GEN_DIR/.complete"
else
  log "reusing $GEN_DIR (generated $(date -r "$GEN_DIR/.complete" '+%F %T'))"
fi
wc -l "$GEN_DIR/behavior.jsonl" | tee "$OUT/dataset.txt"

source bench/lib.sh
SAMPLER=""
trap '[[ -n "$SAMPLER" ]] && kill "$SAMPLER" 2>/dev/null; bench_cleanup' EXIT
start_server --workers "$WORKERS"
wrote() { awk '$1 == "wchar:" {printf "%.0f", $2 / 1e6}' "/proc/$PID/io"; }  # MB the server has written to files
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$PID/stat"; }  # server CPU seconds (user + system)
POP=/v4/openapi/app-groups/bench/functions/pop/instances

api POST /v4/openapi/app-groups '{"name":"bench"}' >"$OUT/create-app.json"
log "pushing items"
"$BIN" --endpoint "$URL" push --app bench --type item_info "$GEN_DIR/items.jsonl" >"$OUT/items.txt" 2>&1 \
  || { cat "$OUT/items.txt" >&2; die "item push"; }
echo "RSS before ingest: $(mem VmRSS) MB (peak $(mem VmHWM) MB)" | tee "$OUT/memory.txt"

log "ingest: $CLIENTS clients, $BATCH events per request"
# rss.txt: epoch s, VmRSS MB, VmHWM MB, server CPU s, 1-min load average (to spot other load on the machine)
(while kill -0 "$PID" 2>/dev/null; do
  echo "$(date +%s) $(mem VmRSS) $(mem VmHWM) $(cpu) $(cut -d' ' -f1 /proc/loadavg)"; sleep 1
done) >"$OUT/rss.txt" &
SAMPLER=$! CPU0=$(cpu) WROTE0=$(wrote)
python3 bench/ingest.py "$URL" "$GEN_DIR/behavior.jsonl" --clients "$CLIENTS" --batch "$BATCH" \
  | tee "$OUT/ingest.txt" || die "ingest (see $OUT/ingest.txt)"
kill "$SAMPLER"; SAMPLER=""
SERVER_CPU=$(awk -v a="$CPU0" -v b="$(cpu)" 'BEGIN {printf "%.1f", b - a}')
WROTE=$(( $(wrote) - WROTE0 ))
RSS_MAX=$(awk '$2 > m {m = $2} END {print m}' "$OUT/rss.txt")
echo "RSS during ingest: max sampled $RSS_MAX MB, VmHWM $(mem VmHWM) MB, after $(mem VmRSS) MB" | tee -a "$OUT/memory.txt"
DB_LIVE=$(du -sm "$DATA" | cut -f1)

api GET "/v4/openapi/app-groups/bench/data-status?days=30" >"$OUT/data-status.json"
jq -c '.Result | {events: (.totals.exposures + .totals.searches + .totals.engagements)} + .totals
  + {distinct_users, distinct_queries, items}' "$OUT/data-status.json" | tee "$OUT/data-totals.txt"
STORED=$(awk -F'stored=' '/^events=/ {split($2, a, " "); print a[1]}' "$OUT/ingest.txt")
[[ "$(jq .events "$OUT/data-totals.txt")" == "$STORED" ]] || die "data status does not count the $STORED stored events"

log "pop training"
api POST "$POP" '{"instanceName":"pop1","modelType":"pop"}' >"$OUT/pop-instance.json"
T0=$(date +%s%3N)
api POST "$POP/pop1/tasks" "" >"$OUT/pop-create-task.json"
while :; do
  api GET "$POP/pop1/tasks/1" >"$OUT/pop-task.json"
  STATUS=$(jq -r .Result.Status "$OUT/pop-task.json")
  [[ "$STATUS" == success || "$STATUS" == failed ]] && break
  sleep 0.2
done
POP_WALL=$(( $(date +%s%3N) - T0 ))
jq . "$OUT/pop-task.json" >"$OUT/pop-task.pretty.json"
[[ "$STATUS" == success ]] || die "pop training $STATUS: $(jq -r .Result.ExtendInfo "$OUT/pop-task.json")"
TRAIN_S=$(jq -r '.Result.ExtendInfo | fromjson | .training_seconds' "$OUT/pop-task.json")
TASK_S=$(jq -r '(.Result.EndTime - .Result.StartTime) / 1000' "$OUT/pop-task.json")
echo "RSS after training: $(mem VmRSS) MB (peak $(mem VmHWM) MB)" | tee -a "$OUT/memory.txt"

stop_server
ls -l "$DATA" >"$OUT/data-dir.txt"
DB_SIZE=$(du -sm "$DATA" | cut -f1)

log "read-back"
cargo bench -p algocenter-store --bench read_back -- "$DATA" bench | tee "$OUT/read-back.txt"
READ_BACK=$(awk '/events\/s/ {for (i = 1; i <= NF; i++) if ($(i + 1) == "events/s") r = $i} END {print r}' "$OUT/read-back.txt")

{
  echo
  echo "algocenter data bench $(date -u +%F) on $(nproc) cores (load generator and server share them), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty')"
  echo "data set: $(cut -d' ' -f1 "$OUT/dataset.txt") events, $GEN_DIR"
  grep -E '^(seconds|latency_ms|failures)' "$OUT/ingest.txt" | sed 's/^/ingest: /'
  echo "ingest: server_cpu_s=$SERVER_CPU, max 1-min load average $(awk '$5 > m {m = $5} END {print m}' "$OUT/rss.txt")"
  echo "ingest: server wrote $WROTE MB to files (write(2) bytes, WAL + checkpoints) for a $DB_LIVE MB data dir"
  echo "ingest RSS: max sampled $RSS_MAX MB, VmHWM after ingest $(awk -F'VmHWM ' '/during ingest/ {print $2}' "$OUT/memory.txt" | cut -d, -f1)"
  echo "data status totals: $(cat "$OUT/data-totals.txt")"
  echo "pop training: training_seconds=$TRAIN_S task EndTime-StartTime=${TASK_S}s wall from CreateFunctionTask to success=$(awk -v m="$POP_WALL" 'BEGIN {printf "%.2f", m / 1000}')s"
  echo "$(grep 'after training' "$OUT/memory.txt")"
  echo "data dir on disk: $DB_LIVE MB after ingest (server running), $DB_SIZE MB after stop"
  echo "read-back (last round): $READ_BACK events/s"
} | tee "$OUT/summary.txt"
