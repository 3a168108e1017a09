"""The ingest endpoint over HTTP (Flask request in, JSON response out), for functions/ingest and tests.

Order matters: the method, then the credentials (401 before a byte of the body is read), then the declared
size (413 from Content-Length), then the body read with a bound (413 for a chunked body that runs over),
then JSON and the batch shape (400 naming the field), then the index update. Answers:

    200 {"collection", "source", "counts": {"new", "changed", "unchanged", "empty", "deleted", "absent"},
         "embeddings", "chunks_deleted", "pages": [{"url", "outcome"}], "deletions": [{"url", "outcome"}]}
    400 / 401 / 405 / 413 {"error": "..."}
    503 {"error": "..."} with Retry-After: another batch holds the collection, or certificates are unreachable
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import flask
from pydantic import ValidationError

from docsbot.index.errors import IndexStoreError
from docsbot.refresh.auth import Authenticator, AuthUnavailable, Unauthorized
from docsbot.refresh.ingest_endpoint import BatchRejected, IngestBatch, IngestService, format_validation_error
from docsbot.store.lease import LeaseBusy

logger = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
RETRY_AFTER_SECONDS = 5


@dataclass
class IngestEndpoint:
    authenticator: Authenticator
    service: IngestService
    max_bytes: int


class _TooLarge(Exception):
    pass


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> flask.Response:
    return _json(status, {"error": message}, headers)


def _read_bounded(request: flask.Request, limit: int) -> bytes:
    """The body, read in chunks; _TooLarge as soon as it passes `limit` (a chunked body has no length)."""
    parts: list[bytes] = []
    size = 0
    stream = request.stream
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        parts.append(chunk)


def serve_ingest(endpoint: IngestEndpoint, request: flask.Request) -> flask.Response:
    """Answer one HTTP request to the ingest endpoint."""
    if request.method != "POST":
        return _error(405, "POST a JSON batch")
    try:
        principal = endpoint.authenticator.authenticate(request.headers.get("Authorization"))
    except Unauthorized as error:
        logger.warning("ingest refused: %s", error, extra={"remote": request.remote_addr})
        return _error(401, "missing or invalid credentials", {"WWW-Authenticate": "Bearer"})
    except AuthUnavailable as error:
        logger.error("ingest credentials could not be checked: %s", error)
        return _error(503, "credentials cannot be checked right now", {"Retry-After": str(RETRY_AFTER_SECONDS)})

    limit = endpoint.max_bytes
    too_large = f"the body is over the {limit} byte limit: send smaller batches"
    if request.content_length is not None and request.content_length > limit:
        return _error(413, too_large)
    try:
        body = _read_bounded(request, limit)
    except _TooLarge:
        return _error(413, too_large)
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
