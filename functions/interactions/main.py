"""Cloud Function entry point: interactions (placeholder until its issue lands; see README "Status")."""

from __future__ import annotations

import json

import flask
import functions_framework


@functions_framework.http
def interactions(request: flask.Request) -> flask.Response:
    """Not served yet: answers 501 so a mis-deployed function fails loudly instead of silently."""
    body = json.dumps({"error": "the interactions function is not implemented yet"})
    return flask.Response(body, status=501, mimetype="application/json")
