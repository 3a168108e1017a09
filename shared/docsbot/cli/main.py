"""The `docsbot` command: one Typer app; each area's commands are declared in their own module.

| module | commands |
|---|---|
| `cli/index.py` | ingest, scrape, search, eval |
| `cli/answer.py` | ask, demo |
| `cli/bot.py` | serve, register-commands |
| `cli/refresh.py` | scrape-job, status, push |
| `cli/learning.py` | export, simulate, gaps, map, digest |
"""

from __future__ import annotations

import sys

import typer

from docsbot.cli import answer, bot, index, learning, refresh
from docsbot.cli.common import err, guarded

app = typer.Typer(
    help="docsbot: answers questions from your documentation, with citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
index.register(app)
answer.register(app)
bot.register(app)
refresh.register(app)
learning.register(app)
# A connection failure in any command is one line saying what to check, never a traceback.
for _command in app.registered_commands:
    if _command.callback is not None:
        _command.callback = guarded(_command.callback)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
