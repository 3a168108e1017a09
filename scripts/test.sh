#!/usr/bin/env bash
# The whole test suite: lint (ruff), format check, types (mypy), tests (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system_deps.sh
# The tests use stand-in models; the reranker's 438 MB model is the demo's (scripts/demo.sh installs it), and
# no test may depend on whether an earlier demo run left it in the venv.
export DOCSBOT_SKIP_RERANK_MODEL=1 DOCSBOT_RERANKER=none
scripts/bootstrap.sh dev,local,relay
export PATH="$PWD/.venv/bin:$PATH"
# Tests never reach the network; keep model and tool loaders from trying.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 SE_OFFLINE=true CHECKPOINT_DISABLE=1
echo "== ruff check";  ruff check .
echo "== ruff format"; ruff format --check .
echo "== mypy";        mypy
echo "== pytest";      pytest "$@"
