"""A deadline for one unit of work (a respond attempt), seen by the adapters it calls.

The respond function must end each attempt (and release or fence its claim) before the queue's dispatch
deadline and its lease, so the work it calls must fit in what is left. `within(deadline)` makes a deadline
current for the calling thread (a context variable: concurrent requests each see their own); the chat adapter
reads `current()` and shrinks its timeout and retries to the time remaining. Without a deadline nothing changes.
Clocks and sleeps are injected, so tests move time instead of waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Deadline:
    at: float  # in the clock's seconds
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = field(default=time.sleep)

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - self.clock()


_current: ContextVar[Deadline | None] = ContextVar("docsbot_deadline", default=None)


@contextmanager
def within(deadline: Deadline | None) -> Iterator[None]:
    """Make `deadline` the current one while the block runs (None: no deadline)."""
    token = _current.set(deadline)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Deadline | None:
    """The deadline of the work in progress in this thread, if any."""
    return _current.get()
