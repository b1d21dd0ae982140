#!/usr/bin/env bash
# Reproduce every benchmark; each writes JSON to benchmarks/results/ and prints a Markdown table.
#   bash benchmarks/run_all.sh            # the sizes reported in benchmarks/RESULTS.md
#   bash benchmarks/run_all.sh --quick    # a fast smoke run of each (minutes)
# Run from anywhere; uses $PYTHON (default: python on PATH, e.g. an activated venv). NICE=5 by default: the
# machine is usually shared, and every benchmark reports ratios against a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
NICE=${NICE:-5}
QUICK=""
[ "${1:-}" = "--quick" ] && QUICK="--quick"
R=benchmarks/results
mkdir -p "$R"
run() { echo "== $*"; nice -n "$NICE" "$PY" "$@"; echo; }
opt() { run "$@" || echo "!! $1 failed (optional benchmark; see its output above)"; }

# tokenizer has no JSON option of its own: keep its table
if [ -n "$QUICK" ]; then
  run benchmarks/bench_tokenizer.py --mb 1 | tee "$R/tokenizer.md"
else
  run benchmarks/bench_tokenizer.py --mb 4 | tee "$R/tokenizer.md"
fi
if [ -n "$QUICK" ]; then run benchmarks/bench_build.py --size 5000000 | tee "$R/build.md"
  run benchmarks/bench_build.py --source files --size 5000000 | tee "$R/build_files.md"
else run benchmarks/bench_build.py | tee "$R/build.md"
  for size in 50000000 500000000 3100000000; do
    run benchmarks/bench_build.py --source files --size $size | tee -a "$R/build_files.md"
  done
fi
run benchmarks/bench_train.py $QUICK --out "$R/train.json" | tee "$R/train.md"
run benchmarks/bench_infer.py $QUICK --out "$R/infer.json" | tee "$R/infer.md"
[ -z "$QUICK" ] && run benchmarks/bench_infer.py --preset mini_conv --variants 256 --rounds 5 --out "$R/infer_mini_conv.json" | tee "$R/infer_mini_conv.md"
run benchmarks/bench_context.py $QUICK --out "$R/context.json" --plot "$R/context.png" | tee "$R/context.md"
# written by other work items; run when present (their own flags: see each file's docstring)
if [ -f benchmarks/bench_stem.py ]; then
  if [ -n "$QUICK" ]; then opt benchmarks/bench_stem.py --budget 60 | tee "$R/stem_gue.md"
  else opt benchmarks/bench_stem.py | tee "$R/stem_gue.md"; opt benchmarks/bench_stem.py --long | tee "$R/stem_long.md"; fi
fi
if [ -f benchmarks/load_server.py ]; then
  if [ -n "$QUICK" ]; then opt benchmarks/load_server.py --requests 200 --concurrency 8 | tee "$R/load_server.md"
  else opt benchmarks/load_server.py | tee "$R/load_server.md"; fi
fi
echo "results in $R/"
