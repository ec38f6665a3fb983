# Shared by the benchmark scripts (source it after `cd` to the repository root and setting OUT):
#   start_server [serve args...]  a release server on a free loopback port and a fresh data dir (PID, URL, DATA);
#                                 the loads are unsigned, so it runs with --insecure-no-auth (loopback only)
#   stop_server                   SIGTERM and wait; fails when the server exits with an error
#   api METHOD PATH [BODY]        one request; prints the answer, fails on a non-2xx status
#   mem VmRSS|VmHWM               the server's resident / peak memory in MB
#   wait_task PATH FILE           polls GetFunctionTask PATH until the task ends, the last answer in FILE; prints
#                                 its status
#   generate_once DIR ARGS...     `algocenter generate --out DIR ARGS...` unless DIR holds a complete data set
#                                 (REGENERATE=1 rebuilds it); the generator's output in $OUT/generate.txt
#   push_data DIR                 creates the app group `bench` and pushes DIR's items (the CLI) and behaviour
#                                 (bench/ingest.py, 4 clients x 1,000 events; its report in $OUT/ingest.txt)
# The scripts define log and die (used here) before calling these.
# The EXIT trap stops the server and removes the data dir (KEEP_DATA=1 keeps it).

BIN="${BIN:-$CARGO_TARGET_DIR/release/algocenter}"
PID="" DATA="" URL=""

bench_cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
  fi
  if [[ -n "$DATA" ]]; then
    if [[ -n "${KEEP_DATA:-}" ]]; then echo "data dir kept: $DATA" >&2; else rm -rf "$DATA"; fi
  fi
}
trap bench_cleanup EXIT

start_server() {
  DATA="$(mktemp -d /tmp/algocenter-bench.XXXXXX)"
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  URL="http://127.0.0.1:$port"
  "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$DATA" --insecure-no-auth "$@" 2>"$OUT/server.log" &
  PID=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$OUT/server.log" && break
    kill -0 "$PID" 2>/dev/null || { cat "$OUT/server.log" >&2; echo "server exited during start-up" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "listening on" "$OUT/server.log" || { echo "server did not start in 10 s" >&2; exit 1; }
  echo "server pid $PID on $URL, data $DATA, results $OUT" >&2
}

stop_server() {
  kill -TERM "$PID"
  wait "$PID" || { echo "server exited with status $?" >&2; exit 1; }
  PID=""
}

restart_server() {  # restart_server BIN: the server stopped, then BIN serving the same data dir on the same port
  local port=${URL##*:}
  stop_server
  "$1" serve --listen "127.0.0.1:$port" --data-dir "$DATA" --insecure-no-auth --workers 1 2>>"$OUT/server.log" &
  PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "$URL/" && break; sleep 0.1; done  # any answer: it listens
  curl -s -o /dev/null "$URL/" || { echo "server did not restart in 10 s" >&2; exit 1; }
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }  # utime + stime of the server, in clock ticks

api() {
  curl -sS --fail-with-body -X "$1" -H 'Content-Type: application/json' ${3+--data "$3"} "$URL$2"
}

mem() {
  awk -v k="$1" '$1 == k":" {printf "%.1f", $2 / 1024}' "/proc/$PID/status"
}

wait_task() {
  local status
  while :; do
    api GET "$1" >"$2"
    status=$(jq -r .Result.Status "$2")
    [[ "$status" == success || "$status" == failed ]] && break
    sleep 0.2
  done
  echo "$status"
}

generate_once() {
  local dir=$1; shift
  if [[ -n "${REGENERATE:-}" || ! -f "$dir/.complete" ]]; then
    log "generating into $dir: $*"
    rm -rf "$dir"
    "$BIN" generate --out "$dir" "$@" >"$OUT/generate.txt" 2>&1 || { cat "$OUT/generate.txt" >&2; die "generate"; }
    touch "$dir/.complete"
  fi
}

push_data() {
  local dir=$1
  api POST /v4/openapi/app-groups '{"name":"bench"}' >/dev/null
  log "pushing items and behaviour"
  "$BIN" --endpoint "$URL" push --app bench --type item_info "$dir/items.jsonl" >"$OUT/items.txt" 2>&1 \
    || { cat "$OUT/items.txt" >&2; die "item push"; }
  python3 bench/ingest.py "$URL" "$dir/behavior.jsonl" --clients 4 --batch 1000 >"$OUT/ingest.txt" \
    || die "ingest (see $OUT/ingest.txt)"
}
