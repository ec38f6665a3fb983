#!/usr/bin/env bash
# Cost of request signing: the verification micro-benchmark, then GetFunctionTask under the same closed-loop load
# generator (crates/algocenter/benches/signed_load.rs) against the same data dir served twice: with request checking
# on (ACS3-signed requests, a fresh date and nonce each) and with --insecure-no-auth (unsigned requests).
#
# Loads (each on a freshly started server, DURATION seconds, CONNECTIONS connections):
#   unsigned-live / signed-live        requests built (and signed) inside the loop, generator and server share the cores
#   signed-unchecked                   live, signed requests to the --insecure-no-auth server (client's cost only)
#   unsigned-prebuilt / signed-prebuilt  requests built and signed before the clock starts (2 x the live count)
#   unsigned-pinned / signed-pinned    live, with the server on CPU 0 and the generator on CPU 1 (server's own cost)
# Any non-200 answer (or transport error) fails the run. Raw outputs: bench/results/<timestamp>-signing/.
#
# Knobs (environment): DURATION=30 CONNECTIONS=64 THREADS=2 (generator threads) INSTANCES=1000 GENERATIONS=20
#                      WORKERS=2 PREBUILT=1 PINNED=1 VERIFY=1 SKIP_BUILD=1
#                      QUIET_PCT=10 QUIET_WAIT=900 (each load waits until the machine is at most QUIET_PCT % busy)
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
DURATION="${DURATION:-30}" CONNECTIONS="${CONNECTIONS:-64}" THREADS="${THREADS:-2}"
INSTANCES="${INSTANCES:-1000}" GENERATIONS="${GENERATIONS:-20}" WORKERS="${WORKERS:-2}"
PREBUILT="${PREBUILT:-1}" PINNED="${PINNED:-1}" VERIFY="${VERIFY:-1}"
QUIET_PCT="${QUIET_PCT:-10}" QUIET_WAIT="${QUIET_WAIT:-900}"
KEY_ID="signbench" KEY_SECRET="signbench-secret-0123456789abcdef"
BIN="$CARGO_TARGET_DIR/release/algocenter"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-signing"
mkdir -p "$OUT"

fail() { echo "FAILED: $*" >&2; exit 1; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -p algocenter
fi
# The load generator: a bench target without a harness; its executable is run directly.
LOAD="$(cargo bench -p algocenter --bench signed_load --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*signed_load-[0-9a-f]*\)).*/\1/p' | tail -1)"
[[ -x "$LOAD" ]] || fail "could not build or find the signed_load executable"
[[ -x "$BIN" ]] || fail "$BIN not found (run without SKIP_BUILD)"
if [[ "$PINNED" == 1 ]] && { ! command -v taskset >/dev/null || (( $(nproc) < 2 )); }; then
  echo "no taskset or fewer than 2 cores: skipping the pinned loads" >&2
  PINNED=0
fi

{
  echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo ' (working tree has uncommitted changes)')"
  echo "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/^Mem/ {print $2}') GB RAM"
  echo "date $(date -u +%FT%TZ)"
} | tee "$OUT/machine.txt"

# Waits (up to QUIET_WAIT seconds) until the machine is idle apart from the idle server: another build or benchmark on
# the same cores would make the comparison meaningless. Each load also reports the CPU other processes used during it.
wait_quiet() {
  local waited=0 busy
  while :; do
    busy=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; sleep 2
           awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    busy=$(echo "$busy" | awk 'NR == 1 {b = $1; t = $2} NR == 2 {printf "%d", 100 * ($1 - b) / ($2 - t)}')
    (( busy <= QUIET_PCT )) && return 0
    if (( waited >= QUIET_WAIT )); then
      echo "WARNING: the machine is still ${busy} % busy after ${waited} s of waiting; measuring anyway" >&2
      return 0
    fi
    echo "waiting for a quiet machine (${busy} % busy: $(ps -eo pcpu,comm --sort=-pcpu | sed -n 2p | xargs))" >&2
    sleep 8; waited=$((waited + 10))
  done
}

