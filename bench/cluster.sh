#!/usr/bin/env bash
# Scale-out benchmarks on PostgreSQL (the figures of issue 7), each on its own database of one throwaway cluster
# with PostgreSQL's durable defaults (fsync on, synchronous commit): every acknowledged write is on disk.
#   1. ingest: one API process, bench/ingest.py pushing EVENTS generated events (CLIENTS x BATCH-event requests);
#   2. GetFunctionTask with two API processes: INSTANCES x GENERATIONS tasks seeded, then one wrk per process at once;
#   3. task throughput: TASKS instances with one queued pop task each (a small data set, so each run trains for a
#      few ms), then three `algocenter worker` processes start; claiming overhead per task =
#      (workers x wall time - sum of training time) / tasks, from the task records.
#   4. signed GetFunctionTask with two API processes (issue 19): SIGNED_INSTANCES x SIGNED_GENERATIONS tasks seeded,
#      then the closed-loop generator of bench/signing.sh against both processes at once, unsigned (--insecure-no-auth)
#      and signed (ACS3, a fresh nonce per request: each one a round trip to the shared nonce table); and the nonce
#      statement alone under pgbench (NONCE_CLIENTS clients, asynchronous commit as the servers use it). Then both
#      again paced at PACED_RATE requests/s per process (not saturated): the p99 a signed request adds at that load.
# Servers of loads 1-3 run with --insecure-no-auth on loopback (unsigned loads, as bench/run.sh). Everything shares
# the 2 cores. Raw outputs: bench/results/<timestamp>-cluster/.
#
# Knobs: EVENTS=2000000 CLIENTS=4 BATCH=1000 DURATION=30 CONNECTIONS=32 INSTANCES=1000 GENERATIONS=20 TASKS=1000
#        SIGNED_INSTANCES=200 SIGNED_GENERATIONS=10 NONCE_CLIENTS=8 PACED_RATE=1000 STEPS="ingest tasks queue signed"
#        SKIP_BUILD=1
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
EVENTS="${EVENTS:-2000000}" CLIENTS="${CLIENTS:-4}" BATCH="${BATCH:-1000}"
DURATION="${DURATION:-30}" CONNECTIONS="${CONNECTIONS:-32}" TASKS="${TASKS:-1000}"
export INSTANCES="${INSTANCES:-1000}" GENERATIONS="${GENERATIONS:-20}"
SIGNED_INSTANCES="${SIGNED_INSTANCES:-200}" SIGNED_GENERATIONS="${SIGNED_GENERATIONS:-10}"
NONCE_CLIENTS="${NONCE_CLIENTS:-8}" PACED_RATE="${PACED_RATE:-1000}" STEPS="${STEPS:-ingest tasks queue signed}"
KEY_ID="clusterbench" KEY_SECRET="clusterbench-secret-0123456789abcdef"
want() { [[ " $STEPS " == *" $1 "* ]]; }
BIN="$CARGO_TARGET_DIR/release/algocenter"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-cluster"
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/steps.txt" >&2; }

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
[[ -n "${SKIP_BUILD:-}" ]] || cargo build --release -p algocenter
if want signed; then
  # The load generator of bench/signing.sh: a bench target without a harness, run directly.
  LOAD="$(cargo bench -p algocenter --bench signed_load --no-run 2>&1 \
    | sed -n 's/.*Executable .*(\(.*signed_load-[0-9a-f]*\)).*/\1/p' | tail -1)"
  [[ -x "$LOAD" ]] || { echo "could not build or find the signed_load executable" >&2; exit 1; }
fi

