"""The ingest endpoint over HTTP (Flask request in, JSON response out), for functions/ingest and tests.

Order matters: the method, then the credentials (401 before a byte of the body is read), then the declared
size (413 from Content-Length), then the body read with a bound (413 for a chunked body that runs over) and a
deadline (408 for a body still arriving after `read_timeout` seconds), then JSON and the batch shape (400
naming the field), then the index update. An answer given before the whole body was read is sent at once
and the rest of the body is never read (docsbot.app.http_body). Answers:

    200 {"collection", "source", "counts": {"new", "changed", "unchanged", "empty", "deleted", "absent"},
         "embeddings", "chunks_deleted", "pages": [{"url", "outcome"}], "deletions": [{"url", "outcome"}]}
    400 / 401 / 405 / 408 / 413 {"error": "..."}
    503 {"error": "..."} with Retry-After: another batch holds the collection, or certificates are unreachable
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import flask
from pydantic import ValidationError

from docsbot.app.http_body import BodyError, BodyTooLarge, read_body, refusal
from docsbot.index.errors import IndexStoreError
from docsbot.refresh.auth import Authenticator, AuthUnavailable, Unauthorized
from docsbot.refresh.ingest_endpoint import BatchRejected, IngestBatch, IngestService, format_validation_error
from docsbot.store.lease import LeaseBusy

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
READ_TIMEOUT_SECONDS = 60.0  # 8 MiB at 150 kB/s; a slower body holds a worker thread for no good reason


@dataclass
class IngestEndpoint:
    authenticator: Authenticator
    service: IngestService
    max_bytes: int
    read_timeout: float = READ_TIMEOUT_SECONDS


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> flask.Response:
    return _json(status, {"error": message}, headers)


def serve_ingest(endpoint: IngestEndpoint, request: flask.Request) -> flask.Response:
    """Answer one HTTP request to the ingest endpoint."""
    if request.method != "POST":
        return refusal(request, 405, {"error": "POST a JSON batch"})
    try:
        principal = endpoint.authenticator.authenticate(request.headers.get("Authorization"))
    except Unauthorized as error:
        logger.warning("ingest refused: %s", error, extra={"remote": request.remote_addr})
        return refusal(request, 401, {"error": "missing or invalid credentials"}, {"WWW-Authenticate": "Bearer"})
    except AuthUnavailable as error:
        logger.error("ingest credentials could not be checked: %s", error)
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return refusal(request, 503, {"error": "credentials cannot be checked right now"}, retry)

    limit = endpoint.max_bytes
    try:
        body = read_body(request, limit, endpoint.read_timeout)
    except BodyTooLarge:
        return refusal(request, 413, {"error": f"the body is over the {limit} byte limit: send smaller batches"})
    except BodyError as error:
        return refusal(request, error.status, {"error": error.message})
    try:
        data = json.loads(body)
    except RecursionError:  # the parser gives up on absurd nesting (depth ~1,000): the batch is nonsense
        return _error(400, "the body is nested too deeply to be a batch")
    except (ValueError, UnicodeDecodeError) as error:
        return _error(400, f"the body is not valid JSON: {error}")
    if not isinstance(data, dict):
        return _error(400, "the body must be a JSON object with collection, pages and deletions")
    try:
        batch = IngestBatch.model_validate(data)
    except ValidationError as error:
        return _error(400, format_validation_error(error))

    try:
        result = endpoint.service.apply(batch)
    except BatchRejected as error:
        return _error(400, str(error))
    except LeaseBusy:
        return _error(
            503,
            f"another batch is being written to {batch.collection!r}; retry shortly",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    except IndexStoreError as error:
        logger.error("ingest into %s failed: %s", batch.collection, error)
        return _error(500, f"the index refused the batch: {error}")
    logger.info(
        "ingest by %s: %s/%s %s",
        principal.name,
        batch.collection,
        batch.source,
        result.counts(),
        extra={"caller": principal.name},
    )
    return _json(200, result.as_dict())
