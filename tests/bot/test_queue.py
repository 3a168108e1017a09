"""The queue adapters: InProcessQueue, CloudTasksQueue (unit, and against the Cloud Tasks emulator), and the
functions-framework test server."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists, ServiceUnavailable
from google.cloud import tasks_v2

from docsbot.bot.queue import (
    MAX_TASK_ID,
    CloudTasksQueue,
    InProcessQueue,
    make_cloud_tasks_queue,
    task_id,
)
from docsbot.bot.tasks import RespondTask
from tests.harness.recorder import Recorder
from tests.harness.tasks_emulator import TasksEmulator, tasks_emulator  # noqa: F401 - the session fixture

REPO_ROOT = Path(__file__).resolve().parents[2]
ECHO_FUNCTION = REPO_ROOT / "tests" / "harness" / "fakes" / "echo_function.py"
QUEUE = "projects/p/locations/us-central1/queues/respond"
TARGET = "https://respond.example.test/respond"
SECRET = "interaction-token-do-not-log"
_ids = iter(range(10_000_000, 20_000_000))


def make_task(interaction_id: str | None = None, **changes: Any) -> RespondTask:
    fields: dict[str, Any] = {
        "interaction_id": interaction_id or str(next(_ids)),
        "application_id": "42",
        "token": SECRET,
        "kind": "ask",
        "question": "How do I configure the thing?",
        "user_id": "7",
        "channel_id": "99",
        "created_at": 1_700_000_000.0,
        "member_roles": ("1", "2"),
    }
    fields.update(changes)
    return RespondTask(**fields)


# --- InProcessQueue ---------------------------------------------------------------------------------------


@dataclass
class Calls:
    """A handler that records its calls and answers from a script (the last answer repeats)."""

    answers: list[int | Exception] = field(default_factory=lambda: [200])
    calls: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: bytes, headers: Mapping[str, str]) -> int:
        with self.lock:
            answer = self.answers[min(len(self.calls), len(self.answers) - 1)]
            self.calls.append((body, dict(headers)))
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_in_process_runs_tasks_with_cloud_tasks_headers() -> None:
    handler = Calls()
    tasks = [make_task() for _ in range(3)]
    with InProcessQueue(handler, workers=2) as queue:
        assert all(queue.enqueue(task) for task in tasks)
        assert queue.drain(5)
    assert sorted(RespondTask.from_json(body).interaction_id for body, _ in handler.calls) == sorted(
        t.interaction_id for t in tasks
    )
    by_name = {headers["X-CloudTasks-TaskName"]: headers for _, headers in handler.calls}
    headers = by_name[tasks[0].task_name()]
    assert headers["X-CloudTasks-QueueName"] == "inprocess"
    assert headers["X-CloudTasks-TaskRetryCount"] == "0"
    assert headers["Content-Type"] == "application/json"
    assert float(headers["X-CloudTasks-TaskETA"]) > 0


def test_in_process_refuses_duplicate_names() -> None:
    handler = Calls()
    task = make_task()
    with InProcessQueue(handler) as queue:
        assert queue.enqueue(task) is True
        assert queue.enqueue(task) is False
        assert queue.enqueue(make_task(task.interaction_id, question="other text, same interaction")) is False
        assert queue.drain(5)
    assert len(handler.calls) == 1


def test_in_process_forgets_names_after_the_dedup_window() -> None:
    handler = Calls()
    task = make_task()
    now = [1000.0]
    with InProcessQueue(handler, dedup_window_s=60, clock=lambda: now[0]) as queue:
        assert queue.enqueue(task)
        assert queue.drain(5)
        now[0] += 59
        assert queue.enqueue(task) is False  # still within the window
        now[0] += 2
        assert queue.enqueue(task)
        assert queue.drain(5)
    assert len(handler.calls) == 2


def test_in_process_retries_a_5xx_then_succeeds() -> None:
    handler = Calls([503, 500, 200])
    with InProcessQueue(handler, retries=3, backoff_s=0.01) as queue:
        queue.enqueue(make_task())
        assert queue.drain(5)
    assert [h["X-CloudTasks-TaskRetryCount"] for _, h in handler.calls] == ["0", "1", "2"]


def test_in_process_retries_an_exception_without_logging_its_message(caplog: pytest.LogCaptureFixture) -> None:
    # Exceptions from the Discord client can carry the webhook URL, and with it the token.
    handler = Calls([RuntimeError(f"POST https://discord.test/webhooks/42/{SECRET} failed"), 200])
    caplog.set_level(logging.DEBUG, logger="docsbot.bot.queue")
    with InProcessQueue(handler, backoff_s=0.01) as queue:
        queue.enqueue(make_task())
        assert queue.drain(5)
    assert len(handler.calls) == 2
    assert "RuntimeError" in [getattr(r, "error", None) for r in caplog.records]
    assert SECRET not in caplog.text
    assert all(SECRET not in json.dumps(r.__dict__, default=str) for r in caplog.records)


def test_in_process_gives_up_after_the_retries(caplog: pytest.LogCaptureFixture) -> None:
    handler = Calls([500])
    caplog.set_level(logging.INFO, logger="docsbot.bot.queue")
    task = make_task()
    with InProcessQueue(handler, retries=2, backoff_s=0.01) as queue:
        queue.enqueue(task)
        assert queue.drain(5)
    assert len(handler.calls) == 3
    gave_up = [r for r in caplog.records if r.getMessage() == "task failed, giving up"]
    assert len(gave_up) == 1 and getattr(gave_up[0], "task", None) == task.task_name()
    assert SECRET not in caplog.text


def test_in_process_does_not_retry_a_4xx() -> None:
    handler = Calls([400, 200])
    with InProcessQueue(handler, backoff_s=0.01) as queue:
        queue.enqueue(make_task())
        assert queue.drain(5)
    assert len(handler.calls) == 1


def test_in_process_drain_times_out_while_a_task_runs() -> None:
    release, finished = threading.Event(), threading.Event()

    def slow(body: bytes, headers: Mapping[str, str]) -> int:
        release.wait(60)
        finished.set()
        return 200

    with InProcessQueue(slow) as queue:
        queue.enqueue(make_task())
        assert queue.drain(0.1) is False
        assert not finished.is_set()  # drain gave up at its timeout: it did not wait for the running task
        release.set()
        assert queue.drain(5) is True
        assert finished.is_set()


def test_in_process_close_drops_queued_tasks_and_refuses_new_ones() -> None:
    release = threading.Event()
    seen: list[str] = []

    def blocking(body: bytes, headers: Mapping[str, str]) -> int:
        seen.append(headers["X-CloudTasks-TaskName"])
        release.wait(5)
        return 200

    queue = InProcessQueue(blocking, workers=1)
    first, second = make_task(), make_task()
    queue.enqueue(first)
    queue.enqueue(second)  # waits behind `first` on the single worker
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    queue.close(timeout=0.1)  # `first` still runs: close gives up waiting, `second` is cancelled
    release.set()
    assert queue.drain(5)
    assert seen == [first.task_name()]
    with pytest.raises(RuntimeError, match="closed"):
        queue.enqueue(make_task())


def test_in_process_close_cuts_a_backoff_short() -> None:
    handler, called = Calls([503]), threading.Event()

    def first_attempt(body: bytes, headers: Mapping[str, str]) -> int:
        status = handler(body, headers)
        called.set()
        return status

    queue = InProcessQueue(first_attempt, retries=5, backoff_s=300)
    queue.enqueue(make_task())
    assert called.wait(30)
    queue.close(timeout=30)
    # Closed with nothing left running: the 300 s backoff was cut short (else close would have given up after
    # its 30 s with the task still pending), and no retry was made.
    assert queue.drain(0)
    assert len(handler.calls) == 1


# --- CloudTasksQueue: the request it builds -----------------------------------------------------------------


class StubClient:
    """Captures `create_task` requests; raises `error` when set."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.requests: list[tasks_v2.CreateTaskRequest] = []
        self.timeouts: list[float] = []

    def create_task(self, request: tasks_v2.CreateTaskRequest, *, timeout: float) -> object:
        self.requests.append(request)
        self.timeouts.append(timeout)
        if self.error is not None:
            raise self.error
        return request.task


