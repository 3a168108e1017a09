"""A trivial HTTP Cloud Function for tests: serve it with tests/harness/functions_server.py (`--target echo`).

Answers JSON: the method, path, `Content-Type` and `X-CloudTasks-*` headers (names lower-cased), the body as
text, `greeting` (the environment's ECHO_GREETING: proves the env reached the process) and `interaction_id`
when the body is a `RespondTask` (proves `docsbot` imports). A request header `X-Echo-Status: 503` sets the
status. With ECHO_RECORD_DIR set, each request is also written there as a JSON file, for callers that never
see the response (the Cloud Tasks emulator).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import flask
import functions_framework

from docsbot.bot.tasks import RespondTask

_counter = itertools.count()


def _interaction_id(body: bytes) -> str | None:
    try:
        return RespondTask.from_json(body).interaction_id
    except ValueError:
        return None


@functions_framework.http
def echo(request: flask.Request) -> flask.Response:
    body = request.get_data()
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("x-cloudtasks-")}
    entry: dict[str, Any] = {
        "method": request.method,
        "path": request.full_path.rstrip("?"),
        "content_type": request.headers.get("Content-Type"),
        "headers": headers,
        "body": body.decode("utf-8", errors="replace"),
        "greeting": os.environ.get("ECHO_GREETING"),
        "interaction_id": _interaction_id(body),
    }
    record_dir = os.environ.get("ECHO_RECORD_DIR")
    if record_dir:
        target = Path(record_dir) / f"{os.getpid()}-{next(_counter):06d}.json"
        partial = target.with_suffix(".partial")
        partial.write_text(json.dumps(entry))
        partial.replace(target)  # atomic: a reader never sees half a file
    status = int(request.headers.get("X-Echo-Status") or 200)
    return flask.Response(json.dumps(entry), status=status, mimetype="application/json")
