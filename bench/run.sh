#!/usr/bin/env bash
# Builds algocenter, starts it on a fresh data dir and a free port, seeds the data set, runs the three wrk loads,
# samples the server's memory, stops the server and prints a summary. Raw outputs: bench/results/<timestamp>/.
#
# Knobs (environment): DURATION=30 (s per load) CONNECTIONS=64 THREADS=2 INSTANCES=1000 GENERATIONS=20
#                      SEED_THREADS=32 WORKERS=2 SKIP_BUILD=1
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
export INSTANCES="${INSTANCES:-1000}" GENERATIONS="${GENERATIONS:-20}"
DURATION="${DURATION:-30}" CONNECTIONS="${CONNECTIONS:-64}" THREADS="${THREADS:-2}"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -p algocenter
fi

source bench/lib.sh
start_server --workers "${WORKERS:-2}"

rss() {  # prints "RSS / peak" in MB (VmRSS / VmHWM of the server) and logs it to memory.txt
  local mb
  mb=$(awk '/^VmRSS/ {r = $2 / 1024} /^VmHWM/ {h = $2 / 1024} END {printf "%.1f / %.1f", r, h}' "/proc/$PID/status")
  echo "$1: RSS / peak $mb MB" | tee -a "$OUT/memory.txt" >&2
  echo "$mb"
}

echo "== seeding $INSTANCES instances x $GENERATIONS generations"
python3 bench/seed.py "$URL" --instances "$INSTANCES" --generations "$GENERATIONS" \
  --threads "${SEED_THREADS:-32}" | tee "$OUT/seed.txt"
declare -A MEM
MEM[seed]=$(rss after-seed)

TESTS=(get_task list_tasks create_instance)
for t in "${TESTS[@]}"; do
  echo "== wrk $t: -t$THREADS -c$CONNECTIONS -d${DURATION}s"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "bench/$t.lua" "$URL" | tee "$OUT/$t.txt"
  MEM[$t]=$(rss "after-$t")
done

stop_server

{
  echo
  echo "algocenter bench $(date -u +%F) on $(nproc) cores (wrk and the server share them); $(cat "$OUT/seed.txt")"
  printf '%-16s %10s %9s %9s %9s %8s %8s %18s\n' test req/s p50 p90 p99 non-2xx sock-err "RSS/peak MB"
  for t in "${TESTS[@]}"; do
    f="$OUT/$t.txt"
    printf '%-16s %10s %9s %9s %9s %8s %8s %18s\n' "$t" \
      "$(awk '/^Requests\/sec/ {print $2}' "$f")" \
      "$(awk '$1 == "50%" {print $2}' "$f")" "$(awk '$1 == "90%" {print $2}' "$f")" \
      "$(awk '$1 == "99%" {print $2}' "$f")" \
      "$(awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$f")" \
      "$(awk '/Socket errors/ {for (i = 3; i <= NF; i++) n += $i} END {print n + 0}' "$f")" \
      "${MEM[$t]}"
  done
  echo "after seeding: RSS/peak ${MEM[seed]} MB"
} | tee "$OUT/summary.txt"

# Any refused request fails the run: a benchmark of errors is worthless.
! grep -q "Non-2xx\|Socket errors" "$OUT"/{get_task,list_tasks,create_instance}.txt
