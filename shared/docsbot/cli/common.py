"""What every `docsbot` command shares: the consoles, fail / warn, settings from the environment, progress bars
and the common options. Imports nothing heavy, so `docsbot --help` stays fast."""

from __future__ import annotations

import re
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from docsbot.settings.config import COLLECTION_NAME_PATTERN, ConfigError, Settings, load_settings

# Piped output gets a wide console so deep links are never folded mid-URL.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {message}", highlight=False)


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
