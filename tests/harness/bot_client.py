"""A test client for the interactions handler: Discord-shaped, signed interactions, run in process, no servers.

    client = BotClient(tmp_path / "state.sqlite3")
    reply = client.command("ask", question="How do I log in?", channel=thread())
    assert reply.type == 5 and client.queue.tasks[0].kind == "ask"

Each call builds the payload Discord would send (`TestSigner`'s builders), signs it with the client's key at
the injected clock's time, and passes headers and body to the real `InteractionsHandler.handle`. Behind it:
the SQLite state store on a temporary file, a queue that records what is enqueued, an archiver that records
what it is asked, and a clock that moves only when told. Nothing listens on a port; nothing reads the wall
clock (snowflake ids embed it, but nothing depends on their value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docsbot.bot.interactions import HttpResponse, InteractionsHandler, Limits
from docsbot.bot.tasks import RespondTask
from docsbot.discord.components import parse_custom_id
from docsbot.settings.catalog import CollectionRecord, build_catalog
from docsbot.store.model import MessageRecord, NewThread
from docsbot.store.sqlite import SqliteStore
from tests.harness.fakes.discord_signing import (
    FORUM_ID,
    GUILD_ID,
    OTHER_USER_ID,
    THREAD_ID,
    USER_ID,
    TestSigner,
    snowflake,
)

NOW = 1_760_000_000.0  # 2025-10-09: any fixed time will do
CHANNEL_ID = "1180000000000000010"  # a plain text channel
DOCS = CollectionRecord("docs", "Redux", "A JavaScript state container.")


def thread(
    thread_id: str = THREAD_ID,
    *,
    owner: str = USER_ID,
    parent: str = FORUM_ID,
    name: str = "How do I configure the store?",
) -> dict[str, Any]:
    """The partial channel Discord sends for a public thread (a forum post) in `parent`, started by `owner`."""
    return {
        "id": thread_id,
        "type": 11,
        "guild_id": GUILD_ID,
        "parent_id": parent,
        "name": name,
        "owner_id": owner,
        "flags": 0,
        "thread_metadata": {"archived": False, "locked": False, "auto_archive_duration": 4320},
    }


def text_channel(channel_id: str = CHANNEL_ID, *, name: str = "help", parent: str | None = None) -> dict[str, Any]:
    """The partial channel Discord sends for a plain text channel (optionally in category `parent`)."""
    channel: dict[str, Any] = {"id": channel_id, "type": 0, "guild_id": GUILD_ID, "name": name}
    if parent is not None:
        channel["parent_id"] = parent
    return channel


@dataclass
class FakeClock:
    """UNIX seconds that move only when the test says so."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RecordingQueue:
    """A task queue that keeps what it is given; refuses a duplicate name, as Cloud Tasks does."""

    tasks: list[RespondTask] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    fail_with: Exception | None = None  # set to make every enqueue raise (the queue is down)

    def enqueue(self, task: RespondTask) -> bool:
        if self.fail_with is not None:
            raise self.fail_with
        if task.task_name() in self.names:
            return False
        self.names.add(task.task_name())
        self.tasks.append(task)
        return True


@dataclass
class RecordingArchiver:
    """Stands in for Discord's Modify Channel: records each call, or raises `fail_with`."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_with: Exception | None = None

    def modify_channel(self, channel_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append((channel_id, payload))
        return {"id": channel_id, **payload}


@dataclass(frozen=True)
class Reply:
    """The handler's answer to one interaction, and the payload that was sent."""

    status: int
    body: dict[str, Any]
    sent: dict[str, Any]

    @property
    def type(self) -> int | None:
        value = self.body.get("type")
        return value if isinstance(value, int) else None

    @property
    def data(self) -> dict[str, Any]:
        data = self.body.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def private(self) -> bool:
        """Whether only the user sees it (the ephemeral flag)."""
        return bool(int(self.data.get("flags", 0)) & 64)

    @property
    def content(self) -> str:
        return str(self.data.get("content", ""))

    @property
    def interaction_id(self) -> str:
        return str(self.sent["id"])


def private_text(reply: Reply) -> str:
    """The text of a private (ephemeral) inline reply; fails the test if `reply` is anything else."""
    assert reply.status == 200 and reply.type == 4 and reply.private, reply.body
    return reply.content


