"""The Firestore adapter's conversations: threads, messages, votes.

A mixin of `docsbot.store.firestore.FirestoreStore`. Layout:

    threads/{thread_id}                     ThreadRecord fields (+ extra)
    threads/{thread_id}/messages/{id}       MessageRecord fields; sources as a list of maps
    threads/{thread_id}/votes/{user_id}     vote ("solved" | "failed"), updated_at
    threads/{thread_id}.solution            the accepted solution (`firestore_learning`)
    threads/{thread_id}/feedback/{user_id}  a "not solved" reason (`firestore_learning`)

record_vote is a transaction, but it reads only the voter's own vote document; the thread's counts move with
`Increment` transforms (the deltas `rules.decide_vote` gives) in the same commit, which needs no read lock.
Votes of different users never wait on each other, and the update's exists-precondition rejects an unknown
thread atomically. Create-if-absent (ensure_thread, add_message) is `create()`, which fails with AlreadyExists
when the document exists.
"""

from __future__ import annotations

import contextlib
import random
import time
from datetime import datetime

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from docsbot.store import rules
from docsbot.store.firestore_base import (
    FirestoreDb,
    Snapshot,
    Write,
    as_utc,
    data,
    doc_id,
    optional_str,
)
from docsbot.store.model import (
    MessageRecord,
    NewThread,
    SourceRef,
    ThreadRecord,
    ThreadUpdate,
    VoteKind,
    VoteResult,
)
from docsbot.store.rules import utc

VOTE_TXN_ATTEMPTS = 10  # commit retries inside one vote transaction (the client retries Aborted commits)
VOTE_RETRIES = 5  # whole-transaction retries when a read inside it is aborted (one user voting twice at once)


def _thread(snapshot: Snapshot) -> ThreadRecord:
    d = data(snapshot)
    return ThreadRecord(
        thread_id=snapshot.id,
        collection=str(d["collection"]),
        author_id=str(d["author_id"]),
        created_at=as_utc(d["created_at"]),
        updated_at=as_utc(d["updated_at"]),
        guild_id=optional_str(d.get("guild_id")),
        channel_id=optional_str(d.get("channel_id")),
        title=str(d.get("title", "")),
        open=bool(d.get("open", True)),
        solved=bool(d.get("solved", False)),
        thread_controller_id=optional_str(d.get("thread_controller_id")),
        solved_votes=int(d.get("solved_votes", 0)),
        failed_votes=int(d.get("failed_votes", 0)),
    )


def _message(thread_id: str, snapshot: Snapshot) -> MessageRecord:
    d = data(snapshot)
    sources = tuple(
        SourceRef(
            title=str(s["title"]),
            heading_path=tuple(str(h) for h in s.get("heading_path", [])),
            url=str(s["url"]),
            anchor=str(s.get("anchor", "")),
        )
        for s in d.get("sources", [])
    )
    return MessageRecord(
        message_id=snapshot.id,
        thread_id=thread_id,
        author_id=str(d["author_id"]),
        content=str(d["content"]),
        from_bot=bool(d["from_bot"]),
        created_at=as_utc(d["created_at"]),
        first_message=bool(d.get("first_message", False)),
        asked_bot=bool(d.get("asked_bot", False)),
        sources=sources,
        outcome=str(d.get("outcome", "")),
    )


