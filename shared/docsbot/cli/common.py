"""What every `docsbot` command shares: the consoles, fail / warn, settings from the environment, progress bars,
the common options, and `guarded`: a connection failure ends any command with one line saying what could not
be reached and what to check, never a traceback. Imports nothing heavy, so `docsbot --help` stays fast.

Everything printed that is not ours (messages, names, URLs, snippets) is escaped: Rich markup must not eat
bracketed text such as the collection-name rule `^[a-z0-9][a-z0-9_-]{0,62}$`."""

from __future__ import annotations

import functools
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from docsbot.settings.config import COLLECTION_NAME_PATTERN, ConfigError, Settings, load_settings

# Piped output gets a wide console so deep links are never folded mid-URL.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CliDeps:
    """What a test injects into a command through the click context (`CliRunner().invoke(..., obj=CliDeps(...))`)."""

    clock: Callable[[], datetime] = utc_now


def deps(ctx: typer.Context) -> CliDeps:
    """The injected dependencies, or the real ones."""
    return ctx.obj if isinstance(ctx.obj, CliDeps) else CliDeps()


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def load_settings_or_fail() -> Settings:
    """The settings from the environment, or exit with every problem listed."""
    try:
        return load_settings()
    except ConfigError as error:
        fail(str(error))


def check_collection_name(name: str) -> str:
    """`name` if it is a valid collection name, else exit with the rule."""
    if not re.match(COLLECTION_NAME_PATTERN, name):
        fail(f"collection name {name!r} must be lower-case letters, digits, '-' or '_' (at most 63 characters)")
    return name


def progress_bar() -> Progress:
    """Progress bars on stderr, shown only on a terminal."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="Docs collection name.")]
AllowLargeDeleteOpt = Annotated[
    bool,
    typer.Option(
        "--allow-large-delete",
        help="Delete vanished pages even when far fewer pages than last time were found (DOCSBOT_SCRAPE_MAX_DROP).",
    ),
]


# (module prefix of an exception in the chain, what could not be reached, what to check)
_SERVICES: tuple[tuple[str, str, str], ...] = (
    ("qdrant_client", "the Qdrant server{url}", "check QDRANT_URL and that the Qdrant server is running"),
    (
        "openai",
        "the OpenAI API",
        "check OPENAI_BASE_URL / DOCSBOT_CHAT_BASE_URL, the API key and the network (or DOCSBOT_EMBEDDER=local)",
    ),
    (
        "google",
        "Google Cloud (Firestore)",
        "check DOCSBOT_STATE, GOOGLE_CLOUD_PROJECT, FIRESTORE_EMULATOR_HOST and your credentials",
    ),
    ("docsbot.discord", "the Discord API", "check the network and DISCORD_BOT_TOKEN"),
)
_TRANSPORT_MODULES = ("httpx", "httpcore", "requests", "urllib3", "grpc", "google.api_core")
_TRANSPORT_WORDS = ("Connect", "Timeout", "Unavailable", "Transport", "NetworkError")


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_connection_fault(error: BaseException) -> bool:
    from docsbot.errors import TransientError
    from docsbot.index.errors import IndexStoreError

    if isinstance(error, IndexStoreError):  # not indexed yet, locked by another process: its message says what to do
        return False
    if isinstance(error, TransientError | ConnectionError | TimeoutError | socket.gaierror):
        return True
    name, module = type(error).__name__, type(error).__module__
    return module.startswith(_TRANSPORT_MODULES) and any(word in name for word in _TRANSPORT_WORDS)


def connection_failure(error: BaseException) -> str | None:
    """One line saying what could not be reached and what to check, or None when `error` is no connection fault."""
    chain = list(_chain(error))
    if not any(_is_connection_fault(e) for e in chain):
        return None
    modules = [type(e).__module__ for e in chain]
    what, check = "a service", "check the URLs in your settings and the network"
    for prefix, service, hint in _SERVICES:
        if any(m.startswith(prefix) for m in modules) or (prefix == "qdrant_client" and "Qdrant" in str(error)):
            url = os.environ.get("QDRANT_URL", "")
            what, check = service.format(url=f" at {url}" if url else ""), hint
            break
    root = chain[-1]
    detail = " ".join(str(root).split()) or type(root).__name__
    return f"cannot reach {what} ({type(root).__name__}: {detail}): {check}"


F = TypeVar("F", bound=Callable[..., Any])


def guarded(command: F) -> F:
    """`command`, ending with one line and exit code 1 on a connection failure (no traceback)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:
            line = connection_failure(error)
            if line is None:
                raise
            fail(line, code=1)

    return run  # type: ignore[return-value]
