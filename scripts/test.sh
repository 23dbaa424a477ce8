#!/usr/bin/env bash
# Install the suite with its test extras into .venv and run the test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
# torch==2.13.0 is the CPU build on this machine's disk; drop the pin on a GPU machine to keep your own torch.
pip install --quiet torch==2.13.0 -e '.[dev]'
pytest "$@"
