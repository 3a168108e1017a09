#!/usr/bin/env bash
# The main job on the embedded default: no cloud account, no API key, no network.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh local
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/docsbot demo "$@"
