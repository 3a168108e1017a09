#!/usr/bin/env bash
# The whole test suite: lint (ruff), format check, types (mypy), tests (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system_deps.sh
scripts/bootstrap.sh dev,local,relay
export PATH="$PWD/.venv/bin:$PATH"
# Tests never reach the network; keep model and tool loaders from trying.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 SE_OFFLINE=true CHECKPOINT_DISABLE=1
echo "== ruff check";  ruff check .
echo "== ruff format"; ruff format --check .
echo "== mypy";        mypy
echo "== pytest";      pytest "$@"
