"""Cloud Function (2nd gen, HTTP): the authenticated ingest endpoint (`functions-framework --target ingest`).

Docs CI and scripts POST batches of pages and deletions (see docs/push.md; `docsbot push` is the client).
Configured by environment variables: DOCSBOT_COLLECTIONS_FILE, QDRANT_URL with the read-write QDRANT_API_KEY,
OPENAI_API_KEY, DOCSBOT_STATE=firestore and GOOGLE_CLOUD_PROJECT (the per-collection write lease), and either
DOCSBOT_INGEST_AUDIENCE + DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS (Google-signed OIDC ID tokens, in the cloud)
or DOCSBOT_INGEST_TOKEN (a bearer token, locally); DOCSBOT_INGEST_MAX_BYTES bounds a request body and
DOCSBOT_INGEST_READ_TIMEOUT the seconds it may take to arrive. Refusals are sent before the body is read, which
is then never read (docsbot.app.http_body). See docsbot.app.ingest_http for the answers.
"""

from __future__ import annotations

import functools

import flask
import functions_framework

from docsbot.app.ingest_http import IngestEndpoint, serve_ingest
from docsbot.app.logs import configure_json_logging


@functools.cache
def endpoint() -> IngestEndpoint:
    """Built on the first request of an instance; configuration errors fail loudly in the logs."""
    from docsbot.app.refresh import build_ingest_endpoint

    configure_json_logging()
    return build_ingest_endpoint()


@functions_framework.http
def ingest(request: flask.Request) -> flask.Response:
    return serve_ingest(endpoint(), request)
