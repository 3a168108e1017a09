"""The build step: scripts/build_functions.sh's zips (one per function, reproducible) and the scrape image's
context; each zip, alone in a fresh venv holding only its requirements, serves a request under
functions-framework. The scrape job's Dockerfile is checked too (checkov, and by reading it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from nacl.signing import SigningKey

from tests.infra import tools
from tests.infra.tools import REPO

# What each function must NOT depend on (DESIGN.md §4: interactions imports nothing heavy).
FORBIDDEN_REQUIREMENTS = {
    "interactions": {"openai", "qdrant-client", "qdrant-edge-py", "beautifulsoup4", "selenium", "tiktoken"},
    "respond": {"beautifulsoup4", "selenium", "markdownify", "typer", "rich", "sentence-transformers"},
    "ingest": {"selenium", "typer", "rich", "google-cloud-tasks", "discord-interactions"},
}
FUNCTIONS = ("interactions", "respond", "ingest")


# --- the scrape job's image -----------------------------------------------------------------------------------


def test_checkov_passes_the_scrape_dockerfile() -> None:
    report = tools.checkov(REPO / "functions" / "scrape_job", framework="dockerfile")
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0
    failed = [f"{c['check_id']}: {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert not failed, failed


def test_the_scrape_dockerfile_has_chromium_and_drops_root() -> None:
    text = (REPO / "functions" / "scrape_job" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.MULTILINE)
    assert "chromium chromium-driver" in text
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"pip install [^\n]*\.\s", text) and "[local]" not in text
    assert re.search(r'ENTRYPOINT \["python", "/app/main.py"\]', text)
    assert re.search(r"^COPY main.py collections.toml /app/", text, re.MULTILINE)


# --- the build step: function zips ----------------------------------------------------------------------------

TEST_COLLECTIONS = """\
[[collection]]
name = "mydocs"
title = "My product"
description = "Docs of my product."

