"""Google's Cloud Firestore emulator for tests (the one the gcloud SDK ships; it needs Java).

`firestore_emulator` (session) starts it on a free 127.0.0.1 port and yields "host:port";
`firestore_client` (session) yields a `google.cloud.firestore.Client(project="docsbot-test")` talking to it,
with FIRESTORE_EMULATOR_HOST set for the session. Import both names into a test module to use them. Tests
isolate themselves with a collection-name prefix rather than by wiping the database.

The JVM runs directly (not through the SDK's wrapper script) in its own process group, which is killed at
the end of the session. A missing java or emulator jar fails the tests that need it, with the reason: it is
never a silent skip. FIRESTORE_EMULATOR_JAR may point at the jar when the SDK lives somewhere unusual.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import firestore

from tests.support import free_port

PROJECT = "docsbot-test"
MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
JAR_IN_SDK = Path("platform/cloud-firestore-emulator/cloud-firestore-emulator.jar")
SDK_ROOTS = (Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk"), Path.home() / "google-cloud-sdk")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def find_emulator_jar() -> Path | None:
    """The emulator jar: $FIRESTORE_EMULATOR_JAR, else inside the gcloud SDK on PATH, else a usual SDK place."""
    override = os.environ.get("FIRESTORE_EMULATOR_JAR")
    if override:
        return Path(override) if Path(override).is_file() else None
    roots = list(SDK_ROOTS)
    gcloud = shutil.which("gcloud")
    if gcloud:
        roots.insert(0, Path(gcloud).resolve().parent.parent)  # <sdk>/bin/gcloud
    for root in roots:
        if (root / JAR_IN_SDK).is_file():
            return root / JAR_IN_SDK
    return None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 - a fixed loopback http URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class FirestoreEmulator:
    """One emulator process on 127.0.0.1; `start()` returns once it answers, `stop()` kills its process group."""

    def __init__(self, jar: Path, java: str, log_path: Path) -> None:
        self.jar = jar
        self.java = java
        self.log_path = log_path
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0

    def start(self) -> None:
        command = [
            self.java,
            "-Duser.language=en",
            "-cp",
            str(self.jar),
            MAIN_CLASS,
            "start",
            "--host=127.0.0.1",
            f"--port={self.port}",
        ]
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            # start_new_session: its own process group, so stop() can kill the JVM and anything it spawned.
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = started + START_TIMEOUT_S
        while not _answers(f"http://{self.host}/"):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the Firestore emulator exited with {self.process.returncode}:\n{_log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the Firestore emulator did not answer within {START_TIMEOUT_S:.0f} s:\n{_log_tail(self.log_path)}"
                )
            time.sleep(0.05)
        self.start_seconds = time.monotonic() - started

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        pgid = process.pid  # the group leader: start_new_session made the JVM its own group
        try:
            os.killpg(pgid, signal.SIGTERM)
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
        except ProcessLookupError:
            pass  # already gone
        # Anything the JVM started and left behind in the group goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running emulator's "host:port" (127.0.0.1), with FIRESTORE_EMULATOR_HOST pointing at it."""
    java = shutil.which("java")
    if java is None:
        pytest.fail("the Firestore contract tests need Java (java is not on PATH) to run Google's Firestore emulator")
    jar = find_emulator_jar()
    if jar is None:
        pytest.fail(
            "the Firestore contract tests need Google's Firestore emulator: no cloud-firestore-emulator.jar under the "
            "gcloud SDK (install google-cloud-cli-firestore-emulator, or set FIRESTORE_EMULATOR_JAR to the jar)"
        )
    emulator = FirestoreEmulator(jar, java, tmp_path_factory.mktemp("firestore-emulator") / "emulator.log")
    try:
        emulator.start()
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("FIRESTORE_EMULATOR_HOST", emulator.host)
            yield emulator.host
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def firestore_client(firestore_emulator: str) -> Iterator[firestore.Client]:
    """A Firestore client for project "docsbot-test" on the session's emulator (no credentials needed)."""
    client = firestore.Client(project=PROJECT)
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]