# 1. Verification cost, before any server runs (the cores are otherwise idle).
if [[ "$VERIFY" == 1 ]]; then
  cargo bench -p algocenter-auth --bench verify --no-run 2>/dev/null || fail "cannot build the verify bench"
  wait_quiet
  echo "== cargo bench -p algocenter-auth --bench verify"
  cargo bench -p algocenter-auth --bench verify >"$OUT/verify.txt" 2>"$OUT/verify.err" \
    || { cat "$OUT/verify.txt" "$OUT/verify.err" >&2; fail "the verify bench failed"; }
  cat "$OUT/verify.txt"
fi

DATA="$(mktemp -d /tmp/algocenter-signing.XXXXXX)"
PID=""
cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"

# start_server secure|insecure [PIN]: a new server process on the same data dir and port.
start_server() {
  local mode=$1 pin=${2:-} log="$OUT/server-$(date +%H%M%S)-$1.log"
  local args=(serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --workers "$WORKERS")
  [[ "$mode" == insecure ]] && args+=(--insecure-no-auth)
  # The bootstrap key is created on the first secure start of the data dir (ignored afterwards).
  ALGOCENTER_BOOTSTRAP_KEY="$KEY_ID:$KEY_SECRET" ${pin:+taskset -c "$pin"} "$BIN" "${args[@]}" 2>"$log" &
  PID=$!
  for _ in $(seq 100); do
    grep -q "listening on 127.0.0.1:$PORT" "$log" && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; fail "server exited during start-up"; }
    sleep 0.1
  done
  cat "$log" >&2; fail "server did not start in 10 s"
}

stop_server() {
  kill -TERM "$PID"
  wait "$PID" || fail "server exited with status $?"
  PID=""
}

