"""The respond task: what the interactions function (or the gateway relay) hands the respond function.

A "relay" task is a message the gateway relay saw (`docsbot.bot.relay`): its `interaction_id` is the Discord
message id, it has no interaction token, and the responder answers it with a channel message in the thread
(`source_message_id` is the asker's message, replied to) instead of editing a deferred interaction response.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

TaskKind = Literal["ask", "search", "context_ask", "followup", "relay"]


@dataclass(frozen=True)
class RespondTask:
    """One deferred interaction (or relayed message) to answer. The interaction token is a credential: never
    log it."""

    interaction_id: str
    application_id: str
    token: str
    kind: TaskKind
    question: str
    user_id: str
    channel_id: str
    created_at: float  # UNIX seconds when Discord sent the interaction: the token dies 15 minutes later
    guild_id: str | None = None
    collection: str | None = None
    private: bool = False
    member_roles: tuple[str, ...] = ()
    thread_title: str = ""
    source_message_id: str | None = None  # context menu: the message whose text is asked
    thread_id: str | None = None  # the conversation: the Discord thread, or the interaction in a plain channel
    author_id: str | None = None  # who owns the conversation (the thread's owner / the asked message's author)
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> RespondTask:
        """Parse a task body; ValueError with the reason when it is not one."""
        try:
            raw: Any = json.loads(data)
        except ValueError as error:
            raise ValueError(f"task body is not JSON: {error}") from None
        if not isinstance(raw, dict):
            raise ValueError("task body is not a JSON object")
        try:
            raw["member_roles"] = tuple(raw.get("member_roles") or ())
            return cls(**raw)
        except TypeError as error:
            raise ValueError(f"task body has the wrong fields: {error}") from None

    def task_name(self) -> str:
        """The queue task id: derived from the interaction (or message) id, so a duplicate enqueue is refused."""
        if self.kind == "relay":
            return f"message-{self.interaction_id}"
        return f"interaction-{self.interaction_id}"


class TaskQueue(Protocol):
    def enqueue(self, task: RespondTask) -> bool:
        """Queue `task` for the respond function; False when a task of that name exists already."""
        ...
