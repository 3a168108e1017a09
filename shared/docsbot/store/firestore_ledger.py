"""The Firestore adapter's ledgers with expiry: interactions, quotas and leases.

A mixin of `docsbot.store.firestore.FirestoreStore`. Layout:

    interactions/{interaction_id}           state, attempts, created_at, expires_at, lease_until, thread_id,
                                            answer, delivered, message_id (the delivery ledger)
    quotas/{key}__{window_us}__{bucket}     key, window_us, bucket, used, uses, reset_at, expires_at
    leases/{key}                            key, holder, expires_at

`expires_at` on interactions and quotas is what the TTL policies key on (one policy per collection). Claims,
finishes and quotas are optimistic read-modify-writes (`FirestoreDb._read_modify_write`); leases are taken,
renewed and released in transactions (rarely contended: one per source per run). Every decision is
`docsbot.store.rules`'.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from google.api_core import exceptions as gexc
from google.cloud import firestore

from docsbot.store import rules
from docsbot.store.firestore_base import (
    FirestoreDb,
    Snapshot,
    Write,
    as_utc,
    as_utc_optional,
    data,
    doc_id,
    optional_str,
)
from docsbot.store.model import (
    Claim,
    ClaimResult,
    DeliveryProgress,
    InteractionRecord,
    InteractionState,
    Lease,
    QuotaResult,
)
from docsbot.store.rules import utc

LEASE_TXN_ATTEMPTS = 10  # contended lease transactions are retried by the client this many times


def _interaction(snapshot: Snapshot) -> InteractionRecord:
    d = data(snapshot)
    return InteractionRecord(
        interaction_id=snapshot.id,
        state=InteractionState(d["state"]),
        attempts=int(d["attempts"]),
        created_at=as_utc(d["created_at"]),
        expires_at=as_utc(d["expires_at"]),
        lease_until=as_utc_optional(d.get("lease_until")),
        thread_id=optional_str(d.get("thread_id")),
        answer=optional_str(d.get("answer")),
        delivered=int(d.get("delivered") or 0),
        message_id=optional_str(d.get("message_id")),
    )


def _lease(snapshot: Snapshot) -> Lease | None:
    if not snapshot.exists:
        return None
    d = data(snapshot)
    return Lease(str(d["key"]), str(d["holder"]), as_utc(d["expires_at"]))


class FirestoreLedger(FirestoreDb):
    # --- interactions ---------------------------------------------------------------------------------

    def create_interaction(
        self, interaction_id: str, *, now: datetime, ttl: timedelta, thread_id: str | None = None
    ) -> bool:
        record = rules.new_interaction(interaction_id, now=now, ttl=ttl, thread_id=thread_id)
        try:
            self._interactions.document(doc_id(interaction_id)).create(
                {
                    "state": record.state.value,
                    "attempts": record.attempts,
                    "created_at": record.created_at,
                    "expires_at": record.expires_at,
                    "lease_until": record.lease_until,
                    "thread_id": record.thread_id,
                }
            )
        except gexc.AlreadyExists:
            return False
        return True

    def claim_interaction(self, interaction_id: str, *, now: datetime, lease: timedelta) -> Claim:
        def decide(snapshot: Snapshot) -> tuple[Write | None, Claim]:
            claim = rules.decide_claim(_interaction(snapshot) if snapshot.exists else None, now=now, lease=lease)
            if claim.result is not ClaimResult.CLAIMED or claim.record is None:
                return None, claim
            claimed = claim.record
            return {
                "state": claimed.state.value,
                "attempts": claimed.attempts,
                "lease_until": claimed.lease_until,
            }, claim

        return self._read_modify_write(self._interactions.document(doc_id(interaction_id)), decide)

    def renew_interaction(
        self,
        interaction_id: str,
        *,
        attempt: int,
        now: datetime,
        lease: timedelta,
        progress: DeliveryProgress | None = None,
    ) -> bool:
        def decide(snapshot: Snapshot) -> tuple[Write | None, bool]:
            existing = _interaction(snapshot) if snapshot.exists else None
            renewed = rules.decide_renew(existing, attempt=attempt, now=now, lease=lease, progress=progress)
            if renewed is None:
                return None, False
            write: Write = {"lease_until": renewed.lease_until}
            if progress is not None:
                write.update(
                    {"answer": renewed.answer, "delivered": renewed.delivered, "message_id": renewed.message_id}
                )
            return write, True

        return self._read_modify_write(self._interactions.document(doc_id(interaction_id)), decide)

    def finish_interaction(
        self, interaction_id: str, state: InteractionState, *, now: datetime, attempt: int | None = None
    ) -> bool:
        """Set DONE or FAILED (or QUEUED: hand the work back for a later attempt), dropping the lease.

        Only a QUEUED or ANSWERING interaction changes: finishing twice, or an unknown id, is a no-op; with
        `attempt`, so is a finish by an attempt that no longer holds the claim."""
        rules.check_finish_state(state)

        def decide(snapshot: Snapshot) -> tuple[Write | None, bool]:
            existing = _interaction(snapshot) if snapshot.exists else None
            finished = rules.decide_finish(existing, state, attempt=attempt)
            if finished is None:
                return None, False
            return {"state": finished.state.value, "lease_until": finished.lease_until}, True

        return self._read_modify_write(self._interactions.document(doc_id(interaction_id)), decide)

    def get_interaction(self, interaction_id: str) -> InteractionRecord | None:
        snapshot = self._interactions.document(doc_id(interaction_id)).get()
        return _interaction(snapshot) if snapshot.exists else None

    # --- abuse and cost limits ------------------------------------------------------------------------

    def take_quota(
        self, key: str, *, limit: int, window: timedelta, now: datetime, use_id: str | None = None
    ) -> QuotaResult:
        """Count one use of `key` in the fixed window holding `now` (windows are aligned to the Unix epoch,
        e.g. whole hours); refused, and not counted, once `limit` uses are in the window. A `use_id` counted
        in this window already is allowed again without counting (duplicate deliveries of one interaction):
        the window's document lists the ids it counted in `uses` (at most `limit` of them).

        One document per (key, window length, window): a new window starts from a new document, and the TTL
        policy on `expires_at` deletes the old ones."""
        slot = rules.quota_window(window, now)
        ref = self._quotas.document(f"{doc_id(key)}__{slot.window_us}__{slot.bucket}")

        def decide(snapshot: Snapshot) -> tuple[Write | None, QuotaResult]:
            fields = data(snapshot) if snapshot.exists else {}
            used = int(fields.get("used", 0))
            uses = [str(u) for u in fields.get("uses") or []]
            counted = use_id is not None and use_id in uses
            result = rules.decide_quota(used, limit=limit, window=slot, counted=counted)
            if not result.allowed or counted:
                return None, result
            write: Write = {"used": result.used}
            if use_id is not None:
                write["uses"] = [*uses, use_id]
            if not snapshot.exists:
                write.update(
                    {
                        "key": key,
                        "window_us": slot.window_us,
                        "bucket": slot.bucket,
                        "reset_at": slot.reset_at,
                        "expires_at": slot.reset_at,
                    }
                )
            return write, result

        return self._read_modify_write(ref, decide)

    # --- leases ---------------------------------------------------------------------------------------

    def acquire_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> Lease:
        ref = self._leases.document(doc_id(key))

        @firestore.transactional
        def take(transaction: firestore.Transaction) -> Lease:
            current = _lease(ref.get(transaction=transaction))
            decision = rules.decide_lease(current, key, holder, ttl=ttl, now=now)
            if decision.write:
                lease = decision.lease
                transaction.set(ref, {"key": lease.key, "holder": lease.holder, "expires_at": lease.expires_at})
            return decision.lease

        taken: Lease = take(self.client.transaction(max_attempts=LEASE_TXN_ATTEMPTS))
        return taken

    def renew_lease(self, key: str, holder: str, *, ttl: timedelta, now: datetime) -> bool:
        ref = self._leases.document(doc_id(key))

        @firestore.transactional
        def renew(transaction: firestore.Transaction) -> bool:
            if not rules.may_renew(_lease(ref.get(transaction=transaction)), holder):
                return False
            transaction.update(ref, {"expires_at": utc(now + ttl)})
            return True

        renewed: bool = renew(self.client.transaction(max_attempts=LEASE_TXN_ATTEMPTS))
        return renewed

    def release_lease(self, key: str, holder: str) -> None:
        ref = self._leases.document(doc_id(key))

        @firestore.transactional
        def release(transaction: firestore.Transaction) -> None:
            if rules.may_release(_lease(ref.get(transaction=transaction)), holder):
                transaction.delete(ref)

        release(self.client.transaction(max_attempts=LEASE_TXN_ATTEMPTS))
