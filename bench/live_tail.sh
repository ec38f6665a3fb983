#!/usr/bin/env bash
# The live tail's cost on the push path, on its own: starts the server on a fresh data dir (bench/lib.sh), pushes
# a generated web data set, trains suggest as near_realtime, then pushes TAIL_EVENTS events of live traffic
# (re-stamped to the time they are sent) ROUNDS times each way: with no suggest request (the tail does not read),
# and while one connection asks 10 personal suggestions a second (the tail reads the store every second). The order
# within a round alternates (ABBA), which keeps a steady drift (pushes slow as the store grows) out of the
# difference; ROUNDS should be even. Both pushes of a round send the same slice of the data set's events other
# than exposures (re-stamped, so stored anew), so that the two sides differ only in the tail's reads; the rounds
# take the slices in turn and start again at the first when the data set has fewer than ROUNDS slices (the 10 M
# web set holds 2.19 M such events). The summary gives the mean of the rounds' throughputs and the rounds'
# differences with their standard error. Raw outputs: bench/results/<timestamp>-live-tail/.
#
# Knobs (environment): EVENTS=10000000 TAIL_EVENTS=500000 ROUNDS=8 (about 8 M events pushed in 2 x 8 pushes of
#   about 5 s each at 100,000 events/s)
#   GEN_DIR=/tmp/algocenter-gen-q-web-$EVENTS  generated data set, reused when complete; REGENERATE=1 rebuilds it
#   KEEP_DATA=1  keep the server's data dir      SKIP_BUILD=1  use the binary as built
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
EVENTS="${EVENTS:-10000000}" TAIL_EVENTS="${TAIL_EVENTS:-500000}" ROUNDS="${ROUNDS:-8}"
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

# Live traffic: events other than exposures, in slices of TAIL_EVENTS; the store keeps an event once per user,
# rn, item, type and time, and the pushes re-stamp every event to the time it is sent, so a slice pushed again
# is stored again.
awk -v n=$((ROUNDS * TAIL_EVENTS)) '!/"expose"/ {print; if (++k == n) exit}' "$GEN_DIR/behavior.jsonl" \
  >"$OUT/live.jsonl"
slices=$(( $(wc -l <"$OUT/live.jsonl") / TAIL_EVENTS ))
(( slices >= 1 )) || die "the data set has fewer than TAIL_EVENTS=$TAIL_EVENTS events other than exposures"
push() {  # push NAME: pushes the round's slice, prints events/s
  python3 bench/ingest.py "$URL" "$OUT/slice.jsonl" --clients 4 --batch 1000 --restamp >"$OUT/$1.txt" \
    || die "live push $1 (see $OUT/$1.txt)"
  sed -n 's/.*events_per_s=\([0-9]*\).*/\1/p' "$OUT/$1.txt"
}
push_idle() {  # the tail does not read: no suggest request
  sleep 2
  idle=$(push "idle-$round")
}
push_reading() {  # one connection asks 10 personal suggestions a second: the tail reads every second
  PACE_MS=100 REQUESTS="$OUT/requests/suggest_user.txt" wrk -t1 -c1 -d600s -s bench/requests.lua "$URL" \
    >"$OUT/wrk-tail-$round.txt" 2>&1 &
  WRK=$!
  # The first request starts the tail's catch-up read (all pushed since its last read); the push starts after it.
  sleep 2
  reading=$(push "reading-$round")
  kill "$WRK"; wait "$WRK" 2>/dev/null || true
}
for round in $(seq 1 "$ROUNDS"); do
  slice=$(( (round - 1) % slices ))
  sed -n "$((slice * TAIL_EVENTS + 1)),$(((slice + 1) * TAIL_EVENTS))p" "$OUT/live.jsonl" >"$OUT/slice.jsonl"
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
awk '{i += $4; r += $7; d = ($7 - $4) / $4 * 100; s += d; ss += d * d}
  END {m = s / NR; se = NR > 1 ? sqrt((ss - NR * m * m) / (NR - 1) / NR) : 0
       printf "live tail: push %d events/s with the tail idle, %d events/s while it reads every second (%+.1f%%, mean of %d rounds; rounds %+.1f%% +- %.1f%% standard error)\n", i / NR, r / NR, (r - i) / i * 100, NR, m, se}' \
  "$OUT/rounds.txt" | tee "$OUT/summary.txt"
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty'), load average before: $LOAD_BEFORE" \
  | tee -a "$OUT/summary.txt"
