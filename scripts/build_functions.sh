#!/usr/bin/env bash
# Builds what infra/terraform deploys from this repository (docs/deploy.md, step 4):
#
#   dist/functions/<name>.zip  for interactions, respond and ingest: the source Cloud Functions builds,
#       main.py           functions/<name>/main.py (the entry point)
#       requirements.txt  functions/<name>/requirements.txt (only what that function imports)
#       docsbot/          the docsbot package, vendored from shared/docsbot (no caches, no demo data)
#       collections.toml  the collections file (DOCSBOT_COLLECTIONS_FILE points here once deployed)
#   dist/scrape_job/   the Docker build context of the scrape job's image: functions/scrape_job/Dockerfile,
#       main.py and cloudbuild.yaml, pyproject.toml, README.md, shared/docsbot/ and collections.toml
#       (`docker build dist/scrape_job` or `gcloud builds submit dist/scrape_job --config ...`)
#   dist/relay/        the same for the optional gateway relay's image (functions/relay/)
#
# Usage: scripts/build_functions.sh [--out DIR] [--collections FILE]
#   --out DIR           where to write (default: dist/ in the repository)
#   --collections FILE  the collections file to ship (default: $DOCSBOT_COLLECTIONS_FILE, else
#                       ./collections.toml; copy collections.example.toml to start one)
#
# The zips are reproducible: the same inputs give byte-identical zips (sorted entries, fixed timestamps), so
# `terraform apply` redeploys a function only when its zip really changed. Needs bash and python3 (3.8+).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/dist"
collections="${DOCSBOT_COLLECTIONS_FILE:-}"
python="${PYTHON:-python3}"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while (($# > 0)); do
  case "$1" in
    --out)
      out="${2:?--out needs a directory}"
      shift 2
      ;;
    --collections)
      collections="${2:?--collections needs a file}"
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "build_functions: unknown argument $1 (see --help)" >&2
      exit 2
      ;;
  esac
done

if [[ -z "$collections" ]]; then
  collections="$repo/collections.toml"
fi
if [[ ! -f "$collections" ]]; then
  echo "build_functions: no collections file at $collections." >&2
  echo "  Copy collections.example.toml to collections.toml and describe your docs, or set DOCSBOT_COLLECTIONS_FILE." >&2
  exit 2
fi
command -v "$python" >/dev/null 2>&1 || {
  echo "build_functions: $python not found (set PYTHON to a Python 3.8+ interpreter)" >&2
  exit 2
}
mkdir -p "$out"

"$python" - "$repo" "$out" "$collections" <<'PYTHON'
import shutil
import sys
import zipfile
from pathlib import Path

repo, out, collections = Path(sys.argv[1]), Path(sys.argv[2]).resolve(), Path(sys.argv[3])
FUNCTIONS = ("interactions", "respond", "ingest")
SKIP_DIRS = {"__pycache__", "demo_data", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can record: same bytes on every build

try:
    import tomllib
except ImportError:  # Python < 3.11: the functions check the file at start-up anyway
    tomllib = None
if tomllib is not None:
    try:
        tomllib.loads(collections.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        sys.exit(f"build_functions: {collections} is not a valid TOML file: {error}")


def package_files() -> list[tuple[str, Path]]:
    """(path in the archive, file) for every file of the docsbot package worth shipping."""
    root = repo / "shared" / "docsbot"
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or SKIP_DIRS.intersection(relative.parts) or path.suffix in SKIP_SUFFIXES:
            continue
        files.append(("docsbot/" + relative.as_posix(), path))
    if not any(name == "docsbot/__init__.py" for name, _ in files):
        sys.exit(f"build_functions: no docsbot package under {root}")
    return files


def write_zip(target: Path, entries: list[tuple[str, Path]]) -> None:
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever machine builds it
            archive.writestr(info, path.read_bytes())
    tmp.replace(target)


package = package_files()
(out / "functions").mkdir(parents=True, exist_ok=True)
for name in FUNCTIONS:
    source = repo / "functions" / name
    for required in ("main.py", "requirements.txt"):
        if not (source / required).is_file():
            sys.exit(f"build_functions: {source / required} is missing")
    entries = [
        ("main.py", source / "main.py"),
        ("requirements.txt", source / "requirements.txt"),
        ("collections.toml", collections),
        *package,
    ]
    target = out / "functions" / f"{name}.zip"
    write_zip(target, entries)
    print(f"built {target} ({target.stat().st_size // 1024} KiB, {len(entries)} files)")

for image in ("scrape_job", "relay"):  # the two Docker images: the scrape job, the optional gateway relay
    context = out / image
    shutil.rmtree(context, ignore_errors=True)
    (context / "shared").mkdir(parents=True)
    for name in ("Dockerfile", "main.py", "cloudbuild.yaml"):
        shutil.copyfile(repo / "functions" / image / name, context / name)
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(repo / name, context / name)
    shutil.copyfile(collections, context / "collections.toml")
    for archive_name, path in package:
        target = context / "shared" / archive_name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    print(f"staged {context} (docker build context of the {image} image)")
PYTHON