PIDS=() DIRS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for dir in "${DIRS[@]}"; do rm -rf "$dir"; done
  [[ -z "${ALGOCENTER_TEST_PG_DIR:-}" ]] || scripts/postgres-test-cluster stop "$ALGOCENTER_TEST_PG_DIR"
}
trap cleanup EXIT
eval "$(ALGOCENTER_PG_DURABLE=1 scripts/postgres-test-cluster start)"
BASE_URL="${ALGOCENTER_TEST_DATABASE_URL%/*}"
database() { psql -q -X "$ALGOCENTER_TEST_DATABASE_URL" -c "CREATE DATABASE $1" && echo "$BASE_URL/$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start NAME DB ARGS...: a serve process (sets URL_<NAME>); `worker` as ARGS[0] starts a worker instead.
start() {
  local name=$1 db=$2; shift 2
  local dir; dir=$(mktemp -d /tmp/algocenter-cluster.XXXXXX); DIRS+=("$dir")
  if [[ "${1:-}" == worker ]]; then
    shift
    "$BIN" worker --data-dir "$dir" --database-url "$db" --master-key-file "$OUT/master.key" "$@" \
      2>"$OUT/$name.log" &
    PIDS+=($!)
    return
  fi
  local port; port=$(free_port)
  local auth=(--insecure-no-auth)
  [[ -z "${SECURE:-}" ]] || auth=(--master-key-file "$OUT/master.key")
  ALGOCENTER_BOOTSTRAP_KEY="$KEY_ID:$KEY_SECRET" \
    "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$dir" --database-url "$db" "${auth[@]}" "$@" \
    2>"$OUT/$name.log" &
  PIDS+=($!)
  printf -v "PID_$name" '%s' "$!"
  for _ in $(seq 100); do grep -q "listening on" "$OUT/$name.log" && break; sleep 0.1; done
  grep -q "listening on" "$OUT/$name.log" || { cat "$OUT/$name.log" >&2; exit 1; }
  printf -v "URL_$name" '%s' "http://127.0.0.1:$port"
}
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
api() { curl -sS --fail-with-body -X "$2" -H 'Content-Type: application/json' ${4+--data "$4"} "$1$3"; }

# 1. Ingest.
if want ingest; then
GEN_DIR="/tmp/algocenter-gen-$EVENTS"
if [[ ! -f "$GEN_DIR/.complete" ]]; then
  log "generating $EVENTS events into $GEN_DIR"
  rm -rf "$GEN_DIR"; "$BIN" generate --out "$GEN_DIR" --events "$EVENTS" >/dev/null; touch "$GEN_DIR/.complete"
fi
DB=$(database ingest)
start ingest "$DB" --workers 1
api "$URL_ingest" POST /v4/openapi/app-groups '{"name":"bench"}' >/dev/null
log "ingest: $(wc -l <"$GEN_DIR/behavior.jsonl") events, $CLIENTS clients x $BATCH events per request"
python3 bench/ingest.py "$URL_ingest" "$GEN_DIR/behavior.jsonl" --clients "$CLIENTS" --batch "$BATCH" \
  | tee "$OUT/ingest.txt"
psql -X -At "$DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))" | sed 's/^/database size: /' \
  | tee -a "$OUT/ingest.txt"
# A pop run over everything just pushed: its time bounds how fast a training window streams out of PostgreSQL.
log "pop training on the ingested events"
POP=/v4/openapi/app-groups/bench/functions/pop/instances
api "$URL_ingest" POST "$POP" '{"instanceName":"pop1","modelType":"pop"}' >/dev/null
api "$URL_ingest" POST "$POP/pop1/tasks" >/dev/null
while :; do
  api "$URL_ingest" GET "$POP/pop1/tasks/1" >"$OUT/pop-task.json"
  [[ "$(jq -r .Result.Status "$OUT/pop-task.json")" == running ]] || break
  sleep 0.2
done
jq -r '.Result | "pop: \(.Status) in \((.EndTime - .StartTime) / 1000) s; " + (.ExtendInfo | fromjson
  | "train_events \(.train_events), holdout_events \(.holdout_events)")' "$OUT/pop-task.json" | tee "$OUT/pop.txt"
stop_all
fi

# 2. GetFunctionTask with two API processes on one database.
if want tasks; then
DB=$(database tasks)
start a "$DB" --workers 2
log "seeding $INSTANCES instances x $GENERATIONS generations through process a"
python3 bench/seed.py "$URL_a" --instances "$INSTANCES" --generations "$GENERATIONS" --threads 32 \
  | tee "$OUT/seed.txt"
start b "$DB" --workers 0
log "wrk get_task on both processes at once: -t1 -c$CONNECTIONS -d${DURATION}s each"
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/get_task.lua "$URL_a" >"$OUT/get_task-a.txt" &
WA=$!
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/get_task.lua "$URL_b" >"$OUT/get_task-b.txt"
wait "$WA"
stop_all
fi

