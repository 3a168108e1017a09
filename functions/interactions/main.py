"""Cloud Function (2nd gen, HTTP): Discord's interactions endpoint.

Starts with `functions-framework --target interactions` (or as deployed by infra/terraform). Configured by
environment variables (README "Discord bot"): DISCORD_PUBLIC_KEY, DISCORD_APPLICATION_ID, DOCSBOT_STATE,
DOCSBOT_QUEUE and the Cloud Tasks settings, DOCSBOT_COLLECTIONS_FILE (the collections file baked into the
build). Refuses from the headers before reading a body (no or malformed signature headers: 401; a declared
body over 64 KiB: 413), reads the body within 5 s (408), verifies Discord's Ed25519 signature (401), answers
PING, defers questions to the respond function through Cloud Tasks, and answers everything else inline.
Built by `docsbot.app.bot.build_interactions`.
It imports nothing heavy, so a cold start answers well inside Discord's 3 seconds.
"""

from __future__ import annotations

import functools
import os

import flask
import functions_framework

from docsbot.app.bot_http import serve_interaction
from docsbot.app.logs import configure_json_logging
from docsbot.bot.interactions import InteractionsHandler
from docsbot.settings.bot import load_bot_settings


@functools.cache
def handler() -> InteractionsHandler:
    """Built on the first request of an instance; configuration errors fail loudly in the logs."""
    from docsbot.app.bot import build_interactions

    configure_json_logging()
    return build_interactions(load_bot_settings())


if os.environ.get("K_SERVICE"):
    # Deployed (Cloud Run sets K_SERVICE): build the clients while the instance starts, not inside the first
    # request's 3 seconds; a configuration error then fails the deployment loudly.
    handler()


@functions_framework.http
def interactions(request: flask.Request) -> flask.Response:
    return serve_interaction(handler(), request)
