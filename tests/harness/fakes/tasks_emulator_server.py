"""Runs gcloud-tasks-emulator 0.6.2 on 127.0.0.1 only; started by tests/harness/tasks_emulator.py
with the emulator's venv.

The emulator binds `[::]:PORT` (every interface) whatever host it is given, so its gRPC server's
`add_insecure_port` is wrapped to bind 127.0.0.1. Port 0 picks a free port; the bound port is written to
`TASKS_EMULATOR_PORT_FILE` once the server runs. Environment:

- TASKS_EMULATOR_PORT (default 0), TASKS_EMULATOR_PORT_FILE (required)
- TASKS_EMULATOR_QUEUES: comma-separated queue paths to create at start
- TASKS_EMULATOR_MAX_RETRIES: retries after the first attempt (default 3; -1 retries forever)

SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import grpc._server  # type: ignore[import-untyped]
from gcloud_tasks_emulator.server import create_server  # type: ignore[import-not-found]

_bound_ports: list[int] = []
_original_add_insecure_port = grpc._server._Server.add_insecure_port


def _loopback_add_insecure_port(self: Any, address: str) -> int:
    port = address.rsplit(":", 1)[1]
    bound: int = _original_add_insecure_port(self, f"127.0.0.1:{port}")
    _bound_ports.append(bound)
    return bound


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    port_file = Path(os.environ["TASKS_EMULATOR_PORT_FILE"])
    port = int(os.environ.get("TASKS_EMULATOR_PORT", "0"))
    queues = [q for q in os.environ.get("TASKS_EMULATOR_QUEUES", "").split(",") if q]
    max_retries = int(os.environ.get("TASKS_EMULATOR_MAX_RETRIES", "3"))
    grpc._server._Server.add_insecure_port = _loopback_add_insecure_port

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    # The target host/port only matter for App Engine tasks; HTTP tasks carry their full URL.
    server = create_server("127.0.0.1", port, "127.0.0.1", 80, queues, max_retries)
    server.start()
    # The API thread binds the port asynchronously: wait (bounded) for it before announcing it.
    for _ in range(200):
        if _bound_ports or stop.wait(0.025):
            break
    if not _bound_ports or _bound_ports[0] == 0:  # grpc returns 0 when it could not bind
        print(f"the emulator's gRPC server did not bind 127.0.0.1:{port}", file=sys.stderr)
        server.stop()
        os._exit(1)
    partial = port_file.with_suffix(".partial")
    partial.write_text(str(_bound_ports[0]))
    partial.replace(port_file)  # atomic: the parent never reads a half-written port
    logging.info("tasks emulator listening on 127.0.0.1:%s", _bound_ports[0])

    stop.wait()
    server.stop()
    # The emulator's per-queue threads are not daemons and one may be stuck in an HTTP call without a timeout.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
