"""Discord bot benchmarks: cold import of the functions, and warm handling time of a signed /ask.

`python -m bench cold-import`: median of 20 fresh interpreters loading the real interactions function's
module (functions/interactions/main.py, by file path as the Functions Framework does, without K_SERVICE so
it only defines its handler) against the respond function and what it needs; target ≤ 200 ms.
`python -m bench ask-latency`: p50/p99 of the interactions handler answering signed `/ask` requests (verify,
parse, quota and interaction record in the store, enqueue to the Cloud Tasks emulator, deferred reply).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
HEAVY = (
    *("openai", "qdrant_client", "qdrant_edge", "bs4", "selenium", "tiktoken", "numpy", "grpc", "pydantic"),
    *("requests", "google.cloud.tasks_v2", "google.cloud.firestore"),
)
COLD_IMPORT_TARGET_MS = 200  # the interactions function, interpreter start included
INTERACTIONS = "interactions function (functions/interactions/main.py)"
console = Console(width=None if sys.stdout.isatty() else 200)

IMPORTS = {
    INTERACTIONS: (
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
        "import docsbot.answer.pipeline, docsbot.app.answerers, docsbot.app.indexes, docsbot.bot.respond"
    ),
    "python -c pass (interpreter start)": "pass",
}


# Cloud Run sets K_SERVICE; with it main.py would also build its clients at import, which a cold start does
# outside any request. The bench measures the module graph alone, like tests/test_architecture.py checks it.
_ENV = {key: value for key, value in os.environ.items() if key != "K_SERVICE"}


def _time(code: str, runs: int = 20) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_ENV, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), max(samples)


# What the function's module adds on top of what the server process has loaded before it (functions-framework
# imports Flask and the framework itself before it loads `main.py`): timed inside the interpreter.
OWN_IMPORTS = (
    "import importlib.util, sys, time; sys.path.insert(0, 'shared'); import flask, functions_framework;"
    "started = time.perf_counter();"
    "spec = importlib.util.spec_from_file_location('m', 'functions/interactions/main.py');"
    "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
    "print(time.perf_counter() - started)"
)


def _own_time(runs: int = 20) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", OWN_IMPORTS], cwd=ROOT, env=_ENV, check=True, capture_output=True, text=True
        )
        samples.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(samples), max(samples)


def cold_import() -> None:
    """Median and worst wall time of 20 fresh interpreters per import."""
    table = Table(title="cold import, 20 fresh interpreters each (interpreter start included)")
    for column in ("what", "median (ms)", "max (ms)", "target"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for label, code in IMPORTS.items():
        median, worst = _time(code)
        target = ""
        if label == INTERACTIONS:
            verdict = "met" if median * 1000 <= COLD_IMPORT_TARGET_MS else "MISSED"
            target = f"≤ {COLD_IMPORT_TARGET_MS} ms: {verdict}"
        table.add_row(label, f"{median * 1000:.0f}", f"{worst * 1000:.0f}", target)
    median, worst = _own_time()
    table.add_row(
        "interactions main.py alone (functions-framework and Flask already loaded, as the server has them)",
        f"{median * 1000:.0f}",
        f"{worst * 1000:.0f}",
        "",
    )
    console.print(table)
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            IMPORTS[INTERACTIONS]
            + "; print(sorted(n for n in HEAVY if n in sys.modules))".replace("HEAVY", repr(HEAVY)),
        ],
        cwd=ROOT,
        env=_ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    console.print(f"heavy modules loaded by the interactions function: {heavy}")


PARTS = {"cold-import": cold_import}


def ask_latency(requests_count: int = 300) -> None:
    """p50/p99 of the interactions handler on signed `/ask` requests, enqueueing to the Cloud Tasks emulator
    and recording state in the Firestore emulator (both on 127.0.0.1; the task target is a local 204 server)."""
    import os
    import tempfile
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from typing import Any

    from google.cloud import firestore

    from docsbot.bot.interactions import InteractionsHandler, Limits
    from docsbot.bot.queue import CloudTasksQueue, emulator_client
    from docsbot.settings.catalog import CollectionRecord, build_catalog
    from docsbot.store.firestore import FirestoreStore
    from tests.harness.fakes.discord_signing import TestSigner, snowflake
    from tests.harness.firestore_emulator import FirestoreEmulator, find_emulator_jar
    from tests.harness.tasks_emulator import QUEUE_PATH, run_emulator, wait_until_serving

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    jar = find_emulator_jar()
    if jar is None:
        raise SystemExit("the Firestore emulator is not installed (gcloud components)")
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    emulator = FirestoreEmulator(jar, "java", Path(tempfile.mkdtemp()) / "firestore.log")
    emulator.start()
    try:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host
        with run_emulator([QUEUE_PATH], 0) as (host_port, log_path):
            client = emulator_client(host_port)
            wait_until_serving(client, QUEUE_PATH, log_path, 20)
            store = FirestoreStore(firestore.Client(project="docsbot-bench"))
            queue = CloudTasksQueue(
                QUEUE_PATH,
                f"http://127.0.0.1:{sink.server_address[1]}/respond",
                service_account_email=None,
                client=client,
            )
            signer = TestSigner()
            handler = InteractionsHandler(
                signer.public_key_hex,
                store,
                queue,
                build_catalog([CollectionRecord("docs", "Docs")], {}),
                limits=Limits(10**6, 10**6),
                default_collection="docs",
            )
            samples: list[float] = []
            for i in range(requests_count + 20):
                payload = signer.slash_command(
                    "ask", {"question": f"how do I configure option {i}?"}, user_id=snowflake()
                )
                body, headers = signer.signed(payload)
                started = time.perf_counter()
                response = handler.handle(headers, body)
                elapsed = time.perf_counter() - started
                assert response.body == {"type": 5}, response.body
                if i >= 20:  # warm-up: first clients, channels, caches
                    samples.append(elapsed)
    finally:
        emulator.stop()
        sink.shutdown()
    samples.sort()
    table = Table(title=f"warm /ask handling, {requests_count} signed requests (Firestore + Cloud Tasks emulators)")
    for column in ("p50 (ms)", "p90 (ms)", "p99 (ms)", "max (ms)"):
        table.add_column(column, justify="right")
    pick = [samples[int(len(samples) * q)] for q in (0.5, 0.9, 0.99)] + [samples[-1]]
    table.add_row(*(f"{v * 1000:.1f}" for v in pick))
    console.print(table)


PARTS["ask-latency"] = ask_latency
