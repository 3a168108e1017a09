"""Self-tests of the harness: the Cloud Tasks emulator (as the tests run it) and the functions-framework server.

They pin what the emulator does and does not do (it retries, it does not de-duplicate task names), so that the
tests built on it know what they rely on. Marked `harness`: `pytest -m "not harness"` runs the product's tests only.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from docsbot.bot.tasks import RespondTask
from tests.harness.functions_server import serve_function
from tests.harness.recorder import Recorder
from tests.harness.tasks_emulator import TasksEmulator, tasks_emulator  # noqa: F401 - the session fixture

pytestmark = pytest.mark.harness

ECHO_FUNCTION = Path(__file__).resolve().parent / "fakes" / "echo_function.py"
_ids = itertools.count(1_100_000_000_000_000_000)


def make_task() -> RespondTask:
    return RespondTask(
        interaction_id=str(next(_ids)),
        application_id="42",
        token="interaction-token",
        kind="ask",
        question="How do I configure the thing?",
        user_id="7",
        channel_id="99",
        created_at=1_700_000_000.0,
    )


def test_emulator_retries_a_failing_target(emulator: TasksEmulator) -> None:
    target = Recorder([503, 500, 200])
    try:
        emulator.queue_to(f"{target.url}/respond").enqueue(make_task())
        deliveries = target.wait_for(3)
        time.sleep(0.3)  # a fourth delivery would come about 0.1 s after the third
        assert [d.headers["x-cloudtasks-taskretrycount"] for d in target.deliveries] == ["0", "1", "2"]
        assert len({d.body for d in deliveries}) == 1
    finally:
        target.close()


def test_emulator_does_not_deduplicate_task_names(emulator: TasksEmulator, recorder: Recorder) -> None:
    # The real service refuses the second create with ALREADY_EXISTS, which `enqueue` turns into False
    # (test_cloud_tasks_already_exists_means_false). The emulator accepts it and delivers twice: True twice is
    # expected here, and the respond handler's own idempotency is what protects the user.
    queue = emulator.queue_to(f"{recorder.url}/respond")
    task = make_task()
    assert queue.enqueue(task) is True
    assert queue.enqueue(task) is True
    deliveries = recorder.wait_for(2)
    assert [d.headers["x-cloudtasks-taskname"] for d in deliveries] == [task.task_name()] * 2


# --- functions-framework ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echo_records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("echo-records")


@pytest.fixture(scope="module")
def echo_url(echo_records: Path) -> Iterator[str]:
    with serve_function(ECHO_FUNCTION, "echo", {"ECHO_GREETING": "hello", "ECHO_RECORD_DIR": str(echo_records)}) as url:
        yield url


def test_serve_function_answers(echo_url: str) -> None:
    assert echo_url.startswith("http://127.0.0.1:")
    answer = requests.get(f"{echo_url}/anything?x=1", timeout=5)
    assert answer.status_code == 200
    assert answer.json()["greeting"] == "hello"
    assert answer.json()["path"] == "/anything?x=1"
    task = make_task()
    posted = requests.post(echo_url, data=task.to_json(), headers={"X-Echo-Status": "503"}, timeout=5)
    assert posted.status_code == 503
    assert posted.json()["interaction_id"] == task.interaction_id  # docsbot imports in the function's process


def test_serve_function_fails_with_the_server_output() -> None:
    with (
        pytest.raises(RuntimeError, match="no_such_function") as error,
        serve_function(ECHO_FUNCTION, "no_such_function", {}),
    ):
        pass
    # Noticed when the server exited, not when the start timeout ran out (that would say "timed out").
    assert "exited with code" in str(error.value) and "timed out" not in str(error.value)


def test_serve_function_stops_the_server() -> None:
    with serve_function(ECHO_FUNCTION, "echo", {}) as url:
        assert requests.get(url, timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_emulator_delivers_to_the_function(emulator: TasksEmulator, echo_url: str, echo_records: Path) -> None:
    for old in echo_records.glob("*.json"):
        old.unlink()
    task = make_task()
    assert emulator.queue_to(f"{echo_url}/respond").enqueue(task) is True
    deadline = time.monotonic() + 10
    records: list[Path] = []
    while not records and time.monotonic() < deadline:
        records = sorted(echo_records.glob("*.json"))
        time.sleep(0.02)
    assert records, "the emulator did not deliver the task to the function"
    entry = json.loads(records[0].read_text())
    assert entry["method"] == "POST" and entry["path"] == "/respond"
    assert entry["interaction_id"] == task.interaction_id
    assert entry["content_type"] == "application/json"
    assert entry["headers"]["x-cloudtasks-taskname"] == task.task_name()
