"""Cloud Function (2nd gen, HTTP): answers deferred Discord interactions, called by Cloud Tasks only.

Starts with `functions-framework --target respond`. IAM lets only the Cloud Tasks service account invoke it
(OIDC token checked by Google before the request reaches us); requests without the Cloud Tasks headers are
refused as well, as a second guard.
Configured like the interactions function plus the index and model settings (QDRANT_URL with the
read-only QDRANT_API_KEY, OPENAI_API_KEY, DOCSBOT_COLLECTIONS_FILE). Answers 2xx when the task is done
(or can never succeed) and 503 to have Cloud Tasks retry later.
"""

from __future__ import annotations

import functools
import os

import flask
import functions_framework

from docsbot.app.bot_http import json_response, serve_task
from docsbot.app.http_body import refusal
from docsbot.app.logs import configure_json_logging
from docsbot.bot.respond import RespondHandler
from docsbot.settings.bot import load_bot_settings


@functools.cache
def handler() -> RespondHandler:
    from docsbot.app import bot as wiring
    from docsbot.settings.config import load_settings

    configure_json_logging()
    bot = load_bot_settings()
    store = wiring.build_store(bot)
    return wiring.build_respond(bot, load_settings(), store)


if os.environ.get("K_SERVICE"):
    handler()  # deployed: load the index clients and models while the instance starts


@functions_framework.http
def respond(request: flask.Request) -> flask.Response:
    if request.method != "POST":
        return refusal(request, 405, {"error": "POST only"})
    if "X-CloudTasks-QueueName" not in request.headers:
        return refusal(request, 403, {"error": "only Cloud Tasks may call this function"})
    body = serve_task(request)  # bounded in size and time: a 413 / 408 / 400 leaves the rest unread
    if isinstance(body, flask.Response):
        return body
    result = handler().handle(body, request.headers)
    return json_response(result.status, {"outcome": result.outcome})
