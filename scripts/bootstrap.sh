#!/usr/bin/env bash
# Creates .venv and installs docsbot with the extras it is given (default: local).
# Safe to run again: it reinstalls only when pyproject.toml or this script changed.
#   scripts/bootstrap.sh            -> .[local]        (the demo)
#   scripts/bootstrap.sh dev,local,relay -> .[dev,local,relay] (the tests and benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-local}"
venv=".venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "bootstrap: creating $venv"
  "$python" -m venv "$venv"
fi

stamp="$venv/.docsbot-installed-$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)-${extras//,/_}"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing docsbot[$extras] (first run takes a minute or two)"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  if [[ ",$extras," == *",local,"* ]]; then
    # torch first and pinned: the CPU build; an unpinned torch pulled in by
    # sentence-transformers would be a multi-GB CUDA build.
    "$venv/bin/python" -m pip install --quiet "torch==2.13.0"
  fi
  "$venv/bin/python" -m pip install --quiet -e ".[$extras]"
  rm -f "$venv"/.docsbot-installed-*
  touch "$stamp"
fi
