#!/usr/bin/env bash
# GPU smoke test of the training path (< 5 min on one node): the gpu-marked tests of tests/test_train_scaling.py
#   - bf16 ZeRO-2 train → HF export → fp32 reload: logits match the optimizer's fp32 master weights
#   - 2 NCCL ranks × micro 16 == 1 rank × micro 32 (device-side reductions, exact token mean); skipped on 1 GPU
# plus the CPU-independent scaling tests run on the GPU (zero.Init, grouped batches, loader resume).
#   bash scripts/gpu_smoke.sh [extra pytest args]      # PYTHON=.venv/bin/python by default when present
# Writes the log to ${OUT:-runs/gpu_smoke}/gpu_smoke.log; exits non-zero if a test fails or no CUDA device exists.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
LOGDIR=${OUT:-runs/gpu_smoke}
mkdir -p "$LOGDIR"
LOG="$LOGDIR/gpu_smoke.log"
{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$PY" - <<'PY'
import torch, deepspeed, transformers
print(f"torch {torch.__version__} cuda {torch.version.cuda} devices {torch.cuda.device_count()}; "
      f"deepspeed {deepspeed.__version__}; transformers {transformers.__version__}")
assert torch.cuda.is_available(), "no CUDA device: nothing to smoke-test"
PY
  start=$(date +%s)
  timeout 290 "$PY" -m pytest -x -q -rs -p no:cacheprovider tests/test_train_scaling.py -m "gpu or not slow" "$@"
  echo "gpu_smoke: passed in $(( $(date +%s) - start )) s"
} 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