[[collection.source]]
kind = "docusaurus"
name = "site"
url = "https://docs.example.com/docs/intro"
"""


@dataclass
class Build:
    clone: Path
    out: Path
    collections: Path


def clean_clone(target: Path) -> Path:
    """The repository as a fresh clone would have it: tracked and new files, nothing ignored (.venv, dist...)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        relative = raw.decode()
        source = REPO / relative
        if source.is_file():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    root = tmp_path_factory.mktemp("build")
    clone = clean_clone(root / "clone")
    collections = root / "collections.toml"
    collections.write_text(TEST_COLLECTIONS)
    out = root / "dist"
    env = {**os.environ, "DOCSBOT_COLLECTIONS_FILE": str(collections)}
    result = subprocess.run(
        ["bash", "scripts/build_functions.sh", "--out", str(out)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return Build(clone=clone, out=out, collections=collections)


def test_the_build_makes_one_zip_per_function_with_the_package_vendored(build: Build) -> None:
    for name in FUNCTIONS:
        with zipfile.ZipFile(build.out / "functions" / f"{name}.zip") as archive:
            names = set(archive.namelist())
            assert archive.read("main.py") == (REPO / "functions" / name / "main.py").read_bytes()
            assert archive.read("requirements.txt") == (REPO / "functions" / name / "requirements.txt").read_bytes()
            assert archive.read("collections.toml") == build.collections.read_bytes()
            assert {"docsbot/__init__.py", "docsbot/py.typed", "docsbot/settings/bot.py"} <= names
            assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/demo_data/" in n]
            shipped = {n for n in names if n.startswith("docsbot/") and n.endswith(".py")}
            package = {
                "docsbot/" + p.relative_to(REPO / "shared" / "docsbot").as_posix()
                for p in (REPO / "shared" / "docsbot").rglob("*.py")
                if "__pycache__" not in p.parts and "demo_data" not in p.parts
            }
            assert shipped == package


def test_the_build_is_reproducible(build: Build, tmp_path: Path) -> None:
    env = {**os.environ, "DOCSBOT_COLLECTIONS_FILE": str(build.collections)}
    subprocess.run(
        ["bash", "scripts/build_functions.sh", "--out", str(tmp_path)],
        cwd=build.clone,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in FUNCTIONS:
        first = (build.out / "functions" / f"{name}.zip").read_bytes()
        assert (tmp_path / "functions" / f"{name}.zip").read_bytes() == first, f"{name}.zip differs between builds"


def test_the_build_refuses_to_run_without_a_collections_file(build: Build, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DOCSBOT_COLLECTIONS_FILE"}
    result = subprocess.run(
        ["bash", "scripts/build_functions.sh", "--out", str(tmp_path)],
        cwd=build.clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "collections.example.toml" in result.stderr


def test_the_build_stages_the_scrape_image_context(build: Build) -> None:
    context = build.out / "scrape_job"
    for name in ("Dockerfile", "main.py", "cloudbuild.yaml"):
        assert (context / name).read_bytes() == (REPO / "functions" / "scrape_job" / name).read_bytes()
    assert (context / "pyproject.toml").is_file() and (context / "README.md").is_file()
    assert (context / "shared" / "docsbot" / "__init__.py").is_file()
    assert (context / "collections.toml").read_bytes() == build.collections.read_bytes()
    for line in re.findall(r"^COPY (.+)$", (context / "Dockerfile").read_text(), re.MULTILINE):
        for source in line.split()[:-1]:  # the last word is the destination
            assert (context / source).exists(), f"the Dockerfile copies {source}, which the context lacks"
    cloudbuild = yaml.safe_load((context / "cloudbuild.yaml").read_text())
    assert cloudbuild["images"] == ["$_IMAGE"] and cloudbuild["options"]["logging"] == "CLOUD_LOGGING_ONLY"


def test_the_build_script_passes_shellcheck() -> None:
    result = subprocess.run(
        [str(tools.shellcheck()), "--severity=style", str(REPO / "scripts" / "build_functions.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$", requirement)
    assert match, requirement
    return _canonical(match.group(1)), match.group(2).replace(" ", "")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_requirements_hold_only_what_the_function_needs(name: str) -> None:
    lines = tools.requirement_lines(REPO / "functions" / name / "requirements.txt")
    declared = dict(_split(line) for line in lines)
    assert "functions-framework" in declared
    assert not set(declared) & FORBIDDEN_REQUIREMENTS[name], set(declared) & FORBIDDEN_REQUIREMENTS[name]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = dict(_split(dep) for dep in pyproject["project"]["dependencies"])
    from importlib import metadata

    for package, spec in declared.items():
        if package in project:
            assert spec == project[package], f"{package}{spec} disagrees with pyproject.toml's {project[package]}"
        else:  # a dependency of the project's dependencies, pinned loosely around what the project resolves to
            installed = metadata.version(package)
            assert spec, f"{package} needs a version range"
            from packaging.specifiers import SpecifierSet

            assert installed in SpecifierSet(spec), f"{package}{spec} excludes the tested {installed}"


# --- each zip, alone in a fresh venv, serves a request under functions-framework ------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    venv: Path
    source: Path
    log_file: Path

    def log(self) -> str:
        """The server's output (for assertion messages)."""
        return self.log_file.read_text(errors="replace")[-4000:]


@pytest.fixture
def serve(build: Build, tmp_path: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, env: dict[str, str]) -> Served:
        venv = tools.venv(f"fn-{name}", tools.requirement_lines(REPO / "functions" / name / "requirements.txt"))
        source = tmp_path / name
        with zipfile.ZipFile(build.out / "functions" / f"{name}.zip") as archive:
            archive.extractall(source)
        port = _free_port()
        log = (tmp_path / f"{name}.log").open("wb")
        base_env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken"),
        }
        process = subprocess.Popen(
            [
                str(venv / "bin" / "functions-framework"),
                "--target",
                name,
                "--source",
                str(source / "main.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=source,
            env={**base_env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return Served(f"http://127.0.0.1:{port}/", venv, source, tmp_path / f"{name}.log")
            time.sleep(0.1)
        log.close()
        pytest.fail(f"{name} did not start:\n{(tmp_path / f'{name}.log').read_text()[-4000:]}")

    yield start
    for process in processes:  # gunicorn: the master and its worker share the session we started
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _importable(venv: Path, source: Path, modules: list[str]) -> dict[str, bool]:
    code = (
        "import importlib.util, json, sys\n"
        "def found(name):\n"
        "    try:\n"
        "        return importlib.util.find_spec(name) is not None\n"
        "    except ModuleNotFoundError:\n"
        "        return False\n"
        "print(json.dumps({m: found(m) for m in sys.argv[1:]}))"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *modules],
        cwd=source,
        env={"PATH": "/usr/bin:/bin", "HOME": str(source)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found: dict[str, bool] = json.loads(result.stdout)
    return found


BOT_ENV = {
    "DISCORD_APPLICATION_ID": "123456789012345678",
    "DOCSBOT_STATE": "firestore",
    "GOOGLE_CLOUD_PROJECT": "demo-docsbot",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",  # never contacted by these requests; no credentials needed
}


def test_the_interactions_zip_serves_discord_with_only_its_requirements(serve: Any) -> None:
    key = SigningKey.generate()
    served: Served = serve(
        "interactions",
        {
            **BOT_ENV,
            "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
            "DOCSBOT_QUEUE": "cloudtasks",
            "DOCSBOT_TASKS_QUEUE": "projects/demo-docsbot/locations/us-central1/queues/respond",
            "DOCSBOT_RESPOND_URL": "https://respond.invalid/",
            "DOCSBOT_TASKS_SERVICE_ACCOUNT": "tasks@demo-docsbot.iam.gserviceaccount.com",
            "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9",
        },
    )
    body = json.dumps({"type": 1, "id": "1", "application_id": "123456789012345678", "token": "t"}).encode()
    timestamp = str(int(time.time()))
    signature = key.sign(timestamp.encode() + body).signature.hex()
    headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp, "Content-Type": "application/json"}
    pong = requests.post(served.url, data=body, headers=headers, timeout=30)
    assert pong.status_code == 200, pong.text + served.log()
    assert pong.json()["type"] == 1
    forged = requests.post(served.url, data=body.replace(b'"t"', b'"u"'), headers=headers, timeout=30)
    assert forged.status_code == 401
    # Nothing heavy is even installed: the zip's requirements are enough, and nothing more came along.
    found = _importable(served.venv, served.source, ["openai", "qdrant_client", "bs4", "selenium", "tiktoken"])
    assert not any(found.values()), found


def test_the_respond_zip_serves_cloud_tasks_with_only_its_requirements(serve: Any) -> None:
    key = SigningKey.generate()
    served: Served = serve(
        "respond",
        {
            **BOT_ENV,
            "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
            "DISCORD_BOT_TOKEN": "bot-token",
            "QDRANT_URL": "https://127.0.0.1:9",
            "QDRANT_API_KEY": "read-only-key",
            "OPENAI_API_KEY": "sk-test",
            "DOCSBOT_EMBEDDER": "openai",
            "DOCSBOT_CHAT_MODEL": "gpt-4.1-mini",
            "DOCSBOT_COLLECTIONS_FILE": "collections.toml",
            "DOCSBOT_RESPOND_MAX_ATTEMPTS": "9",
        },
    )
    assert requests.get(served.url, timeout=30).status_code == 405
    assert requests.post(served.url, data=b"{}", timeout=30).status_code == 403  # not from Cloud Tasks
    # A task it can never answer: the whole handler (index, answerer, Discord client, Firestore) is built,
    # which imports every module respond needs, then the task is dropped as malformed.
    dropped = requests.post(served.url, data=b"not a task", headers={"X-CloudTasks-QueueName": "respond"}, timeout=60)
    assert dropped.status_code == 200, dropped.text + served.log()
    assert dropped.json()["outcome"] == "bad_task"
    found = _importable(served.venv, served.source, ["bs4", "selenium", "typer"])
    assert not any(found.values()), found


def test_the_ingest_zip_serves_with_only_its_requirements(serve: Any) -> None:
    served: Served = serve(
        "ingest",
        {
            "QDRANT_URL": "https://127.0.0.1:9",
            "QDRANT_API_KEY": "read-write-key",
            "OPENAI_API_KEY": "sk-test",
            "DOCSBOT_COLLECTIONS_FILE": "collections.toml",
            "DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS": "ci@demo-docsbot.iam.gserviceaccount.com",
            "DOCSBOT_INGEST_AUDIENCE": "https://us-central1-demo-docsbot.cloudfunctions.net/docsbot-ingest",
            "GOOGLE_CLOUD_PROJECT": "demo-docsbot",
        },
    )
    # Without a caller's ID token the request is refused (401/403), or answered 501 while ingest is a
    # placeholder: either way the entry point imported and answered, it did not crash (500).
    answer = requests.post(served.url, json={"documents": []}, timeout=60)
    assert answer.status_code in (401, 403, 501), answer.text + served.log()
    found = _importable(served.venv, served.source, ["selenium", "typer", "google.cloud.tasks_v2"])
    assert not any(found.values()), found
