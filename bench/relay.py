"""The gateway relay's footprint: memory (RSS) and CPU of the relay process at idle and under 100 messages a
minute, in a child process of its own (the real discord.py client and `docsbot.bot.relay`) against the fake
Gateway and Discord REST API on 127.0.0.1.

The child's queue counts tasks instead of calling Cloud Tasks, so this measures the relay itself: the
websocket, heartbeats, discord.py's parsing and cache, the decision and the task. The load is a mix per minute
of 40 new forum posts, 30 mentions in answered threads and 30 chatter messages the relay ignores.
`RELAY_BENCH_SECONDS` (default 60) sets the length of each phase.

    python -m bench relay
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _rss_mib(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def relay() -> None:
    from rich.table import Table

    from bench.knowledge_base import console  # here, not at the top: the child process must not load it
    from tests.bot.test_relay_gateway import message_payload, thread_payload
    from tests.harness.fakes.discord_api import FakeDiscordApi
    from tests.harness.fakes.discord_signing import APPLICATION_ID, FORUM_ID, OTHER_USER_ID, snowflake
    from tests.harness.fakes.gateway import FakeGateway, forum_guild

    seconds = float(os.environ.get("RELAY_BENCH_SECONDS", "60"))
    table = Table(title=f"relay process (discord.py), {seconds:.0f} s per phase")
    for column in ("phase", "messages", "queued", "CPU %", "RSS MiB", "peak RSS MiB"):
        table.add_column(column, justify="right" if column != "phase" else "left")
    with FakeDiscordApi() as api, FakeGateway(forum_guild([FORUM_ID]), bot_user=api.bot_user()) as gateway:
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'shared'}:{REPO}"}
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.relay", api.base_url, gateway.url, api.bot_token, APPLICATION_ID, FORUM_ID],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        assert child.stdout is not None
        outcomes: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith("ready"):
                    ready.set()
                else:
                    outcomes.append(line.strip())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            gateway.wait_until(lambda log: log.identifies, timeout=60)
            assert ready.wait(60), "the relay did not start"
            threads: list[str] = []

            def phase(name: str, per_minute: int) -> None:
                start_cpu, start = _cpu_seconds(child.pid), time.monotonic()
                before = len([o for o in outcomes if o.endswith("queued")])
                sent = 0
                while (elapsed := time.monotonic() - start) < seconds:
                    if per_minute and sent < elapsed * per_minute / 60:
                        kind = sent % 10
                        if kind < 4 or not threads:  # a new forum post
                            thread_id = snowflake()
                            gateway.dispatch(
                                "THREAD_CREATE", thread_payload(thread_id, FORUM_ID, "Question", OTHER_USER_ID)
                            )
                            gateway.dispatch("MESSAGE_CREATE", message_payload(thread_id, thread_id, "How do I..."))
                            threads.append(thread_id)
                        elif kind < 7:  # a mention in an answered thread
                            text = f"<@{APPLICATION_ID}> and then?"
                            mention = message_payload(snowflake(), threads[-1], text, mentions=[api.bot_user()])
                            gateway.dispatch("MESSAGE_CREATE", mention)
                        else:  # chatter the relay ignores
                            gateway.dispatch("MESSAGE_CREATE", message_payload(snowflake(), threads[-1], "thanks!"))
                        sent += 1
                    time.sleep(0.05)
                cpu = (_cpu_seconds(child.pid) - start_cpu) / (time.monotonic() - start) * 100
                queued = len([o for o in outcomes if o.endswith("queued")]) - before
                table.add_row(name, str(sent), str(queued), f"{cpu:.2f}", f"{_rss_mib(child.pid):.1f}",
                              f"{_rss_mib(child.pid, 'VmHWM'):.1f}")  # fmt: skip

            phase("idle", 0)
            phase("100 messages/min", 100)
        finally:
            child.terminate()
            child.wait(timeout=30)
    console.print(table)


def _child(api_base: str, gateway_url: str, token: str, application_id: str, forum_id: str) -> None:
    """The relay alone, its tasks counted: prints "ready", then one line per message ("<id> <outcome>").
    Imports nothing of the test harness: its memory is the relay's."""
    from docsbot.bot.gateway import BackgroundClient, RelayClient, configure_endpoints
    from docsbot.bot.relay import Relay
    from docsbot.bot.tasks import RespondTask
    from docsbot.settings.catalog import CollectionRecord, build_catalog

    class CountingQueue:
        def __init__(self) -> None:
            self.names: set[str] = set()

        def enqueue(self, task: RespondTask) -> bool:
            if task.task_name() in self.names:
                return False
            self.names.add(task.task_name())
            return True

    catalog = build_catalog([CollectionRecord("docs", "Docs")], {forum_id: "docs"}, {forum_id: "new_threads"})
    relay = Relay(CountingQueue(), catalog, application_id=application_id, allowed_guilds=None, clock=time.time)
    configure_endpoints(api_base, gateway_url)

    def report(message_id: str, outcome: str) -> None:
        print(message_id, outcome.split(":")[0], flush=True)

    client = RelayClient(relay, on_outcome=report)
    BackgroundClient(client, token).start()
    print("ready", flush=True)
    threading.Event().wait()  # until terminated


PARTS = {"relay": relay}

if __name__ == "__main__":
    _child(*sys.argv[1:6])