class BotClient:
    """Sends interactions to a real `InteractionsHandler` wired to in-memory fakes (see the module doc)."""

    def __init__(
        self,
        store_path: Path,
        *,
        collections: Sequence[CollectionRecord] = (DOCS,),
        channels: Mapping[str, str] | None = None,
        default_collection: str | None = None,
        limits: Limits | None = None,
        archiver: bool = True,
    ) -> None:
        self.signer = TestSigner(seed=bytes(range(32)))
        self.clock = FakeClock()
        self.store = SqliteStore(store_path)
        self.queue = RecordingQueue()
        self.archiver = RecordingArchiver()
        self.answers: dict[str, str] = {}  # conversation → the bot's first answer (its controller message)
        self.last_answer: dict[str, str] = {}  # conversation → the bot's latest answer
        self.handler = InteractionsHandler(
            self.signer.public_key_hex,
            self.store,
            self.queue,
            build_catalog(collections, channels if channels is not None else {FORUM_ID: "docs"}),
            archiver=self.archiver if archiver else None,
            default_collection=default_collection,
            limits=limits,
            clock=self.clock,
        )

    def close(self) -> None:
        self.store.close()

    def answered(
        self,
        thread_id: str = THREAD_ID,
        author: str = USER_ID,
        collection: str = "docs",
        *,
        channel: str | None = None,
    ) -> str:
        """Store an answer in the conversation `thread_id` as the respond side does: the thread (in `channel`,
        default the thread itself), the bot's message, and that message as the thread's controller when it is
        the first. The message id is kept in `answers`: `button` and `modal` press the buttons on it."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        new = NewThread(thread_id=thread_id, collection=collection, author_id=author, channel_id=channel or thread_id)
        self.store.ensure_thread(new, now)
        message_id = snowflake()
        self.store.add_message(
            MessageRecord(message_id, thread_id, "1180000000000000001", "an answer", from_bot=True, created_at=now)
        )
        self.store.set_thread_controller(thread_id, message_id, now)
        self.answers.setdefault(thread_id, message_id)
        self.last_answer[thread_id] = message_id
        return thread_id

    # --- interactions ----------------------------------------------------------------------------------

    def command(
        self,
        name: str,
        *,
        channel: Mapping[str, Any] | None = None,
        user: str = USER_ID,
        roles: Sequence[str] = (),
        guild: str | None = GUILD_ID,
        **options: Any,
    ) -> Reply:
        """The slash command `name` with `options`, used by `user` in `channel` (default: `thread()`)."""
        payload = self.signer.slash_command(name, options, **self._context(channel, user, roles, guild))
        return self.send(payload)

    def message_command(
        self,
        name: str,
        *,
        message: str,
        author: str = OTHER_USER_ID,
        channel: Mapping[str, Any] | None = None,
        user: str = USER_ID,
        roles: Sequence[str] = (),
        guild: str | None = GUILD_ID,
        target_id: str | None = None,
    ) -> Reply:
        """The message context-menu command `name`, used on a message (id `target_id`, default a new one) by
        `author` saying `message`."""
        context = self._context(channel, user, roles, guild)
        payload = self.signer.message_command(message, name=name, author_id=author, target_id=target_id, **context)
        return self.send(payload)

    def autocomplete(
        self, name: str, focused: str, *, channel: Mapping[str, Any] | None = None, **options: Any
    ) -> Reply:
        """Discord asking for suggestions while the user types option `focused` of command `name`."""
        context = self._context(channel, USER_ID, (), GUILD_ID)
        return self.send(self.signer.autocomplete(name, options, focused, **context))

    def button(
        self,
        custom_id: str,
        *,
        channel: Mapping[str, Any] | None = None,
        user: str = USER_ID,
        roles: Sequence[str] = (),
        on: str | None = None,
    ) -> Reply:
        """A press of the button `custom_id` on the bot's message `on` (default: the first answer of the
        conversation the custom_id names, as stored by `answered`; else a message nobody stored)."""
        message = on or self._answer_of(custom_id)
        return self.send(self.signer.component(custom_id, message, **self._context(channel, user, roles, GUILD_ID)))

    def modal(
        self,
        custom_id: str,
        values: Mapping[str, str],
        *,
        channel: Mapping[str, Any] | None = None,
        user: str = USER_ID,
        on: str | None = None,
    ) -> Reply:
        """The modal `custom_id` submitted with `values` (text input custom_id → what was typed), opened by the
        button on the bot's message `on` (default as for `button`): Discord sends that message along."""
        payload = self.signer.modal_submit(custom_id, values, **self._context(channel, user, (), GUILD_ID))
        message = on or self._answer_of(custom_id) or snowflake()
        payload["message"] = {"id": message, "channel_id": payload["channel_id"]}
        return self.send(payload)

    def _answer_of(self, custom_id: str) -> str | None:
        parsed = parse_custom_id(custom_id)
        return self.answers.get(parsed[1]) if parsed else None

    def ping(self) -> Reply:
        return self.send(self.signer.ping())

    def send(self, payload: dict[str, Any]) -> Reply:
        """Sign `payload` at the clock's time and hand it to the handler."""
        body, headers = self.signer.signed(payload, timestamp=str(int(self.clock())))
        return self.reply(self.handler.handle(headers, body), payload)

    @staticmethod
    def reply(response: HttpResponse, payload: dict[str, Any]) -> Reply:
        return Reply(response.status, response.body, payload)

    @staticmethod
    def _context(
        channel: Mapping[str, Any] | None, user: str, roles: Sequence[str], guild: str | None
    ) -> dict[str, Any]:
        place = dict(channel) if channel is not None else thread()
        return {"channel_id": place["id"], "channel": place, "user_id": user, "roles": list(roles), "guild_id": guild}
