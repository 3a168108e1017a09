"""The interactions function's core: verify, route, answer Discord within its 3-second deadline.

Commands are routed by a lookup in the command table (`docsbot.discord.commands.COMMANDS`). A deferred
command is answered "thinking…" (type 5) and queued as exactly one `RespondTask`, named after the interaction
id (`questions.py` admits it); an inline one goes to the handler method its entry names (`INLINE_HANDLERS`).
Buttons and the follow-up modal are routed by their custom_id (`docsbot.discord.components`), and act only when
the message they sit on is one of the bot's stored answers in the conversation the custom_id names, in that
conversation's channel (`_belongs`): a forged custom_id cannot vote on or read another conversation, and the
buttons of a private answer (never stored) make nothing public. Bad requests get a 4xx and leave nothing
behind: nothing stored, nothing queued; an unknown command (a stale registration) gets a private message saying
so. With an allow-list of servers (`Limits.allowed_guilds`), any other server (or a DM) gets a polite private
refusal before anything is read or written: no quota, no task. This module imports nothing heavy (no openai,
qdrant_client, bs4, requests): it is on the cold-start path.

Long because: every inline command, button and modal is answered here, and splitting the router from its handlers
would scatter the one place that shows who may do what.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from docsbot.bot.questions import Question, Questions
from docsbot.bot.tasks import TaskQueue
from docsbot.discord import responses
from docsbot.discord.commands import MAX_QUESTION, Command, Deferred, Handler, Visibility, find_command
from docsbot.discord.commands import help_lines as command_help_lines
from docsbot.discord.components import (
    FOLLOWUP_INPUT,
    REASON_INPUT,
    classify_reason,
    followup_modal,
    parse_custom_id,
    parse_followup_modal_id,
    parse_reason_modal_id,
    reason_modal,
    vote_buttons,
)
from docsbot.discord.interaction import BadInteraction, Interaction, InteractionType, parse_interaction
from docsbot.discord.render import render_error
from docsbot.discord.verify import HeaderItems, InvalidRequest, verify_request
from docsbot.settings.catalog import Catalog
from docsbot.store.model import Feedback, NewThread, Solution, ThreadRecord, ThreadUpdate
from docsbot.store.ports import StateStore

log = logging.getLogger("docsbot.interactions")

HELP_INTRO = "**docsbot** answers from the documentation, with links to the exact sections."
HELP_THREADS = "Thread commands work in threads (forum posts); solve, close and open are for its author or staff."
NOT_THIS_CONVERSATION = (
    "This button doesn't belong to this conversation (or to a private answer, which has none). "
    "Use the buttons under my latest answer here, or ask with `/ask`."
)
# Buttons are honoured on the thread's controller (its first answer) and on the bot's answers among this many
# latest messages; an older answer's buttons are refused with a pointer to the latest one.
ANSWERS_CHECKED = 50
NOT_THIS_SERVER = (
    "Sorry, this docs bot only answers in the servers it was set up for. Ask its owner, or use it in their server."
)


class ThreadArchiver(Protocol):
    def modify_channel(self, channel_id: str, payload: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Limits:
    user_questions_per_hour: int = 20
    guild_questions_per_hour: int = 300
    staff_roles: frozenset[str] = frozenset()
    # The servers the bot answers in (DOCSBOT_ALLOWED_GUILDS); None: any server it is added to.
    allowed_guilds: frozenset[str] | None = None


def _reply(text: str, *, private: bool) -> HttpResponse:
    return HttpResponse(200, responses.message(render_error(text, ephemeral=private)))


def _ephemeral(text: str) -> HttpResponse:
    return _reply(text, private=True)


InlineHandler = Callable[["InteractionsHandler", Interaction, Command], HttpResponse]


class InteractionsHandler:
    """Turns one signed Discord request into the response Discord expects."""

    def __init__(
        self,
        public_key: str,
        store: StateStore,
        queue: TaskQueue,
        catalog: Catalog,
        *,
        archiver: ThreadArchiver | None = None,
        default_collection: str | None = None,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.public_key = public_key
        self.store = store
        self.archiver = archiver
        self.limits = limits or Limits()
        self.clock = clock
        self.questions = Questions(
            store,
            queue,
            catalog,
            default_collection=default_collection,
            user_per_hour=self.limits.user_questions_per_hour,
            guild_per_hour=self.limits.guild_questions_per_hour,
            clock=clock,
        )

    # --- entry -----------------------------------------------------------------------------------------

    def handle(self, headers: HeaderItems, body: bytes) -> HttpResponse:
        try:
            verify_request(headers, body, self.public_key, now=self.clock())
        except InvalidRequest as error:
            return HttpResponse(error.status, {"error": error.reason})
        try:
            interaction = parse_interaction(body)
        except BadInteraction as error:
            return HttpResponse(400, {"error": str(error)})
        if interaction.type == InteractionType.PING:
            return HttpResponse(200, responses.pong())
        if not self._guild_allowed(interaction):
            # Before anything is read or written: a stranger's server costs no quota, no task, no state.
            if interaction.type == InteractionType.AUTOCOMPLETE:
                return HttpResponse(200, responses.autocomplete([]))
            return _ephemeral(NOT_THIS_SERVER)
        if interaction.type == InteractionType.APPLICATION_COMMAND:
            return self._command(interaction)
        if interaction.type == InteractionType.AUTOCOMPLETE:
            return self._autocomplete(interaction)
        if interaction.type == InteractionType.MESSAGE_COMPONENT:
            return self._component(interaction)
        return self._modal(interaction)  # MODAL_SUBMIT: the parser accepts no other type

    def _guild_allowed(self, interaction: Interaction) -> bool:
        """Whether the allow-list (if any) names the interaction's server; a DM has none, so it is refused."""
        allowed = self.limits.allowed_guilds
        return allowed is None or (interaction.guild_id is not None and interaction.guild_id in allowed)

    # --- commands --------------------------------------------------------------------------------------

    def _command(self, interaction: Interaction) -> HttpResponse:
        command = find_command(interaction.command_name)
        if command is None or command.type != interaction.command_type:
            # Still registered in Discord but no longer ours (or not yet deployed): say so, don't fail.
            log.warning("unknown command", extra={"command": (interaction.command_name or "")[:100]})
            return _ephemeral("I don't know that command (any more). `/commands` lists what I can do.")
        if isinstance(command.answer, Deferred):
            return self._deferred_command(interaction, command, command.answer)
        return INLINE_HANDLERS[command.answer.handler](self, interaction, command)

    def _deferred_command(self, interaction: Interaction, command: Command, answer: Deferred) -> HttpResponse:
        options = interaction.options
        private = {
            Visibility.PUBLIC: False,
            Visibility.PRIVATE: True,
            Visibility.CHOSEN: bool(options.get("private", False)),
        }[command.visibility]
        if answer.question_option is not None:
            text = str(options.get(answer.question_option, ""))
            return self._defer(interaction, Question(answer.task, text, options.get("collection"), private))
        # A context menu on a message: that message is the question. Outside a thread, the conversation
        # belongs to the message's author; in one, to the thread's owner.
        target = interaction.target_message
        in_thread = interaction.channel is not None and interaction.channel.is_thread
        question = Question(
            answer.task,
            target.content if target is not None else "",
            None,
            private,
            source_message_id=target.id if target else None,
            author_id=None if in_thread else (target.author_id if target else None),
        )
        return self._defer(interaction, question)

    def _defer(self, interaction: Interaction, question: Question) -> HttpResponse:
        refusal = self.questions.admit(interaction, question)
        if refusal is not None:
            return _ephemeral(refusal)
        return HttpResponse(200, responses.deferred(ephemeral=question.private))

    # --- inline commands --------------------------------------------------------------------------------

    def _help(self, interaction: Interaction, command: Command) -> HttpResponse:
        collections = self.questions.collections()
        known = ", ".join(f"`{c.name}` ({c.title})" for c in collections) if collections else "none configured"
        lines = [HELP_INTRO, *command_help_lines(), HELP_THREADS, "", f"**Collections here:** {known}"]
        return _reply("\n".join(lines), private=command.visibility != Visibility.PUBLIC)

    def _may_manage(self, interaction: Interaction, thread: ThreadRecord | None) -> bool:
        if set(interaction.member_roles) & self.limits.staff_roles:
            return True
        if thread is not None:
            return interaction.user_id == thread.author_id
        return interaction.channel is not None and interaction.channel.owner_id == interaction.user_id

    def _solve(self, interaction: Interaction, command: Command) -> HttpResponse:
        return self._housekeeping(interaction, command, Handler.SOLVE)

    def _unsolve(self, interaction: Interaction, command: Command) -> HttpResponse:
        return self._housekeeping(interaction, command, Handler.UNSOLVE)

    def _close(self, interaction: Interaction, command: Command) -> HttpResponse:
        return self._housekeeping(interaction, command, Handler.CLOSE)

    def _open(self, interaction: Interaction, command: Command) -> HttpResponse:
        return self._housekeeping(interaction, command, Handler.OPEN)

    def _managed_thread(self, interaction: Interaction) -> ThreadRecord | HttpResponse:
        """The thread this command was used in, created when the bot has not answered there yet; or the refusal
        when this is not a thread or the user is neither its author nor staff."""
        if interaction.channel is None or not interaction.channel.is_thread:
            return _ephemeral("This works in threads (forum posts) only.")
        thread_id = interaction.channel_id or ""
        thread = self.store.get_thread(thread_id) if thread_id else None
        if not self._may_manage(interaction, thread):
            return _ephemeral("Only the person who started this thread, or staff, can do that.")
        if thread is None:
            collection, _ = self.questions.resolve_collection(interaction, None)
            owner = interaction.channel.owner_id
            thread = self.store.ensure_thread(
                NewThread(
                    thread_id=thread_id,
                    collection=collection or "",
                    author_id=owner or interaction.user_id,
                    guild_id=interaction.guild_id,
                    title=interaction.channel.name or "",
                ),
                datetime.fromtimestamp(self.clock(), UTC),
            )
        return thread

    def _housekeeping(self, interaction: Interaction, command: Command, action: Handler) -> HttpResponse:
        """/solve, /unsolve, /close and /open: the thread's author or staff, in threads only."""
        thread = self._managed_thread(interaction)
        if isinstance(thread, HttpResponse):
            return thread
        thread_id = thread.thread_id
        now = datetime.fromtimestamp(self.clock(), UTC)
        private = command.visibility != Visibility.PUBLIC
        if action in (Handler.SOLVE, Handler.UNSOLVE):
            solved = action == Handler.SOLVE
            if not solved:
                self.store.clear_solution(thread_id, now)  # "not solved" cannot keep an accepted solution
            self.store.update_thread(thread_id, ThreadUpdate(solved=solved), now)
            return _reply("Marked as solved. Thanks!" if solved else "Marked as not solved.", private=private)
        if self.archiver is None:
            return _ephemeral("Closing and reopening threads needs the bot token (DISCORD_BOT_TOKEN).")
        archived = action == Handler.CLOSE
        # Archive before answering: a message posted in the thread afterwards would unarchive it again.
        try:
            self.archiver.modify_channel(thread_id, {"archived": archived})
        except Exception as error:  # missing Manage Threads permission, Discord down: say so, don't fail
            log.warning("archiving failed", extra={"thread_id": thread_id, "error": type(error).__name__})
            return _ephemeral("I couldn't change this thread: I may lack the Manage Threads permission.")
        self.store.update_thread(thread_id, ThreadUpdate(open=not archived), now)
        return _reply("Thread closed. `/open` reopens it." if archived else "Thread reopened.", private=private)

    def _mark_solution(self, interaction: Interaction, command: Command) -> HttpResponse:
        """ "Mark as solution" on a message in a thread: its author or staff records that message (a person's or
        the bot's) as the accepted solution, which marks the thread solved. Marking it again changes nothing."""
        target = interaction.target_message
        if target is None or not target.content.strip():
            return _ephemeral("I couldn't read that message (it has no text), so I can't record it as the solution.")
        thread = self._managed_thread(interaction)
        if isinstance(thread, HttpResponse):
            return thread
        now = datetime.fromtimestamp(self.clock(), UTC)
        from_bot = target.author_id == interaction.application_id
        # The bot's answer keeps the sources it cited (the eval export's relevant pages); a person's has none.
        stored = [
            m for m in self.store.list_messages(thread.thread_id, limit=ANSWERS_CHECKED) if m.message_id == target.id
        ]
        link = f"https://discord.com/channels/{interaction.guild_id or '@me'}/{thread.thread_id}/{target.id}"
        solution = Solution(
            message_id=target.id,
            author_id=target.author_id or "",
            content=target.content,
            link=link,
            from_bot=from_bot,
            marked_by=interaction.user_id,
            marked_at=now,
            sources=stored[0].sources if stored and from_bot else (),
        )
        changed = self.store.mark_solution(thread.thread_id, solution, now)
        log.info("solution marked", extra={"thread_id": thread.thread_id, "changed": changed, "from_bot": from_bot})
        text = f"Marked [this message]({link}) as the solution. Thanks!"
        return _reply(text if changed else f"[This message]({link}) is already the solution.", private=False)

    def _status(self, interaction: Interaction, command: Command) -> HttpResponse:
        thread = self.store.get_thread(interaction.channel_id) if interaction.channel_id else None
        if thread is None:
            return _ephemeral("I haven't answered anything in this thread yet.")
        text = (
            f"Collection: `{thread.collection}` · {'solved' if thread.solved else 'not solved'} · "
            f"{'open' if thread.open else 'closed'} · votes: {thread.solved_votes} solved, "
            f"{thread.failed_votes} not solved"
        )
        return _reply(text, private=command.visibility != Visibility.PUBLIC)

    # --- autocomplete, buttons, modal ------------------------------------------------------------------

    def _autocomplete(self, interaction: Interaction) -> HttpResponse:
        """Collection suggestions, for the options the table marks as autocompleted (only `collection`)."""
        command = find_command(interaction.command_name)
        focused = interaction.focused_option or ""
        if command is None or not any(o.name == focused and o.autocomplete for o in command.options):
            return HttpResponse(200, responses.autocomplete([]))
        typed = str(interaction.options.get(focused, "") or "").lower()
        choices = [
            {"name": f"{c.name} — {c.title}"[:100], "value": c.name}
            for c in self.questions.collections()
            if typed in c.name.lower() or typed in c.title.lower()
        ]
        return HttpResponse(200, responses.autocomplete(choices[:25]))

    def _component(self, interaction: Interaction) -> HttpResponse:
        """A button under an answer: a vote (the message is updated with the counts) or Follow up (a modal)."""
        parsed = parse_custom_id(interaction.custom_id)
        if parsed is None:
            return HttpResponse(400, {"error": "unknown component"})
        action, thread_id = parsed
        thread = self.store.get_thread(thread_id)
        if thread is None:
            return _ephemeral("This conversation is no longer known to me.")
        if not self._belongs(interaction, thread):
            return _ephemeral(NOT_THIS_CONVERSATION)
        if action == "followup":
            return HttpResponse(200, followup_modal(thread_id, max_length=MAX_QUESTION))
        if action == "reason":
            return HttpResponse(200, reason_modal(thread_id))
        now = datetime.fromtimestamp(self.clock(), UTC)
        result = self.store.record_vote(
            thread_id, interaction.user_id, action, is_author=interaction.user_id == thread.author_id, now=now
        )
        buttons = vote_buttons(thread_id, solved=result.solved_votes, failed=result.failed_votes)
        return HttpResponse(200, responses.update_message({"components": buttons, "allowed_mentions": {"parse": []}}))

    def _modal(self, interaction: Interaction) -> HttpResponse:
        """The follow-up form (a question continuing the conversation of the button that opened it), or the
        "not solved" reason form."""
        reason_thread = parse_reason_modal_id(interaction.custom_id)
        if reason_thread is not None:
            return self._reason(interaction, reason_thread)
        thread_id = parse_followup_modal_id(interaction.custom_id)
        if thread_id is None:
            return HttpResponse(400, {"error": "unknown modal"})
        thread = self.store.get_thread(thread_id)
        if thread is None:
            return _ephemeral("This conversation is no longer known to me.")
        if not self._belongs(interaction, thread):
            return _ephemeral(NOT_THIS_CONVERSATION)
        question = interaction.modal_values.get(FOLLOWUP_INPUT, "")
        followup = Question(
            "followup", question, thread.collection, private=False, thread_id=thread_id, author_id=thread.author_id
        )
        return self._defer(interaction, followup)

    def _reason(self, interaction: Interaction, thread_id: str) -> HttpResponse:
        """The optional "why wasn't it solved?" form: one reason per user, kept for the gaps report."""
        thread = self.store.get_thread(thread_id)
        if thread is None:
            return _ephemeral("This conversation is no longer known to me.")
        if not self._belongs(interaction, thread):
            return _ephemeral(NOT_THIS_CONVERSATION)
        text = " ".join(interaction.modal_values.get(REASON_INPUT, "").split())
        now = datetime.fromtimestamp(self.clock(), UTC)
        self.store.record_feedback(Feedback(thread_id, interaction.user_id, classify_reason(text), text, now))
        return _ephemeral("Thanks: that helps us improve the answers and the docs.")

    def _belongs(self, interaction: Interaction, thread: ThreadRecord) -> bool:
        """Whether the button (or the modal it opened) sits on one of the bot's answers in `thread`'s conversation,
        in its channel. Discord only sends custom_ids that exist on the message, so this is defence in depth
        against a forged one naming another conversation. A private answer is never stored, so its buttons
        (older private answers carried them) act on nothing: a follow-up of a private answer is never public."""
        if interaction.channel_id not in {thread.thread_id, thread.channel_id}:
            return False
        message = interaction.message_id
        if message is None:
            return False
        if message == thread.thread_controller_id:
            return True
        recent = self.store.list_messages(thread.thread_id, limit=ANSWERS_CHECKED)
        return any(m.from_bot and m.message_id == message for m in recent)


# What each table entry's `Inline.handler` runs; `tests/bot/test_routing.py` checks every handler is here.
INLINE_HANDLERS: Mapping[Handler, InlineHandler] = {
    Handler.HELP: InteractionsHandler._help,
    Handler.SOLVE: InteractionsHandler._solve,
    Handler.UNSOLVE: InteractionsHandler._unsolve,
    Handler.CLOSE: InteractionsHandler._close,
    Handler.OPEN: InteractionsHandler._open,
    Handler.STATUS: InteractionsHandler._status,
    Handler.MARK_SOLUTION: InteractionsHandler._mark_solution,
}
