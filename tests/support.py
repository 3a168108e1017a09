"""Helpers the test fixtures share: the build cache, its lock, free ports, stopping process groups."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


def cache_dir(name: str) -> Path:
    """`${DOCSBOT_TEST_CACHE:-~/.cache/docsbot-tests}/<name>`: builds and venvs kept between test runs."""
    base = os.environ.get("DOCSBOT_TEST_CACHE") or str(Path.home() / ".cache" / "docsbot-tests")
    return Path(base).expanduser() / name


@contextmanager
def cache_lock(root: Path) -> Iterator[None]:
    """Exclusive use of `root`: two pytest processes must not install or build into it at once."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop_group(process: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL, the process group `process` leads (started with `start_new_session=True`)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=timeout_s)
            break
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone while a child lingers: make sure nothing of the group survives.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:  # reap it so no zombie stays
        process.wait(timeout=timeout_s)
