#!/usr/bin/env bash
# The ctr function on generated data sets of two shapes: for each, generate (with the true click probabilities),
# push, restart the server (so that its peak memory is the training's), train one generation end to end (read
# events, build examples, train, evaluate, write the artifact), compare its held-out metrics with the truth's on
# the same exposures; then load the predict endpoint with reranks of 100 candidates, saturated and paced at RATE
# requests/s (a send schedule: bench/requests.lua's PACE_RATE), on the first shape. Memory: the server's peak RSS
# and its RSS sampled with the task's progress (rss-<shape>.txt). Raw outputs: bench/results/<timestamp>-ctr/.
#
# Knobs (environment): SHAPES="longtail dense" CONNECTIONS=8 (saturated) DURATION=20 RATE=200 (paced)
#   longtail: EVENTS_LONGTAIL=12600000 events (~10 M exposures), catalogue, users and queries growing with them
#   dense:    EVENTS_DENSE=3000000 events on 2,000 items, 2,000 users, 3,000 queries
#   GEN_DIR_<SHAPE> reused when complete; REGENERATE=1 rebuilds (windows end at generation time: regenerate a
#   data set older than about a day). SKIP_BUILD=1, BIN=<binary> (default: the release build), KEEP_DATA=1 (keeps
#   the server's data dirs: the pushed events, to train again on them).
#   CTR_PARAMS="model=deep tuning_budget_seconds=60": further create parameters of the instance (k=v, spaces).
#   AB="binA binB"  after the first shape's training, serve its data dir (the same model) with binA, binB, binB,
#   binA in turn, each restarted and given both loads: two builds compared on one model (a training's window
#   follows the clock, so two trainings are two models).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/algocenter-target}"
SHAPES="${SHAPES:-longtail dense}" CONNECTIONS="${CONNECTIONS:-8}" DURATION="${DURATION:-20}" RATE="${RATE:-200}"
EVENTS_LONGTAIL="${EVENTS_LONGTAIL:-12600000}" EVENTS_DENSE="${EVENTS_DENSE:-3000000}"
OUT="bench/results/$(date +%Y%m%d-%H%M%S)-ctr"
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/steps.txt" >&2; }
die() { echo "FAILED: $*" | tee -a "$OUT/steps.txt" >&2; exit 1; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
  cargo build --release -p algocenter
fi
BIN="${BIN:-$CARGO_TARGET_DIR/release/algocenter}"
source bench/lib.sh
FUNCTIONS=/v4/openapi/app-groups/bench/functions

generate() {  # generate SHAPE DIR: the data set of a shape, reused when complete
  local shape=$1 dir=$2
  if [[ -n "${REGENERATE:-}" || ! -f "$dir/.complete" ]]; then
    log "generating $shape into $dir"
    rm -rf "$dir"
    local t0; t0=$(date +%s%3N)
    case $shape in
      longtail) "$BIN" generate --out "$dir" --truth --events "$EVENTS_LONGTAIL" ;;
      dense) "$BIN" generate --out "$dir" --truth --events "$EVENTS_DENSE" --items 2000 --users 2000 --queries 3000 ;;
      *) die "unknown shape $shape" ;;
    esac >"$OUT/generate-$shape.txt" 2>&1
    echo "generated in $(( $(date +%s%3N) - t0 )) ms" >>"$OUT/generate-$shape.txt"
    touch "$dir/.complete"
  fi
}

wait_task_sampled() {  # wait_task_sampled PATH FILE SAMPLES: wait_task, writing "seconds progress rss_mb" each poll
  local status t0; t0=$(date +%s%3N)
  echo "seconds progress_percent rss_mb" >"$3"
  while :; do
    api GET "$1" >"$2"
    status=$(jq -r .Result.Status "$2")
    echo "$(awk -v m="$(( $(date +%s%3N) - t0 ))" 'BEGIN {printf "%.1f", m / 1000}') $(jq -r .Result.Progress "$2") $(mem VmRSS)" >>"$3"
    [[ "$status" == success || "$status" == failed ]] && break
    sleep 0.5
  done
  echo "$status"
}

