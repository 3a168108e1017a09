"""Cloud Function (2nd gen, HTTP): Discord's interactions endpoint.

Starts with `functions-framework --target interactions` (or as deployed by infra/terraform). Configured by
environment variables (README "Discord bot"): DISCORD_PUBLIC_KEY, DISCORD_APPLICATION_ID, DOCSBOT_STATE,
DOCSBOT_QUEUE and the Cloud Tasks settings. Verifies Discord's Ed25519 signature (401 otherwise), answers
PING, defers questions to the respond function through Cloud Tasks, and answers everything else inline.
It imports nothing heavy, so a cold start answers well inside Discord's 3 seconds.
"""

from __future__ import annotations

import functools
import os

import flask
import functions_framework

from docsbot.app.bot_http import serve_interaction
from docsbot.app.logs import configure_json_logging
from docsbot.bot.interactions import InteractionsHandler, Limits
from docsbot.bot.tasks import TaskQueue
from docsbot.settings.bot import load_bot_settings


@functools.cache
def handler() -> InteractionsHandler:
    """Built on the first request of an instance; configuration errors fail loudly in the logs."""
    from docsbot.app import bot as wiring

    configure_json_logging()
    bot = load_bot_settings()
    store = wiring.build_store(bot)
    queue: TaskQueue
    if bot.queue == "cloudtasks":
        queue = wiring.build_cloud_tasks_queue(bot)
    else:  # local development: answer in this process
        from docsbot.bot.queue import InProcessQueue
        from docsbot.settings.config import load_settings

        respond = wiring.build_respond(bot, load_settings(), store)
        queue = InProcessQueue(
            lambda body, headers: respond.handle(body, headers).status, retries=bot.max_attempts - 1, backoff_s=1.0
        )
    return InteractionsHandler(
        bot.public_key,
        store,
        queue,
        archiver=wiring.build_archiver(bot),
        default_collection=bot.default_collection,
        limits=Limits(
            user_questions_per_hour=bot.user_questions_per_hour,
            guild_questions_per_hour=bot.guild_questions_per_hour,
            staff_roles=bot.staff_roles,
        ),
    )


if os.environ.get("K_SERVICE"):
    # Deployed (Cloud Run sets K_SERVICE): build the clients while the instance starts, not inside the first
    # request's 3 seconds; a configuration error then fails the deployment loudly.
    handler()


@functions_framework.http
def interactions(request: flask.Request) -> flask.Response:
    return serve_interaction(handler(), request)