# 3. Task throughput with three worker processes.
if want queue; then
DB=$(database queue)
start api "$DB" --workers 0
api "$URL_api" POST /v4/openapi/app-groups '{"name":"bench"}' >/dev/null
"$BIN" generate --out "$OUT/small" --events 20000 --days 7 >/dev/null
"$BIN" --endpoint "$URL_api" push --app bench --type behavior "$OUT/small/behavior.jsonl" >/dev/null 2>&1
log "queueing $TASKS tasks (one per instance)"
python3 - "$URL_api" "$TASKS" <<'PY'
import http.client, json, sys, urllib.parse
from concurrent.futures import ThreadPoolExecutor
url, n = urllib.parse.urlsplit(sys.argv[1]), int(sys.argv[2])
base = "/v4/openapi/app-groups/bench/functions/pop/instances"
def one(i):
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    for path, body in ((base, {"instanceName": f"t{i:04d}", "modelType": "pop"}), (f"{base}/t{i:04d}/tasks", None)):
        c.request("POST", path, body=json.dumps(body) if body else None, headers={"Content-Type": "application/json"})
        r = c.getresponse(); r.read(); assert r.status == 200, (path, r.status)
with ThreadPoolExecutor(16) as pool:
    list(pool.map(one, range(n)))
PY
log "three worker processes"
for w in 1 2 3; do start "worker$w" "$DB" worker --workers 1; done
while [[ "$(psql -X -At "$DB" -c "SELECT count(*) FROM task WHERE state IN ('queued', 'running')")" != 0 ]]; do
  sleep 0.2
done
psql -X -At -F' ' "$DB" -c "SELECT count(*), count(*) FILTER (WHERE state = 'success'),
    max(ended_ms) - min(started_ms), sum(ended_ms - started_ms) FROM task" >"$OUT/queue.txt"
stop_all
fi

# 4. Signed GetFunctionTask over two API processes sharing the nonce table, against the same unsigned.
if want signed; then
DB=$(database signed)
start seeder "$DB" --workers 2
log "seeding $SIGNED_INSTANCES instances x $SIGNED_GENERATIONS generations"
"$LOAD" seed --url "$URL_seeder" --instances "$SIGNED_INSTANCES" --generations "$SIGNED_GENERATIONS" --connections 16 \
  | tee "$OUT/signed-seed.txt"
stop_all
# two_loads NAME [generator args...]: one generator per process, both at once (-c CONNECTIONS each).
two_loads() {
  local name=$1 generators=(); shift
  for p in a b; do
    local url="URL_$p" pid="PID_$p"
    "$LOAD" load --url "${!url}" --duration "$DURATION" --connections "$CONNECTIONS" --threads 1 \
      --instances "$SIGNED_INSTANCES" --generations "$SIGNED_GENERATIONS" --server-pid "${!pid}" --label "$name-$p" "$@" \
      >"$OUT/$name-$p.txt" 2>"$OUT/$name-$p.err" &
    generators+=($!)
  done
  for g in "${generators[@]}"; do
    wait "$g" || { cat "$OUT/$name"-?.err >&2; echo "$name: non-200 answers or transport errors" >&2; exit 1; }
  done
}
start a "$DB" --workers 0; start b "$DB" --workers 0
log "unsigned GetFunctionTask on both processes at once: $CONNECTIONS connections each, ${DURATION}s"
two_loads unsigned
log "unsigned GetFunctionTask paced at $PACED_RATE req/s per process"
two_loads unsigned-paced --rate "$PACED_RATE"
stop_all
SECURE=1 start a "$DB" --workers 0; SECURE=1 start b "$DB" --workers 0
log "signed GetFunctionTask on both processes at once (shared nonces)"
two_loads signed --key "$KEY_ID:$KEY_SECRET"
log "signed GetFunctionTask paced at $PACED_RATE req/s per process"
two_loads signed-paced --rate "$PACED_RATE" --key "$KEY_ID:$KEY_SECRET"
stop_all
psql -X -At "$DB" -c "SELECT count(*) FROM request_nonce" | sed 's/^/nonces remembered after the signed load: /' \
  | tee "$OUT/nonces.txt"