run_shape() {  # run_shape SHAPE: push, restart, train, compare with the truth; leaves the server running
  local shape=$1 dir
  local var="GEN_DIR_${shape^^}"
  dir="${!var:-/tmp/algocenter-gen-ctr-$shape}"
  generate "$shape" "$dir"
  local events exposures
  events=$(wc -l <"$dir/behavior.jsonl")
  exposures=$(grep -c '"bhv_type":"expose"' "$dir/behavior.jsonl")
  echo "$shape: $events events, $exposures exposures, $(wc -l <"$dir/items.jsonl") items" | tee -a "$OUT/dataset.txt"

  start_server --workers 1
  api POST /v4/openapi/app-groups '{"name":"bench"}' >/dev/null
  log "$shape: pushing items and behaviour"
  "$BIN" --endpoint "$URL" push --app bench --type item_info "$dir/items.jsonl" >"$OUT/items-$shape.txt" 2>&1 \
    || { cat "$OUT/items-$shape.txt" >&2; die "item push"; }
  python3 bench/ingest.py "$URL" "$dir/behavior.jsonl" --clients 4 --batch 1000 >"$OUT/ingest-$shape.txt" \
    || die "ingest (see $OUT/ingest-$shape.txt)"
  # A fresh process on the same data: its peak memory is then the training's, not the ingest's.
  restart_server "$BIN"
  echo "$shape: RSS before training $(mem VmRSS) MB" | tee -a "$OUT/memory.txt"

  log "$shape: training"
  local params='{"name":"id_field","value":"item_id"},{"name":"title_field","value":"title"}' kv
  for kv in ${CTR_PARAMS:-}; do params+=",{\"name\":\"${kv%%=*}\",\"value\":\"${kv#*=}\"}"; done
  api POST "$FUNCTIONS/ctr/instances" "{\"instanceName\":\"rank\",\"modelType\":\"tf_checkpoint\",\"createParameters\":[$params]}" >/dev/null
  local t0; t0=$(date +%s%3N)
  api POST "$FUNCTIONS/ctr/instances/rank/tasks" "" >/dev/null
  local status
  status=$(wait_task_sampled "$FUNCTIONS/ctr/instances/rank/tasks/1" "$OUT/task-$shape.json" "$OUT/rss-$shape.txt")
  local wall=$(( $(date +%s%3N) - t0 ))
  jq -r .Result.ExtendInfo "$OUT/task-$shape.json" | jq -S . >"$OUT/metrics-$shape.json"
  [[ "$status" == success ]] || die "ctr training $status: $(cat "$OUT/metrics-$shape.json")"
  echo "$shape: wall_s=$(awk -v m="$wall" 'BEGIN {printf "%.2f", m / 1000}') peak_rss_mb=$(mem VmHWM) rss_after_mb=$(mem VmRSS)" \
    | tee -a "$OUT/training.txt"
  # Where the memory went: the highest sample and the task's progress then (steps: reading items to 3 %,
  # behaviour to 25 %, building examples to 30 %, training to 90 %, evaluating to 95 %, writing to 100 %).
  awk -v s="$shape" 'NR > 1 && $3 > max {max = $3; at = $2; t = $1}
    END {printf "%s: highest sampled RSS %.1f MB at %s %% (%s s into the task); samples in rss-%s.txt\n", s, max, at, t, s}' \
    "$OUT/rss-$shape.txt" | tee -a "$OUT/memory.txt"
  local start; start=$(jq -r .Result.StartTime "$OUT/task-$shape.json")
  python3 bench/ctr_data.py truth "$dir" $(( start - 86400000 )) >"$OUT/truth-$shape.json" || die "truth"
  jq -c --argjson t "$(cat "$OUT/truth-$shape.json")" \
    '{shape: "'"$shape"'", model, training_seconds, artifact_bytes, auc, auc_within_position, logloss, calibration, mean_predicted_ctr, observed_ctr,
      truth_auc: $t.truth_auc, truth_logloss: $t.truth_logloss, truth_exposures: $t.exposures,
      baseline_lr_auc, baseline_lr_auc_within_position, baseline_lr_logloss, baseline_pop_auc, baseline_pop_logloss,
      examples_fit, examples_validation, examples_holdout, epochs_run, best_epoch, feature_rows}' \
    "$OUT/metrics-$shape.json" | tee -a "$OUT/quality.txt"
  GEN_USED="$dir"
}

