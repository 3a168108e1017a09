"""HTTP glue shared by the functions and `docsbot serve`: Flask requests in, handler calls, responses out."""

from __future__ import annotations

import json

import flask

from docsbot.bot.interactions import InteractionsHandler

MAX_INTERACTION_BODY = 64 * 1024  # Discord interactions are small; anything bigger is refused unread
MAX_TASK_BODY = 256 * 1024


def json_response(status: int, body: object) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


def too_large(request: flask.Request, limit: int) -> bool:
    """True when the declared body is over `limit` (checked before reading anything)."""
    return request.content_length is not None and request.content_length > limit


def serve_interaction(handler: InteractionsHandler, request: flask.Request) -> flask.Response:
    if request.method != "POST":
        return json_response(405, {"error": "POST only"})
    if too_large(request, MAX_INTERACTION_BODY):
        return json_response(413, {"error": "body too large"})
    body = request.stream.read(MAX_INTERACTION_BODY + 1)
    result = handler.handle(request.headers, body)
    return json_response(result.status, result.body)
