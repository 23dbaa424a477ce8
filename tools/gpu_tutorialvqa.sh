#!/bin/bash
# The GPU job of issue 22, item 6 (tools/gpu_tutorialvqa.py), as the device session runs it:
#   bash tools/gpu_tutorialvqa.sh .carry "$OUT" [options of tools/gpu_tutorialvqa.py]
# (the whole `run` call, carry list and timeout: docs/status.md, GPU item). It installs the carried wheels
# (tools/gpu_carry.py) for the device's Python 3.12, then runs the job with the repository first on the path;
# the whole log goes to OUT/log.txt as well. Under another Python (the CPU rehearsal, docs/ccgs.md "GPU job")
# the wheels are installed as a check only and that interpreter's own packages are used: PYTHON=... picks it.
set -uo pipefail
started=$(date +%s.%N)
if [ $# -lt 2 ]; then echo "usage: $0 CARRY OUT [job options]" >&2; exit 2; fi
carry=$(cd "$1" && pwd) || exit 2
out=$2
shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
site=${SITE:-/tmp/gpu-tutorialvqa-site}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
{
  echo "job started $(date -u) on $(hostname); $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
  rm -rf "$site"
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
    --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    "$carry"/whl/*.whl || { echo "installing the carried wheels failed"; exit 3; }
  if "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then
    export PYTHONPATH="$repo:$site"
  else
    echo "$("$python" -V) is not the device's 3.12: wheels installed as a check only, this interpreter's packages used"
    export PYTHONPATH="$repo"
  fi
  cd "$repo" && "$python" tools/gpu_tutorialvqa.py --carry "$carry" --out "$out" --started "$started" "$@"
} 2>&1 | tee "$out/log.txt"
exit "${PIPESTATUS[0]}"
