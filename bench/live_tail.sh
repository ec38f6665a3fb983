#!/usr/bin/env bash
# The live tail's cost on the push path, on its own: starts the server on a fresh data dir (bench/lib.sh), pushes
# a generated web data set, trains suggest as near_realtime, then pushes TAIL_EVENTS events of live traffic
# (re-stamped to the time they are sent) ROUNDS times each way: with no suggest request (the tail does not read),
# and while one connection asks 10 personal suggestions a second (the tail reads the store every second). The order
# within a round alternates (ABBA), which keeps a steady drift (pushes slow as the store grows) out of the
# difference; ROUNDS should be even. Raw outputs:
# bench/results/<timestamp>-live-tail/.
#
# Knobs (environment): EVENTS=10000000 TAIL_EVENTS=250000 ROUNDS=4 (the rounds need 2 x ROUNDS x TAIL_EVENTS events
#   other than exposures: about a fifth of a web data set)
#   GEN_DIR=/tmp/algocenter-gen-q-web-$EVENTS  generated data set, reused when complete; REGENERATE=1 rebuilds it
#   KEEP_DATA=1  keep the server's data dir      SKIP_BUILD=1  use the binary as built
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
EVENTS="${EVENTS:-10000000}" TAIL_EVENTS="${TAIL_EVENTS:-250000}" ROUNDS="${ROUNDS:-4}"
GEN_DIR="${GEN_DIR:-/tmp/algocenter-gen-q-web-$EVENTS}"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-live-tail"
mkdir -p "$OUT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log() { echo "== $*" | tee -a "$OUT/steps.txt" >&2; }
die() { echo "FAILED: $*" | tee -a "$OUT/steps.txt" >&2; exit 1; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -p algocenter
fi
source bench/lib.sh
generate_once "$GEN_DIR" --events "$EVENTS" --habits web

start_server --workers 1
FUNCTIONS=/v4/openapi/app-groups/bench/functions
push_data "$GEN_DIR"

log "training suggest (near_realtime)"
api POST "$FUNCTIONS/suggest/instances" '{"instanceName":"sug1","modelType":"near_realtime"}' >/dev/null
api POST "$FUNCTIONS/suggest/instances/sug1/tasks" "" >/dev/null
status=$(wait_task "$FUNCTIONS/suggest/instances/sug1/tasks/1" "$OUT/suggest-task.json")
[[ "$status" == success ]] || die "suggest training $status"
python3 bench/query_requests.py "$GEN_DIR" "$OUT/requests" --app bench

# Live traffic: events other than exposures, each round a slice of its own (the store keeps each event once).
awk -v n=$((2 * ROUNDS * TAIL_EVENTS)) '!/"expose"/ {print; if (++k == n) exit}' "$GEN_DIR/behavior.jsonl" \
  >"$OUT/live.jsonl"
have=$(wc -l <"$OUT/live.jsonl")
(( have == 2 * ROUNDS * TAIL_EVENTS )) \
  || die "the data set has $have events other than exposures; 2 x ROUNDS x TAIL_EVENTS = $((2 * ROUNDS * TAIL_EVENTS)) are needed (raise EVENTS or lower TAIL_EVENTS)"
push() {  # push SLICE NAME: prints events/s
  sed -n "$(($1 * TAIL_EVENTS + 1)),$((($1 + 1) * TAIL_EVENTS))p" "$OUT/live.jsonl" >"$OUT/slice.jsonl"
  python3 bench/ingest.py "$URL" "$OUT/slice.jsonl" --clients 4 --batch 1000 --restamp >"$OUT/$2.txt" \
    || die "live push $2 (see $OUT/$2.txt)"
  sed -n 's/.*events_per_s=\([0-9]*\).*/\1/p' "$OUT/$2.txt"
}
slice=0
push_idle() {  # the tail does not read: no suggest request
  sleep 2
  idle=$(push $slice "idle-$round"); slice=$((slice + 1))
}
push_reading() {  # one connection asks 10 personal suggestions a second: the tail reads every second
  PACE_MS=100 REQUESTS="$OUT/requests/suggest_user.txt" wrk -t1 -c1 -d600s -s bench/requests.lua "$URL" \
    >"$OUT/wrk-tail-$round.txt" 2>&1 &
  WRK=$!
  # The first request starts the tail's catch-up read (all pushed since its last read); the push starts after it.
  sleep 2
  reading=$(push $slice "reading-$round"); slice=$((slice + 1))
  kill "$WRK"; wait "$WRK" 2>/dev/null || true
}
for round in $(seq 1 "$ROUNDS"); do
  # ABBA: odd rounds push idle first, even rounds reading first, so that a drift of the store or the machine
  # over the rounds (pushes slow down as the database grows) does not land on one side.
  if (( round % 2 == 1 )); then
    log "round $round: push with the tail idle, then while it reads"
    push_idle; push_reading
  else
    log "round $round: push while the tail reads, then with it idle"
    push_reading; push_idle
  fi
  echo "round $round: idle $idle events/s, reading $reading events/s" | tee -a "$OUT/rounds.txt"
done
awk '{i += $4; r += $7} END {printf "live tail: push %d events/s with the tail idle, %d events/s while it reads every second (%+.1f%%, mean of %d rounds)\n", i / NR, r / NR, (r - i) / i * 100, NR}' \
  "$OUT/rounds.txt" | tee "$OUT/summary.txt"
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty'), load average before: $LOAD_BEFORE" \
  | tee -a "$OUT/summary.txt"
