"""The solved-threads source: a collection's solved Discord threads, indexed as community answers.

A collection opts in with a `kind = "threads"` source in the collections file. Each load reads the collection's
threads from the state store (`docsbot.learning.threads.solved_threads`) and turns every solved one into one
`Page` of kind `COMMUNITY_KIND`:

- URL: the Discord thread link `https://discord.com/channels/<guild>/<thread>` (the guild from the thread record,
  else from the solution's message link; a thread with neither is skipped and said so);
- title: the thread's title (else its first question), then the people's questions and the accepted answer
  (a person's message marked as the solution; the bot's answer only with `bot_answers`, its `[n]` markers
  removed), as plain paragraphs: a `#` line typed in Discord must not become a heading (a section anchor
  would end up in the thread link);
- every text scrubbed of personal data and secrets with `docsbot.learning.pii.Scrubber` (fixed key: the same
  thread gives the same page, so an unchanged thread is never embedded again).

It goes through the one refresh pipeline like every other source. The load is complete and its `reached` count
is the number of threads listed, solved or not: a thread that is unsolved is still reached (it is known not to
be a page), so a few unsolves delete their pages without tripping the drop guard, while a store read that comes
back empty (a wrong database, a wiped store) reaches nothing and the guard refuses to delete. A store that fails
raises: the refresh is "failed" and the index untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from docsbot.answer.citations import strip_citations
from docsbot.documents.anchors import fence_mask
from docsbot.documents.model import COMMUNITY_KIND, Page
from docsbot.learning.pii import Scrubber
from docsbot.learning.threads import ThreadView, solved_threads
from docsbot.settings.config import ThreadsSource
from docsbot.store.ports import StateStore

DISCORD_CHANNELS = "https://discord.com/channels/"
MAX_TITLE_CHARS = 200
MAX_QUESTION_CHARS = 4_000  # Discord's own message limit (Nitro): a pasted log is cut, not indexed whole
MAX_ANSWER_CHARS = 8_000
MAX_QUESTIONS = 5  # the first questions of a long thread say what it is about
ANSWER_BY_PERSON = "Accepted answer (a reply in the thread, marked as the solution):"
ANSWER_BY_BOT = "Accepted answer (the bot's answer, marked as the solution):"

_SNOWFLAKE = re.compile(r"^\d{1,22}$")
_MESSAGE_LINK = re.compile(r"^https://(?:\w+\.)?discord(?:app)?\.com/channels/(\d{1,22})/\d{1,22}(?:/\d{1,22})?$")
_HEADING_LIKE = re.compile(r"^([ \t]{0,3})(#{1,6})(?=[ \t]|$)")


def thread_url(view: ThreadView) -> str | None:
    """The Discord link of the thread, or None when its guild is unknown (no link can be built)."""
    thread = view.thread
    guild = thread.guild_id
    if not guild and view.solution is not None:
        match = _MESSAGE_LINK.match(view.solution.link)
        guild = match.group(1) if match else None
    if not guild or not _SNOWFLAKE.match(guild) or not _SNOWFLAKE.match(thread.thread_id):
        return None
    return f"{DISCORD_CHANNELS}{guild}/{thread.thread_id}"


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def _no_headings(text: str) -> str:
    """`text` with heading lines outside code fences escaped (`\\#`), so the page stays one section."""
    lines = text.split("\n")
    return "\n".join(
        line if fenced else _HEADING_LIKE.sub(r"\1\\\2", line)
        for line, fenced in zip(lines, fence_mask(lines), strict=True)
    )


def thread_page(view: ThreadView, scrubber: Scrubber, *, tags: Sequence[str] = ()) -> Page | None:
    """The solved thread as one page (see the module docstring), or None when it has no answer or no link."""
    accepted = view.accepted_answer
    url = thread_url(view)
    if accepted is None or url is None:
        return None
    text, _urls, by_bot = accepted
    answer = strip_citations(text) if by_bot else text
    questions = [_no_headings(scrubber.scrub(_clip(q, MAX_QUESTION_CHARS))) for q in view.questions[:MAX_QUESTIONS]]
    answer = _no_headings(scrubber.scrub(_clip(answer, MAX_ANSWER_CHARS)))
    if not answer.strip():
        return None
    title_text = view.thread.title.strip() or (view.questions[0] if view.questions else "")
    title = " ".join(scrubber.scrub(_clip(title_text, MAX_TITLE_CHARS)).split()) or "Solved thread"
    blocks = ["Question:", *questions] if questions else []
    blocks += [ANSWER_BY_BOT if by_bot else ANSWER_BY_PERSON, answer]
    return Page(
        url=url,
        title=title,
        markdown="\n\n".join(blocks) + "\n",
        source_kind=COMMUNITY_KIND,
        origin=f"thread {view.thread.thread_id}",
        tags=tuple(tags),
    )


@dataclass
class ThreadPages:
    """One read of the solved threads: their pages, the threads listed (solved or not), those without a link."""

    pages: list[Page] = field(default_factory=list)
    listed: int = 0
    unlinked: int = 0


def load_thread_pages(
    store: StateStore, collection: str, source: ThreadsSource, keep_alive: Callable[[], None] = lambda: None
) -> ThreadPages:
    """The pages of `collection`'s solved threads (see the module docstring); raises when the store fails."""
    solved = solved_threads(store, collection, bot_answers=source.bot_answers, limit=source.max_threads)
    scrubber = Scrubber()
    read = ThreadPages(listed=solved.listed)
    for view in solved.views:
        keep_alive()
        page = thread_page(view, scrubber, tags=source.tags)
        if page is None:
            read.unlinked += 1
        else:
            read.pages.append(page)
    return read
