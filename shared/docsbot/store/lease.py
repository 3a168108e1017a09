"""One writer at a time: a lease record with an expiry, taken before writing and renewed while working.

    with hold_lease(store, "scrape/redux/site", run_id, ttl=timedelta(minutes=15), wait=0) as lease:
        ...
        lease.keep()  # call often (per page): renews every ttl/3, raises LeaseLost if another holder took over

A holder that dies stops renewing, so its lease expires and the next run takes it: no manual unlock, ever.
Works over any store's `Leases` port; who may take, renew or release a lease is `docsbot.store.rules`'.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from docsbot.store.model import Lease, utc_now
from docsbot.store.ports import Leases

Clock = Callable[[], datetime]
POLL_SECONDS = 0.1


class LeaseBusy(RuntimeError):
    """Someone else holds the lease (and kept it for as long as we were willing to wait)."""

    def __init__(self, lease: Lease) -> None:
        until = lease.expires_at.isoformat(timespec="seconds")
        super().__init__(f"{lease.key} is held by {lease.holder} until {until}")
        self.lease = lease


class LeaseLost(RuntimeError):
    """Our lease expired and another holder took it: stop writing now."""


class LeaseKeeper:
    """A lease we hold: `keep()` renews it now and then; `release()` gives it up."""

    def __init__(self, store: Leases, key: str, holder: str, ttl: timedelta, clock: Clock) -> None:
        self.store, self.key, self.holder, self.ttl, self.clock = store, key, holder, ttl, clock
        self._renewed_at = clock()

    def keep(self) -> None:
        now = self.clock()
        if now - self._renewed_at < self.ttl / 3:
            return
        if not self.store.renew_lease(self.key, self.holder, ttl=self.ttl, now=now):
            raise LeaseLost(f"lost the lease on {self.key}: it expired and another run took it")
        self._renewed_at = now

    def release(self) -> None:
        self.store.release_lease(self.key, self.holder)


def acquire_lease(
    store: Leases,
    key: str,
    holder: str,
    *,
    ttl: timedelta,
    wait: float = 0.0,
    clock: Clock = utc_now,
    poll: float = POLL_SECONDS,
) -> LeaseKeeper:
    """Take the lease on `key`, waiting up to `wait` seconds for another holder to finish; else LeaseBusy."""
    deadline = time.monotonic() + wait
    while True:
        lease = store.acquire_lease(key, holder, ttl=ttl, now=clock())
        if lease.holder == holder:
            return LeaseKeeper(store, key, holder, ttl, clock)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LeaseBusy(lease)
        time.sleep(min(poll, remaining))


@contextmanager
def hold_lease(
    store: Leases,
    key: str,
    holder: str,
    *,
    ttl: timedelta,
    wait: float = 0.0,
    clock: Clock = utc_now,
    poll: float = POLL_SECONDS,
) -> Iterator[LeaseKeeper]:
    """The lease on `key` for the duration of the block, released however the block ends."""
    keeper = acquire_lease(store, key, holder, ttl=ttl, wait=wait, clock=clock, poll=poll)
    try:
        yield keeper
    finally:
        keeper.release()