# load NAME GENERATOR_PIN [generator args...]: one load against the running server; fails on any non-200.
load() {
  local name=$1 pin=$2; shift 2
  wait_quiet
  echo "== $name"
  if ! ${pin:+taskset -c "$pin"} "$LOAD" load --url "$URL" --duration "$DURATION" --connections "$CONNECTIONS" \
      --threads "$THREADS" --instances "$INSTANCES" --generations "$GENERATIONS" --server-pid "$PID" --label "$name" "$@" \
      >"$OUT/$name.txt" 2>"$OUT/$name.err"; then
    cat "$OUT/$name.txt" "$OUT/$name.err" >&2
    fail "$name: non-200 answers, transport errors or too few pre-built requests (see above)"
  fi
  cat "$OUT/$name.err" "$OUT/$name.txt"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$OUT/$1.txt"; }

# 2. Data set, through the API of an unchecked server (the same data dir serves both ways).
echo "== seeding $INSTANCES instances x $GENERATIONS generations on $URL (data $DATA)"
start_server insecure
"$LOAD" seed --url "$URL" --instances "$INSTANCES" --generations "$GENERATIONS" --connections 32 >"$OUT/seed.txt" \
  || { cat "$OUT/seed.txt" >&2; fail "seeding failed"; }
cat "$OUT/seed.txt"
stop_server

KEY=(--key "$KEY_ID:$KEY_SECRET")
RUNS=(unsigned-live signed-unchecked signed-live)
start_server insecure; load unsigned-live "" ; stop_server
# Signed requests to the unchecking server: the client's signing and the larger requests, without the server's check.
start_server insecure; load signed-unchecked "" "${KEY[@]}"; stop_server
start_server secure;   load signed-live "" "${KEY[@]}"; stop_server
if [[ "$PREBUILT" == 1 ]]; then
  # Twice as many requests as the live run of the same kind answered: each is sent at most once.
  start_server insecure; load unsigned-prebuilt "" --prebuilt $(( 2 * $(field unsigned-live ok) )); stop_server
  start_server secure;   load signed-prebuilt "" "${KEY[@]}" --prebuilt $(( 2 * $(field signed-live ok) )); stop_server
  RUNS+=(unsigned-prebuilt signed-prebuilt)
fi
if [[ "$PINNED" == 1 ]]; then
  start_server insecure 0; load unsigned-pinned 1; stop_server
  start_server secure 0;   load signed-pinned 1 "${KEY[@]}"; stop_server
  RUNS+=(unsigned-pinned signed-pinned)
fi

{
  echo
  echo "algocenter signing bench $(date -u +%F), $(head -1 "$OUT/machine.txt"); $(sed -n 2p "$OUT/machine.txt")"
  echo "GetFunctionTask, $CONNECTIONS connections, $THREADS generator threads, ${DURATION} s per load; $(cat "$OUT/seed.txt")"
  if [[ "$VERIFY" == 1 ]]; then
    echo "verification per request (median / p99, guard full):"
    grep -E '^\((a|b|c)\).* full ' "$OUT/verify.txt" | awk '{
      n = index($0, " full "); printf "  %-40s %s %s / %s %s\n", substr($0, 1, n - 1), $(NF-16), $(NF-15), $(NF-12), $(NF-11) }'
    grep -A1 '^replay guard growth' "$OUT/verify.txt" | sed 's/^/  /'
  fi
  printf '%-18s %8s %7s %7s %7s %8s %6s %9s %9s %9s %9s %7s %15s %7s\n' load req/s p50 p90 p99 max errors \
    "gen CPU" "gen/req" "srv CPU" "srv/req" "cs/req" "srv RSS/peak" "other"
  for r in "${RUNS[@]}"; do
    ok=$(field "$r" ok)
    printf '%-18s %8s %7s %7s %7s %8s %6s %8ss %7.1fµs %8ss %7.1fµs %7.2f %15s %6ss\n' "$r" "$(field "$r" rps)" \
      "$(field "$r" p50_ms)" "$(field "$r" p90_ms)" "$(field "$r" p99_ms)" "$(field "$r" max_ms)" "$(field "$r" errors)" \
      "$(field "$r" gen_cpu_s)" "$(echo "$(field "$r" gen_cpu_s) * 1000000 / $ok" | bc -l)" \
      "$(field "$r" server_cpu_s)" "$(echo "$(field "$r" server_cpu_s) * 1000000 / $ok" | bc -l)" \
      "$(echo "($(field "$r" gen_cs) + $(field "$r" server_cs)) / $ok" | bc -l)" \
      "$(field "$r" server_rss_mb) / $(field "$r" server_hwm_mb)" "$(field "$r" other_cpu_s)"
  done
  echo "(latencies in ms; CPU = user+system seconds over the load, per request in µs; cs = context switches of both;"
  echo " other = CPU seconds the rest of the machine used during the load, out of $(( $(nproc) * DURATION )))"
  for r in "${RUNS[@]}"; do
    if (( $(echo "$(field "$r" other_cpu_s) > 0.05 * $(nproc) * $DURATION" | bc -l) )); then
      echo "WARNING: $r shared the machine with other processes ($(field "$r" other_cpu_s) s of CPU): not comparable"
    fi
  done
  s=$(field signed-unchecked rps) u=$(field unsigned-live rps)
  printf 'signed-unchecked / unsigned-live: %5.1f %%  (the client signing and the larger requests, no server check)\n' \
    "$(echo "100 * $s / $u" | bc -l)"
  for kind in live prebuilt pinned; do
    [[ -f "$OUT/signed-$kind.txt" ]] || continue
    s=$(field "signed-$kind" rps) u=$(field "unsigned-$kind" rps)
    ratio=$(echo "100 * $s / $u" | bc -l)
    verdict=$(echo "$ratio >= 85" | bc -l)
    printf 'signed / unsigned, %-8s: %5.1f %%  (target >= 85 %%: %s)\n' "$kind" "$ratio" \
      "$([[ "$verdict" == 1 ]] && echo met || echo NOT MET)"
  done
} | tee "$OUT/summary.txt"
