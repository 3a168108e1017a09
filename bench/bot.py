"""Discord bot benchmarks: cold import of the functions, and warm handling time of a signed /ask.

`python -m bench cold-import`: median of 20 fresh interpreters importing the interactions function's
module (functions/interactions/main.py) against importing what the respond function needs.
`python -m bench ask-latency`: p50/p99 of the interactions handler answering signed `/ask` requests (verify,
parse, quota and interaction record in the store, enqueue to the Cloud Tasks emulator, deferred reply).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("openai", "qdrant_client", "qdrant_edge", "bs4", "selenium", "tiktoken", "numpy", "pydantic")
console = Console(width=None if sys.stdout.isatty() else 200)

IMPORTS = {
    "interactions function (functions/interactions/main.py)": (
        "import importlib.util, sys; sys.path.insert(0, 'shared');"
        "spec = importlib.util.spec_from_file_location('m', 'functions/interactions/main.py');"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)"
    ),
    "respond function (functions/respond/main.py)": (
        "import importlib.util, sys; sys.path.insert(0, 'shared');"
        "spec = importlib.util.spec_from_file_location('m', 'functions/respond/main.py');"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)"
    ),
    "respond's dependencies (openai, qdrant_client, docsbot.answer, docsbot.index)": (
        "import sys; sys.path.insert(0, 'shared'); import openai, qdrant_client, qdrant_edge, tiktoken;"
        "import docsbot.answer.pipeline, docsbot.answer.factory, docsbot.index.factory, docsbot.bot.respond"
    ),
    "python -c pass (interpreter start)": "pass",
}


def _time(code: str, runs: int = 20) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), max(samples)


def cold_import() -> None:
    """Median and worst wall time of 20 fresh interpreters per import."""
    table = Table(title="cold import, 20 fresh interpreters each")
    for column in ("what", "median (ms)", "max (ms)"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for label, code in IMPORTS.items():
        median, worst = _time(code)
        table.add_row(label, f"{median * 1000:.0f}", f"{worst * 1000:.0f}")
    console.print(table)
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            IMPORTS["interactions function (functions/interactions/main.py)"]
            + "; print(sorted(n for n in HEAVY if n in sys.modules))".replace("HEAVY", repr(HEAVY)),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    console.print(f"heavy modules loaded by the interactions function: {heavy}")


PARTS = {"cold-import": cold_import}
