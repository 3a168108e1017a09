"""Serve a Cloud Function for end-to-end tests with the real functions-framework, on 127.0.0.1.

`serve_function(source, target, env)` runs `functions-framework --source <file> --target <name> --host
127.0.0.1 --port <free port>` from this interpreter's venv, in its own process group (without `--debug` it
is gunicorn: a master and a worker), with only `env` plus PATH, HOME and a PYTHONPATH that makes `docsbot`
and `tests` importable: the test runner's environment does not leak in. Yields the base URL once the
function answers HTTP, and kills the whole group at exit.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support import free_port, stop_group

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
_ATTEMPTS = 3  # a free port can be taken by someone else between choosing it and binding it


def functions_framework_command() -> Path:
    """The `functions-framework` script beside this interpreter (the app's venv)."""
    command = Path(sys.executable).parent / "functions-framework"
    if not command.is_file():
        raise RuntimeError(f"{command} not found: install the project (pip install -e .) into this venv")
    return command


def _answers_http(port: int) -> bool:
    # Any HTTP status counts: functions-framework imports the function before it binds, so an answer means
    # the code loaded.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


def _wait_until_answers(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> str:
    """How the start ended: "answered", "exited" (stopped before answering: no need to wait out the deadline)
    or "timed out"."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return "exited"
        if _answers_http(port):
            return "answered"
        time.sleep(0.05)
    return "timed out"


def _child_env(env: Mapping[str, str]) -> dict[str, str]:
    paths = [str(REPO_ROOT / "shared"), str(REPO_ROOT)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONUNBUFFERED": "1",
    }
    return {**base, **env, "PYTHONPATH": os.pathsep.join(paths)}


@contextmanager
def serve_function(
    source: Path, target: str, env: Mapping[str, str], *, timeout_s: float = START_TIMEOUT_S
) -> Iterator[str]:
    """Serve `target` from `source`; yields `http://127.0.0.1:<port>`. Fails with the server's output if it
    does not answer within `timeout_s`."""
    command = functions_framework_command()
    work = Path(tempfile.mkdtemp(prefix="docsbot-function-"))
    try:
        for attempt in range(_ATTEMPTS):
            port = free_port()
            log_path = work / f"attempt-{attempt}.log"
            # Output goes to a file, not a pipe: a pipe nobody reads blocks the server once it is full.
            with log_path.open("wb") as log_file:
                arguments = ["--source", str(source.resolve()), "--target", target, "--host", "127.0.0.1"]
                process = subprocess.Popen(
                    [str(command), *arguments, "--port", str(port)],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=_child_env(env),
                    cwd=work,
                    start_new_session=True,
                )
            try:
                waited = _wait_until_answers(process, port, timeout_s)
                if waited != "answered":
                    output = log_path.read_text(errors="replace")[-4000:]
                    if waited == "exited" and "in use" in output and attempt + 1 < _ATTEMPTS:
                        continue  # lost the port race: try another port
                    state = f"exited with code {process.returncode}" if waited == "exited" else "timed out"
                    raise RuntimeError(f"functions-framework for {target} ({source}) {state}:\n{output}")
                yield f"http://127.0.0.1:{port}"
                return
            finally:
                stop_group(process, STOP_TIMEOUT_S)
    finally:
        shutil.rmtree(work, ignore_errors=True)