class FirestoreConversations(FirestoreDb):
    # --- threads and messages -----------------------------------------------------------------------

    def _thread_ref(self, thread_id: str) -> firestore.DocumentReference:
        return self._threads.document(doc_id(thread_id))

    def get_thread(self, thread_id: str) -> ThreadRecord | None:
        snapshot = self._thread_ref(thread_id).get()
        return _thread(snapshot) if snapshot.exists else None

    def ensure_thread(self, new: NewThread, now: datetime) -> ThreadRecord:
        ref = self._thread_ref(new.thread_id)
        snapshot = ref.get()
        if snapshot.exists:
            return _thread(snapshot)
        stamp = utc(now)
        with contextlib.suppress(gexc.AlreadyExists):  # another caller created it first: theirs is the thread
            ref.create(
                {
                    "collection": new.collection,
                    "author_id": new.author_id,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "guild_id": new.guild_id,
                    "channel_id": new.channel_id,
                    "title": new.title,
                    "open": True,
                    "solved": False,
                    "thread_controller_id": None,
                    "solved_votes": 0,
                    "failed_votes": 0,
                    "extra": dict(new.extra),
                }
            )
        return _thread(ref.get())

    def update_thread(self, thread_id: str, update: ThreadUpdate, now: datetime) -> ThreadRecord | None:
        ref = self._thread_ref(thread_id)
        changes: Write = {"updated_at": utc(now)}
        for name in ("open", "solved", "collection", "title"):
            value = getattr(update, name)
            if value is not None:
                changes[name] = value
        try:
            ref.update(changes)  # fails on a missing document rather than creating a partial one
        except gexc.NotFound:
            return None
        return self.get_thread(thread_id)

    def set_thread_controller(self, thread_id: str, message_id: str, now: datetime) -> str:
        """Set `thread_controller_id` if unset; returns the controller id in effect. KeyError: unknown thread."""

        def decide(snapshot: Snapshot) -> tuple[Write | None, str]:
            if not snapshot.exists:
                raise KeyError(thread_id)
            current = optional_str(data(snapshot).get("thread_controller_id"))
            controller = rules.decide_controller(current, message_id)
            if controller == current:
                return None, controller
            return {"thread_controller_id": controller, "updated_at": utc(now)}, controller

        return self._read_modify_write(self._thread_ref(thread_id), decide)

    def add_message(self, message: MessageRecord) -> bool:
        ref = self._thread_ref(message.thread_id).collection("messages").document(doc_id(message.message_id))
        sources = [
            {"title": s.title, "heading_path": list(s.heading_path), "url": s.url, "anchor": s.anchor}
            for s in message.sources
        ]
        try:
            ref.create(
                {
                    "author_id": message.author_id,
                    "content": message.content,
                    "from_bot": message.from_bot,
                    "created_at": utc(message.created_at),
                    "first_message": message.first_message,
                    "asked_bot": message.asked_bot,
                    "sources": sources,
                    "outcome": message.outcome,
                }
            )
        except gexc.AlreadyExists:
            return False
        return True

    def list_messages(self, thread_id: str, limit: int = 50) -> list[MessageRecord]:
        if limit <= 0:
            return []  # Firestore reads limit(0) as "no limit"
        query = (
            self._thread_ref(thread_id)
            .collection("messages")
            .order_by("created_at", direction=firestore.Query.DESCENDING)
            .order_by(FieldPath.document_id(), direction=firestore.Query.DESCENDING)
            .limit(limit)
        )
        return [_message(thread_id, snapshot) for snapshot in reversed(list(query.stream()))]

    # --- votes ----------------------------------------------------------------------------------------

    def record_vote(
        self, thread_id: str, user_id: str, vote: VoteKind, *, is_author: bool, now: datetime
    ) -> VoteResult:
        """One vote per user; a change moves it. The author's "solved" marks the thread solved, and nothing a
        vote does un-marks it (a later "failed" from the author only moves the vote). KeyError: unknown thread.

        The returned counts are read just after the commit, so they may already include other users' votes."""
        rules.check_vote(vote)
        thread_ref = self._thread_ref(thread_id)
        vote_ref = thread_ref.collection("votes").document(doc_id(user_id))
        stamp = utc(now)

        # Decorated per call: a `_Transactional` keeps per-run state (its retry ids), so sharing one across
        # threads would mix their transactions up.
        @firestore.transactional
        def cast(transaction: firestore.Transaction) -> bool:
            old = vote_ref.get(transaction=transaction)
            change = rules.decide_vote(
                optional_str(data(old).get("vote")) if old.exists else None, vote, is_author=is_author
            )
            if change.changed:
                transaction.set(vote_ref, {"vote": vote, "updated_at": stamp})
            # A -1 never takes a count below zero: this user's old vote was counted in the commit that wrote it.
            changes: Write = {f"{kind}_votes": firestore.Increment(delta) for kind, delta in change.deltas.items()}
            if change.marks_solved:
                changes["solved"] = True
            if changes:
                # update() requires the thread to exist: for an unknown thread the whole commit fails.
                transaction.update(thread_ref, {**changes, "updated_at": stamp})
            return change.changed

        changed: bool | None = None
        for attempt in range(VOTE_RETRIES):
            try:
                changed = bool(cast(self.client.transaction(max_attempts=VOTE_TXN_ATTEMPTS)))
                break
            except gexc.NotFound as error:
                raise KeyError(thread_id) from error
            except gexc.Aborted:
                # A read inside the transaction lost a lock wait (the client retries only aborted commits).
                if attempt == VOTE_RETRIES - 1:
                    raise
                time.sleep(random.uniform(0, 0.05))
        thread = self.get_thread(thread_id)
        if thread is None or changed is None:
            raise KeyError(thread_id)
        return VoteResult(
            solved_votes=thread.solved_votes,
            failed_votes=thread.failed_votes,
            changed=changed,
            thread_solved=thread.solved,
        )