def test_cloud_tasks_request_is_a_named_http_task_with_oidc() -> None:
    client = StubClient()
    queue = CloudTasksQueue(QUEUE, TARGET, service_account_email="tasks@p.iam.gserviceaccount.com", client=client)
    task = make_task("1234567890")
    assert queue.enqueue(task) is True
    (request,) = client.requests
    assert request.parent == QUEUE
    assert request.task.name == f"{QUEUE}/tasks/interaction-1234567890"
    http = request.task.http_request
    assert http.url == TARGET
    assert http.http_method == tasks_v2.HttpMethod.POST
    assert dict(http.headers) == {"Content-Type": "application/json"}
    assert RespondTask.from_json(http.body) == task
    assert http.oidc_token.service_account_email == "tasks@p.iam.gserviceaccount.com"
    assert http.oidc_token.audience == TARGET
    assert request.task.dispatch_deadline == timedelta(seconds=120)
    assert client.timeouts == [2.0]


def test_cloud_tasks_request_audience_and_no_service_account() -> None:
    with_audience = CloudTasksQueue(
        QUEUE,
        TARGET,
        service_account_email="sa@p.iam.gserviceaccount.com",
        audience="https://aud.test",
        client=StubClient(),
    )
    assert with_audience.build_request(make_task()).task.http_request.oidc_token.audience == "https://aud.test"
    without = CloudTasksQueue(QUEUE, TARGET, service_account_email=None, client=StubClient(), dispatch_deadline_s=300)
    request = without.build_request(make_task())
    assert "oidc_token" not in request.task.http_request
    assert request.task.dispatch_deadline == timedelta(seconds=300)


