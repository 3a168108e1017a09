"""Enqueue respond tasks: Cloud Tasks in the cloud, a thread pool in this process for local runs.

Both refuse a second task of the same name (the name derives from the interaction id, so a retried
interaction dies here), and both deliver at least once: the respond handler must stay idempotent.
Never log a task body: it carries the Discord interaction token.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from docsbot.bot.tasks import RespondTask

if TYPE_CHECKING:
    from google.cloud import tasks_v2

log = logging.getLogger(__name__)

MAX_TASK_ID = 500  # Cloud Tasks' limit for the last part of a task name
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")
_QUEUE_PATH = re.compile(r"projects/[^/]+/locations/[^/]+/queues/[A-Za-z0-9-]+")
# Cloud Tasks accepts 15 s to 30 min as the dispatch deadline of an HTTP task.
_DEADLINE_RANGE_S = (15, 1800)


def task_id(name: str) -> str:
    """`name` as a Cloud Tasks task id: only [A-Za-z0-9_-], at most 500 characters, always the same for a name.

    When characters are replaced or the name is cut, a hash of the original is appended, so two different
    names never map to one id (Cloud Tasks would refuse the second task as a duplicate).
    """
    cleaned = _NOT_ALLOWED.sub("_", name)
    if cleaned == name and 0 < len(name) <= MAX_TASK_ID:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return f"{cleaned[: MAX_TASK_ID - len(digest) - 1]}-{digest}"


def queue_path(project: str, location: str, queue: str) -> str:
    return f"projects/{project}/locations/{location}/queues/{queue}"


class TasksClient(Protocol):
    """The part of `tasks_v2.CloudTasksClient` this module uses (tests pass a stub)."""

    def create_task(self, request: tasks_v2.CreateTaskRequest, *, timeout: float) -> object: ...


class CloudTasksQueue:
    """Enqueues each `RespondTask` as a named HTTP task: POST `target_url` with the task's JSON as the body.

    With `service_account_email`, Cloud Tasks attaches an OIDC token for that account (audience: `audience`,
    else `target_url`), which the respond function's IAM checks. `timeout_s` bounds the create call: the
    interactions function must answer Discord within 3 s.
    """

    def __init__(
        self,
        queue_path: str,
        target_url: str,
        *,
        service_account_email: str | None,
        audience: str | None = None,
        client: TasksClient | None = None,
        dispatch_deadline_s: int = 120,
        timeout_s: float = 2.0,
    ) -> None:
        if not _QUEUE_PATH.fullmatch(queue_path):
            raise ValueError(f"queue path must look like projects/P/locations/L/queues/Q, got {queue_path!r}")
        if not target_url.startswith(("https://", "http://")):
            raise ValueError(f"target URL must be http(s), got {target_url!r}")
        low, high = _DEADLINE_RANGE_S
        if not low <= dispatch_deadline_s <= high:
            raise ValueError(f"dispatch deadline must be {low}..{high} s, got {dispatch_deadline_s}")
        self.queue_path = queue_path
        self.target_url = target_url
        self.service_account_email = service_account_email
        self.audience = audience or target_url
        self.dispatch_deadline_s = dispatch_deadline_s
        self.timeout_s = timeout_s
        if client is None:
            # Imported here rather than at the top: the interactions function imports this module on its
            # cold-start path, and tasks_v2 costs about 0.2 s that only a Cloud Tasks deployment needs to pay.
            from google.cloud import tasks_v2

            client = tasks_v2.CloudTasksClient()
        self.client = client

    def build_request(self, task: RespondTask) -> tasks_v2.CreateTaskRequest:
        """The `create_task` request for `task` (no network)."""
        from google.cloud import tasks_v2

        http_request = tasks_v2.HttpRequest(
            url=self.target_url,
            http_method=tasks_v2.HttpMethod.POST,
            headers={"Content-Type": "application/json"},
            body=task.to_json(),
        )
        if self.service_account_email:
            http_request.oidc_token = tasks_v2.OidcToken(
                service_account_email=self.service_account_email, audience=self.audience
            )
        return tasks_v2.CreateTaskRequest(
            parent=self.queue_path,
            task=tasks_v2.Task(
                name=f"{self.queue_path}/tasks/{task_id(task.task_name())}",
                http_request=http_request,
                dispatch_deadline=timedelta(seconds=self.dispatch_deadline_s),
            ),
        )

    def enqueue(self, task: RespondTask) -> bool:
        """Create the task; False when Cloud Tasks already has (or recently had) a task of that name."""
        from google.api_core.exceptions import AlreadyExists

        request = self.build_request(task)
        try:
            self.client.create_task(request=request, timeout=self.timeout_s)
        except AlreadyExists:
            log.info("task exists already", extra={"task": task_id(task.task_name())})
            return False
        return True


def make_cloud_tasks_queue(
    project: str, location: str, queue: str, target_url: str, service_account_email: str | None
) -> CloudTasksQueue:
    """A `CloudTasksQueue` on the real service, with the default credentials."""
    return CloudTasksQueue(
        queue_path(project, location, queue), target_url, service_account_email=service_account_email
    )


def emulator_client(host_port: str) -> tasks_v2.CloudTasksClient:
    """A real `CloudTasksClient` talking plain gRPC to an emulator at `host_port` (no TLS, no credentials).

    The client has no `*_EMULATOR_HOST` support, and `client_options.api_endpoint` would still use TLS.
    """
    import grpc  # type: ignore[import-untyped]
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(host_port)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


# --- In process -------------------------------------------------------------------------------------------

TaskHandler = Callable[[bytes, Mapping[str, str]], int]
"""The respond function's core: (body, Cloud Tasks-like headers) → HTTP status."""


