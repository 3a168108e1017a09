"""HTTP glue shared by the functions and `docsbot serve`: Flask requests in, handler calls, responses out.

An interaction is refused from its headers before its body is read: the method, the declared size, the
signature and timestamp headers (present and well formed). Only then is the body read, at most
MAX_INTERACTION_BODY bytes within INTERACTION_READ_SECONDS (Discord sends a few kilobytes at once and wants its
answer within 3 s); refusals leave the rest of the body unread (docsbot.app.http_body).
"""

from __future__ import annotations

import json

import flask

from docsbot.app.http_body import BodyError, read_body, refusal
from docsbot.bot.interactions import InteractionsHandler
from docsbot.discord.verify import InvalidRequest, check_headers

MAX_INTERACTION_BODY = 64 * 1024  # Discord interactions are small; anything bigger is refused unread
MAX_TASK_BODY = 256 * 1024
INTERACTION_READ_SECONDS = 5.0
TASK_READ_SECONDS = 30.0


def json_response(status: int, body: object) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


def serve_interaction(
    handler: InteractionsHandler, request: flask.Request, *, read_timeout: float = INTERACTION_READ_SECONDS
) -> flask.Response:
    if request.method != "POST":
        return refusal(request, 405, {"error": "POST only"})
    try:
        check_headers(request.headers, request.content_length, max_body=MAX_INTERACTION_BODY)
        body = read_body(request, MAX_INTERACTION_BODY, read_timeout)
    except InvalidRequest as error:
        return refusal(request, error.status, {"error": error.reason})
    except BodyError as error:
        return refusal(request, error.status, {"error": error.message})
    result = handler.handle(request.headers, body)
    return json_response(result.status, result.body)


def serve_task(request: flask.Request, limit: int = MAX_TASK_BODY) -> bytes | flask.Response:
    """The body of a Cloud Tasks request, or the refusal to send when it is too large, slow or cut short."""
    try:
        return read_body(request, limit, TASK_READ_SECONDS)
    except BodyError as error:
        return refusal(request, error.status, {"error": error.message})