def test_cloud_tasks_already_exists_means_false() -> None:
    exists = AlreadyExists("task exists")  # type: ignore[no-untyped-call]
    queue = CloudTasksQueue(QUEUE, TARGET, service_account_email=None, client=StubClient(exists))
    assert queue.enqueue(make_task()) is False


def test_cloud_tasks_other_errors_propagate() -> None:
    down = ServiceUnavailable("down")  # type: ignore[no-untyped-call]
    queue = CloudTasksQueue(QUEUE, TARGET, service_account_email=None, client=StubClient(down))
    with pytest.raises(ServiceUnavailable):
        queue.enqueue(make_task())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"queue_path": "respond"}, "queue path"),
        ({"target_url": "ftp://x"}, "target URL"),
        ({"dispatch_deadline_s": 5}, "dispatch deadline"),
        ({"dispatch_deadline_s": 3600}, "dispatch deadline"),
    ],
)
def test_cloud_tasks_queue_validates_its_settings(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"queue_path": QUEUE, "target_url": TARGET, **kwargs}
    with pytest.raises(ValueError, match=message):
        CloudTasksQueue(**arguments, service_account_email=None, client=StubClient())


def test_task_id_keeps_valid_names_and_sanitises_others() -> None:
    assert task_id("interaction-1234567890") == "interaction-1234567890"
    assert task_id("interaction_A-z") == "interaction_A-z"
    for name in ("a.b/c d", "ünïcode", "", "x" * 600, "interaction-1:2"):
        cleaned = task_id(name)
        assert 0 < len(cleaned) <= MAX_TASK_ID
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in cleaned)
        assert task_id(name) == cleaned  # deterministic: a duplicate still maps to the same name
    # Names that differ only in replaced characters or past the cut stay distinct.
    assert task_id("a.b") != task_id("a_b") != task_id("a/b")
    assert task_id("x" * 600) != task_id("x" * 601)


def test_make_cloud_tasks_queue_builds_the_queue_path(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[StubClient] = []

    def fake_client() -> StubClient:
        created.append(StubClient())
        return created[-1]

    monkeypatch.setattr(tasks_v2, "CloudTasksClient", fake_client)
    queue = make_cloud_tasks_queue("proj", "europe-west1", "respond", TARGET, "sa@proj.iam.gserviceaccount.com")
    assert queue.queue_path == "projects/proj/locations/europe-west1/queues/respond"
    assert queue.client is created[0]
    assert queue.service_account_email == "sa@proj.iam.gserviceaccount.com"


def test_importing_the_queue_module_does_not_import_tasks_v2() -> None:
    # The interactions function imports docsbot.bot.queue on its cold-start path.
    code = (
        "import sys, docsbot.bot.queue; print(sorted(m for m in ('google.cloud.tasks_v2', 'grpc') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "[]"


# --- CloudTasksQueue against the emulator ---------------------------------------------------------------------


def test_emulator_delivers_the_task_over_http(emulator: TasksEmulator, recorder: Recorder) -> None:
    queue = emulator.queue_to(f"{recorder.url}/respond?from=tasks")
    task = make_task()
    assert queue.enqueue(task) is True
    (delivery,) = recorder.wait_for(1)
    assert delivery.method == "POST"
    assert delivery.path == "/respond?from=tasks"
    assert RespondTask.from_json(delivery.body) == task
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["x-cloudtasks-taskname"] == task.task_name()
    assert delivery.headers["x-cloudtasks-queuename"] == emulator.queue_path  # the real service sends "respond"
    assert delivery.headers["x-cloudtasks-taskretrycount"] == "0"
    assert "authorization" not in delivery.headers  # the emulator sends no OIDC token; Cloud Tasks does