class InProcessQueue:
    """Runs tasks on a thread pool in this process (`docsbot serve`, local runs, tests).

    Like Cloud Tasks, it refuses a name it has seen within `dedup_window_s`, calls the handler with the body
    and the `X-CloudTasks-*` headers, and retries with exponential backoff, here on a status ≥ 500 or an
    exception (Cloud Tasks also retries 4xx; our handler answers 4xx only when a retry cannot help).
    At most `retries` retries, so `retries + 1` attempts. The dedup window reads `clock` (monotonic seconds,
    injected by tests); backoffs wait on the closing event, so `close()` ends them at once.
    """

    def __init__(
        self,
        handler: TaskHandler,
        *,
        workers: int = 2,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        queue_name: str = "inprocess",
        dedup_window_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if workers < 1 or retries < 0 or backoff_s < 0:
            raise ValueError("workers ≥ 1, retries ≥ 0 and backoff_s ≥ 0 expected")
        self.handler = handler
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.queue_name = queue_name
        self.dedup_window_s = dedup_window_s
        self.clock = clock
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docsbot-queue")
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._seen: OrderedDict[str, float] = OrderedDict()  # task id → when queued, oldest first
        self._pending = 0
        self._closed = threading.Event()

    def enqueue(self, task: RespondTask) -> bool:
        name = task_id(task.task_name())
        now = self.clock()
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the queue is closed")
            self._forget_older_than(now - self.dedup_window_s)
            if name in self._seen:
                return False
            self._seen[name] = now
            self._pending += 1
            # Submitted under the lock, so close() cannot shut the pool down between the check and here.
            future = self._executor.submit(self._run, name, task.to_json(), time.time())
        # Counted down when the task finishes or is cancelled by close(): drain() must not wait for those.
        # Added outside the lock: on a future that is already done, the callback runs at once and takes it.
        future.add_done_callback(self._task_done)
        return True

    def _forget_older_than(self, cutoff: float) -> None:
        while self._seen:
            name, queued_at = next(iter(self._seen.items()))
            if queued_at >= cutoff:
                break
            del self._seen[name]

    def _task_done(self, _future: Future[None]) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def _run(self, name: str, body: bytes, eta: float) -> None:
        for attempt in range(self.retries + 1):
            headers = {
                "Content-Type": "application/json",
                "X-CloudTasks-QueueName": self.queue_name,
                "X-CloudTasks-TaskName": name,
                "X-CloudTasks-TaskRetryCount": str(attempt),
                "X-CloudTasks-TaskExecutionCount": str(attempt),
                "X-CloudTasks-TaskETA": f"{eta:.6f}",
            }
            try:
                status = self.handler(body, headers)
            except Exception as error:
                # Only the type: a message may hold a webhook URL, and that URL holds the interaction token.
                log.warning(
                    "task attempt raised", extra={"task": name, "attempt": attempt, "error": type(error).__name__}
                )
            else:
                if status < 400:
                    return
                if status < 500:
                    log.error("task refused, not retried", extra={"task": name, "attempt": attempt, "status": status})
                    return
                log.warning("task attempt failed", extra={"task": name, "attempt": attempt, "status": status})
            if attempt < self.retries:
                delay = min(self.backoff_s * 2**attempt, self.max_backoff_s)
                if self._closed.wait(delay):  # closing: don't keep the process alive for a retry
                    log.error("task abandoned at close", extra={"task": name, "attempt": attempt})
                    return
        log.error("task failed, giving up", extra={"task": name, "attempts": self.retries + 1})

    def drain(self, timeout: float) -> bool:
        """Wait until every queued task has finished (retries included); False if `timeout` s passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Refuse new tasks, drop queued ones, stop retry waits, and wait up to `timeout` s for running ones."""
        with self._lock:
            self._closed.set()
        # Outside the lock: cancelling runs the futures' done callbacks, which take it.
        self._executor.shutdown(wait=False, cancel_futures=True)
        if not self.drain(timeout):
            log.warning("queue closed with tasks still running")

    def __enter__(self) -> InProcessQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
