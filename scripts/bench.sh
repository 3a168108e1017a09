#!/usr/bin/env bash
# Benchmarks: prints one table per part. Usage: scripts/bench.sh [part ...] (see bench/README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev,local,relay
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m bench "$@"
