#!/usr/bin/env bash
# The GPU check (see bench/gpu_check.py): parity with CPU fp32, the scGPT-size benchmark in
# bf16 with peak memory, TFLOP/s against the GPU's peak. `--dry` exercises it on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the repo itself, installed or not
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
exec timeout 480 "$PY" bench/gpu_check.py "$@"
