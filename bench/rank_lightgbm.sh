#!/usr/bin/env bash
# rank vs LightGBM's lambdarank on the same examples: the rank trainer exports what it trains on (graded shop of
# EVENTS events, built-in features, no position weights so that both optimise the same objective), then
# bench/rank_lightgbm.py trains LightGBM on it. LightGBM comes from PyPI into a bench-only venv.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-1000000}
VENV=${RANK_BENCH_VENV:-$HOME/.cache/algocenter-bench-venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import lightgbm, numpy' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q lightgbm numpy
fi
OUT=$(mktemp -d)
export CARGO_INCREMENTAL=0
cargo bench -p algocenter-functions --bench rank_training -- "$EVENTS" --export "$OUT" position_debiasing=none \
  | tee "$OUT/algocenter.txt"
"$VENV/bin/python" bench/rank_lightgbm.py "$OUT" | tee "$OUT/lightgbm.json"
echo "examples and outputs in $OUT"