# The nonce statement alone, as the servers run it (asynchronous commit), with per-statement latencies logged.
cat >"$OUT/nonce.sql" <<'SQL'
\set h random(1, 4611686018427387903)
INSERT INTO request_nonce (nonce_hash, signed_ms) VALUES (:h, 0) ON CONFLICT DO NOTHING;
SQL
log "pgbench: the nonce INSERT alone, $NONCE_CLIENTS clients, ${DURATION}s"
(cd "$OUT" && PGOPTIONS='-c synchronous_commit=off' pgbench -n -M prepared -f nonce.sql -c "$NONCE_CLIENTS" -j 2 \
  -T "$DURATION" -l --log-prefix=nonce "$DB" >pgbench.txt 2>&1)
cat "$OUT"/nonce.* 2>/dev/null | awk '$1 ~ /^[0-9]+$/ {print $3}' | sort -n \
  | awk '{v[NR] = $1} END {printf "nonce INSERT alone: %d statements, p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms\n",
      NR, v[int(NR * 0.5)] / 1000, v[int(NR * 0.99)] / 1000, v[int(NR * 0.999)] / 1000}' | tee "$OUT/nonce.txt"
rm -f "$OUT"/nonce.[0-9]*
fi
if [[ -f "$OUT/queue.txt" ]]; then read -r N OK WALL BUSY <"$OUT/queue.txt"; fi

{
  echo
  echo "algocenter cluster bench $(date -u +%F) on $(nproc) cores (PostgreSQL $(psql -X -At "$ALGOCENTER_TEST_DATABASE_URL" -c 'SHOW server_version'), fsync on; every process and load generator shares the cores)"
  if [[ -f "$OUT/ingest.txt" ]]; then
  grep -E '^(events|seconds|latency_ms)' "$OUT/ingest.txt" | tr '\n' ' '; echo
  grep 'database size' "$OUT/ingest.txt"
  cat "$OUT/pop.txt"
  fi
  if [[ -f "$OUT/seed.txt" ]]; then
  cat "$OUT/seed.txt"
  for p in a b; do
    printf 'GetFunctionTask on process %s: %s req/s, p50 %s, p99 %s, non-2xx %s\n' "$p" \
      "$(awk '/^Requests\/sec/ {print $2}' "$OUT/get_task-$p.txt")" \
      "$(awk '$1 == "50%" {print $2}' "$OUT/get_task-$p.txt")" "$(awk '$1 == "99%" {print $2}' "$OUT/get_task-$p.txt")" \
      "$(awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$OUT/get_task-$p.txt")"
  done
  awk '/^Requests\/sec/ {s += $2} END {printf "GetFunctionTask, two processes together: %.0f req/s\n", s}' \
    "$OUT"/get_task-*.txt
  fi
  field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$OUT/$1.txt"; }
  for kind in unsigned signed unsigned-paced signed-paced; do
    [[ -f "$OUT/$kind-a.txt" ]] || continue
    printf '%s GetFunctionTask, two processes: %.0f req/s together (%s + %s), p50 %s / %s ms, p99 %s / %s ms, errors %s + %s\n' \
      "$kind" "$(echo "$(field "$kind-a" rps) + $(field "$kind-b" rps)" | bc -l)" "$(field "$kind-a" rps)" \
      "$(field "$kind-b" rps)" "$(field "$kind-a" p50_ms)" "$(field "$kind-b" p50_ms)" "$(field "$kind-a" p99_ms)" \
      "$(field "$kind-b" p99_ms)" "$(field "$kind-a" errors)" "$(field "$kind-b" errors)"
  done
  if [[ -f "$OUT/signed-paced-a.txt" ]]; then
    for p in a b; do
      printf 'p99 a signed request adds at %s req/s on process %s: %.3f ms\n' "$PACED_RATE" "$p" \
        "$(echo "$(field "signed-paced-$p" p99_ms) - $(field "unsigned-paced-$p" p99_ms)" | bc -l)"
    done
  fi
  if [[ -f "$OUT/nonce.txt" ]]; then cat "$OUT/nonces.txt" "$OUT/nonce.txt"; fi
  if [[ -f "$OUT/queue.txt" ]]; then awk -v n="$N" -v ok="$OK" -v wall="$WALL" -v busy="$BUSY" 'BEGIN {
    printf "queue: %d tasks (%d success) by 3 workers in %.2f s = %.1f tasks/s; training %.1f ms/task on average; ", n, ok, wall / 1000, n / (wall / 1000), busy / n
    printf "claiming overhead %.2f ms/task\n", (3 * wall - busy) / n }'
  fi
} | tee "$OUT/summary.txt"