run_wrk() {  # run_wrk NAME CONNECTIONS [env...]: one wrk run, then its result line with the server's CPU per rerank
  local name=$1 conns=$2; shift 2
  local c0 c1 result requests
  c0=$(cpu_ticks)
  env "$@" REQUESTS="$OUT/requests.txt" wrk -t2 -c"$conns" -d"${DURATION}s" -s bench/requests.lua "$URL" \
    >"$OUT/wrk-$name.txt" 2>&1 || die "wrk $name"
  c1=$(cpu_ticks)
  result=$(grep '^RESULT' "$OUT/wrk-$name.txt" | sed 's/^RESULT //')
  [[ -n "$result" ]] || die "no result in wrk-$name.txt"
  [[ "$result" == *"errors=0 non2xx=0"* ]] || die "errors in $name: $result"
  requests=${result#requests=}; requests=${requests%% *}
  echo "rerank-100 $name: $result server_cpu_ms_per_request=$(awk -v c=$((c1 - c0)) -v k="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN {printf "%.3f", c / k * 1000 / n}')" \
    | tee -a "$OUT/serving.txt"
}

load() {  # load [LABEL]: saturated, then paced, reranks of 100 candidates
  local label=${1:-}
  [[ -f "$OUT/requests.txt" ]] \
    || python3 bench/ctr_data.py requests "$GEN_USED" "$OUT/requests.txt" --app bench --instance rank
  run_wrk "saturated$label" "$CONNECTIONS"
  # Paced: wrk's threads hand out send times for RATE requests/s in all (bench/requests.lua, PACE_RATE), over
  # enough connections that the slowest answers (12 ms at that rate) do not hold a send back.
  local conns
  conns=$(awk -v r="$RATE" 'BEGIN {c = int(r * 12 / 1000) + 2; print (c < 4 ? 4 : c)}')
  run_wrk "paced$label" "$conns" PACE_RATE="$RATE" PACE_THREADS=2
  echo "RSS after the loads$label $(mem VmRSS) MB" | tee -a "$OUT/memory.txt"
}

serve_ab() {  # serve_ab: the loads with binA, binB, binB, binA, each restarted on the same data dir
  local bin_a bin_b bin label
  read -r bin_a bin_b <<<"$AB"
  for bin in "$bin_a" "$bin_b" "$bin_b" "$bin_a"; do
    label=$([[ "$bin" == "$bin_a" ]] && echo A || echo B)
    log "serving with $label ($bin) on the same data"
    restart_server "$bin"
    # The first requests load the generation; not measured.
    REQUESTS="$OUT/requests.txt" wrk -t1 -c1 -d2s -s bench/requests.lua "$URL" >/dev/null 2>&1 \
      || die "$label does not answer"
    load "-$label"
  done
  echo "A = $bin_a, B = $bin_b" | tee -a "$OUT/serving.txt"
}

first=1
for shape in $SHAPES; do
  run_shape "$shape"
  if [[ -n "$first" ]]; then
    if [[ -z "${AB:-}" ]]; then
      log "serving"
      load
    else
      serve_ab
    fi
    first=""
  fi
  stop_server
  if [[ -n "${KEEP_DATA:-}" ]]; then echo "data dir kept: $DATA" >&2; else rm -rf "$DATA"; fi
  DATA=""
done

{
  echo "algocenter ctr bench $(date -u +%F) on $(nproc) cores (wrk and the server share them), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty')"
  cat "$OUT/dataset.txt" "$OUT/training.txt" "$OUT/memory.txt" "$OUT/quality.txt" "$OUT/serving.txt"
} | tee "$OUT/summary.txt"
