"""A real Cloud Tasks emulator for tests: gcloud-tasks-emulator 0.6.2 on 127.0.0.1, reached by the real client.

The emulator pins protobuf<5 and google-cloud-tasks 2.23, which clash with the app's stack, so it lives in
its own venv, created once per machine under
`${DOCSBOT_TEST_CACHE:-~/.cache/docsbot-tests}/tasks-emulator-venv/` (keyed by emulator and Python version,
guarded by a file lock; pip uses the machine's configuration, find-links and mirrors included). It runs
tests/harness/fakes/tasks_emulator_server.py, which binds loopback only.

What the emulator does not do, so tests must not rely on it (the real service does all of these):
- no de-duplication: a second task with a used name is accepted and dispatched again;
- no OIDC: `oidc_token` is accepted and no Authorization header is sent;
- retries about 0.1 s apart with no backoff, ignoring the queue's retry config (`max_retries` here instead);
- `X-CloudTasks-QueueName` is the full queue path (the real service sends the short id);
- no get_task / delete_task; one queue dispatches one task at a time with no HTTP timeout, so a target
  that hangs blocks the queue.

Test modules use the session fixture with `from tests.harness.tasks_emulator import tasks_emulator  # noqa: F401`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from google.cloud import tasks_v2

from docsbot.bot.queue import CloudTasksQueue, TasksClient, emulator_client
from tests.support import cache_dir, cache_lock, stop_group

EMULATOR_VERSION = "0.6.2"
QUEUE_PATH = "projects/docsbot-test/locations/us-central1/queues/respond"
MAX_RETRIES = 3  # attempts = 1 + MAX_RETRIES; the emulator's default (-1) retries forever
INSTALL_TIMEOUT_S = 600
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
SERVER_SCRIPT = Path(__file__).resolve().parent / "fakes" / "tasks_emulator_server.py"
_DONE = ".complete"


def cache_root() -> Path:
    return cache_dir("tasks-emulator-venv")


def _venv_dir() -> Path:
    python = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return cache_root() / f"gcloud-tasks-emulator-{EMULATOR_VERSION}-{python}"


def _run(command: list[str], timeout_s: float) -> None:
    # The app's own paths must not leak into the emulator's interpreter.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"`{' '.join(command)}` took more than {timeout_s:.0f} s") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise RuntimeError(f"`{' '.join(command)}` failed with exit code {result.returncode}:\n{output}")


def emulator_python() -> Path:
    """The emulator venv's interpreter, creating the venv the first time (about 7 s with a warm pip cache)."""
    venv = _venv_dir()
    python = venv / "bin" / "python"
    if (venv / _DONE).is_file():
        return python
    with cache_lock(cache_root()):
        if (venv / _DONE).is_file():  # another process built it while this one waited
            return python
        shutil.rmtree(venv, ignore_errors=True)
        try:
            _run([sys.executable, "-m", "venv", str(venv)], 120)
            pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet"]
            _run([*pip, f"gcloud-tasks-emulator=={EMULATOR_VERSION}"], INSTALL_TIMEOUT_S)
            _run([str(python), "-c", "import gcloud_tasks_emulator.server"], 60)
        except RuntimeError as error:
            shutil.rmtree(venv, ignore_errors=True)
            raise RuntimeError(
                f"Could not install gcloud-tasks-emulator=={EMULATOR_VERSION} into {venv}: it comes from the "
                f"Python package registry (or the mirror pip is configured with). {error}"
            ) from None
        (venv / _DONE).write_text(EMULATOR_VERSION)
    return python


def _log_tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def _wait_for_port(process: subprocess.Popen[bytes], port_file: Path, log_path: Path, deadline: float) -> int:
    while time.monotonic() < deadline:
        if port_file.is_file():
            return int(port_file.read_text())
        if process.poll() is not None:
            raise RuntimeError(
                f"the Cloud Tasks emulator exited with code {process.returncode} at start:\n{_log_tail(log_path)}"
            )
        time.sleep(0.02)
    raise RuntimeError(f"the Cloud Tasks emulator did not start within {START_TIMEOUT_S} s:\n{_log_tail(log_path)}")


@contextmanager
def run_emulator(queues: list[str], max_retries: int = MAX_RETRIES) -> Iterator[tuple[str, Path]]:
    """Start the emulator with `queues` created; yields ("127.0.0.1:PORT", log file). Stops its process group."""
    python = emulator_python()
    work = Path(tempfile.mkdtemp(prefix="docsbot-tasks-emulator-"))
    port_file = work / "port"
    log_path = work / "emulator.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(work)),
        "TASKS_EMULATOR_PORT": "0",
        "TASKS_EMULATOR_PORT_FILE": str(port_file),
        "TASKS_EMULATOR_QUEUES": ",".join(queues),
        "TASKS_EMULATOR_MAX_RETRIES": str(max_retries),
    }
    try:
        # Output goes to a file, not a pipe: nobody reads a pipe during the session, and a full one blocks.
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [str(python), "-I", "-u", str(SERVER_SCRIPT)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: killed as a whole at the end
            )
        try:
            port = _wait_for_port(process, port_file, log_path, time.monotonic() + START_TIMEOUT_S)
            yield f"127.0.0.1:{port}", log_path
        finally:
            stop_group(process, STOP_TIMEOUT_S)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def wait_until_serving(client: tasks_v2.CloudTasksClient, queue_path: str, log_path: Path, timeout_s: float) -> None:
    """Bounded wait until the emulator answers `get_queue` for `queue_path`."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            client.get_queue(name=queue_path, timeout=1.0)
            return
        except Exception as error:  # not serving yet: UNAVAILABLE, deadline exceeded...
            last_error = error
            time.sleep(0.05)
    raise RuntimeError(f"the Cloud Tasks emulator did not answer ({last_error!r}):\n{_log_tail(log_path)}")


@dataclass(frozen=True)
class TasksEmulator:
    """A running emulator: `client` is the app venv's real CloudTasksClient over an insecure channel."""

    host_port: str
    queue_path: str
    client: tasks_v2.CloudTasksClient
    max_retries: int
    log_path: Path

    def queue_to(self, url: str) -> CloudTasksQueue:
        """Our `CloudTasksQueue` on this emulator's queue, targeting `url`."""
        return CloudTasksQueue(
            self.queue_path,
            url,
            service_account_email="sa@p.iam.gserviceaccount.com",
            client=cast(TasksClient, self.client),
        )


@pytest.fixture(scope="session")
def tasks_emulator() -> Iterator[TasksEmulator]:
    """The Cloud Tasks emulator with the queue QUEUE_PATH (MAX_RETRIES retries), for the whole session."""
    with run_emulator([QUEUE_PATH], MAX_RETRIES) as (host_port, log_path):
        client = emulator_client(host_port)
        with client:  # closes its gRPC channel at exit
            wait_until_serving(client, QUEUE_PATH, log_path, START_TIMEOUT_S)
            yield TasksEmulator(host_port, QUEUE_PATH, client, MAX_RETRIES, log_path)


@pytest.fixture
def emulator(tasks_emulator: TasksEmulator) -> TasksEmulator:
    """The session's emulator with its queue emptied: leftovers of another test must not reach this one."""
    tasks_emulator.client.purge_queue(name=tasks_emulator.queue_path, timeout=5)
    return tasks_emulator
