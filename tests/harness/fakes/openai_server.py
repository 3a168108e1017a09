"""A small OpenAI-compatible HTTP server on 127.0.0.1 for driving the real `openai` client in tests.

It speaks OpenAI's documented wire format, records every request, checks the bearer token, and can be
told to fail the next requests (429 with Retry-After headers, 500, ...) with OpenAI-shaped error bodies.

Endpoints live in a route table keyed by (method, path): a new endpoint is a handler function
`(server, request) -> FakeResponse` added with `add_route`. A handler may return a JSON body or, for
streaming endpoints such as server-sent events, an iterable of byte chunks.

    with FakeOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
        server.fail_next(429, headers={"retry-after-ms": "10"})
        client.embeddings.create(input=["a", "b"], model="text-embedding-3-small")
        assert len(server.requests_to("/v1/embeddings")) == 2
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np

from docsbot.documents.tokens import count_tokens
from tests.harness.fakes.loopback import LoopbackServer

# Output sizes the fake's embedding models return when the request has no `dimensions`.
EMBEDDING_MODELS = {
    "text-embedding-3-large": 3072,
    "text-embedding-3-small": 1536,
    "text-embedding-ada-002": 1536,
}
# Models that take `dimensions` (shortened embeddings); others reject it, as the real API does.
SHORTENABLE_MODELS = frozenset({"text-embedding-3-large", "text-embedding-3-small"})


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None when the body was empty or not JSON


@dataclass
class FakeResponse:
    """What a route handler answers: a JSON body, or `chunks` streamed as they are produced."""

    status: int = 200
    json_body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterable[bytes] | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class CannedFailure:
    """An error answer queued for the next request (to `path`, when given)."""

    status: int
    message: str
    error_type: str
    code: str | None
    headers: dict[str, str]
    path: str | None = None


Handler = Callable[["FakeOpenAIServer", RecordedRequest], FakeResponse]


def error_response(
    status: int,
    message: str,
    error_type: str = "invalid_request_error",
    code: str | None = None,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> FakeResponse:
    """An error in OpenAI's JSON shape: {"error": {"message", "type", "param", "code"}}."""
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return FakeResponse(status=status, json_body=body, headers=dict(headers or {}))


def fake_embedding(text: str, model: str, dimensions: int | None = None) -> list[float]:
    """The unit vector the fake returns for `text`: derived from the text alone, so tests can predict it.

    Like OpenAI's shortened embeddings, a `dimensions`-sized vector is the native vector's prefix
    re-scaled to unit length.
    """
    native = EMBEDDING_MODELS[model]
    seed = int.from_bytes(hashlib.sha256(f"{model}\n{text}".encode()).digest()[:8], "big")
    vector = np.random.default_rng(seed).standard_normal(native)[: dimensions or native]
    unit = (vector / np.linalg.norm(vector)).astype("<f4")
    return [float(x) for x in unit]


def _embeddings(server: FakeOpenAIServer, request: RecordedRequest) -> FakeResponse:
    """POST /v1/embeddings, validated the way the real API validates it."""
    body = request.body
    if not isinstance(body, dict):
        return error_response(400, "We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error_response(400, "you must provide a model parameter", param="model")
    if model not in EMBEDDING_MODELS:
        return error_response(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )

    raw_input = body.get("input")
    texts = [raw_input] if isinstance(raw_input, str) else raw_input
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        # The real API also takes token-id arrays; docsbot never sends them, so the fake does not either.
        return error_response(400, "'input' must be a non-empty string or a list of strings.", param="input")
    if len(texts) > server.max_inputs_per_request:
        return error_response(400, f"'input' must have at most {server.max_inputs_per_request} items.", param="input")
    if any(not t for t in texts):
        return error_response(400, "'input' cannot contain an empty string.", param="input")
    token_counts = [count_tokens(t) for t in texts]
    for count in token_counts:
        if count > server.max_tokens_per_input:
            return error_response(
                400,
                f"This model's maximum context length is {server.max_tokens_per_input} tokens, "
                f"however you requested {count} tokens. Please reduce your prompt.",
                param="input",
            )
    total_tokens = sum(token_counts)
    if total_tokens > server.max_tokens_per_request:
        return error_response(
            400,
            f"Requested {total_tokens} tokens, max {server.max_tokens_per_request} tokens per request.",
            code="max_tokens_per_request",
            param="input",
        )

    dimensions = body.get("dimensions")
    if dimensions is not None:
        if model not in SHORTENABLE_MODELS:
            return error_response(400, "This model does not support specifying dimensions.", param="dimensions")
        if not isinstance(dimensions, int) or not 1 <= dimensions <= EMBEDDING_MODELS[model]:
            return error_response(400, f"Invalid dimensions: {dimensions!r}.", param="dimensions")
    encoding_format = body.get("encoding_format", "float")
    if encoding_format not in ("float", "base64"):
        return error_response(400, f"Invalid encoding_format: {encoding_format!r}.", param="encoding_format")

    data: list[dict[str, Any]] = []
    for index, text in enumerate(texts):
        vector = fake_embedding(text, model, dimensions)
        embedding: list[float] | str = vector
        if encoding_format == "base64":
            embedding = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    if server.shuffle_embeddings:
        # The API documents `index` as the way to match outputs to inputs; this makes clients rely on it.
        data.reverse()
    return FakeResponse(
        json_body={
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": total_tokens, "total_tokens": total_tokens},
        }
    )


ChatResponder = Callable[[dict[str, Any]], str]


def default_chat_responder(body: dict[str, Any]) -> str:
    """A reply that cites the first source it was given, or says the sources do not cover it."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict))
    if "[1]" in prompt:
        return "The documentation covers this [1]."
    return "The provided sources do not answer this question."


def _chat_completions(server: FakeOpenAIServer, request: RecordedRequest) -> FakeResponse:
    """POST /v1/chat/completions: a JSON completion, or server-sent events when `stream` is true."""
    body = request.body
    if not isinstance(body, dict):
        return error_response(400, "We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error_response(400, "you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error_response(400, "[] is too short - 'messages'", param="messages")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in {"system", "user", "assistant", "developer"}:
            return error_response(400, "Invalid message in 'messages'", param="messages")
    # Decided on arrival, before any delay: a request still stalled when the test scripts the next fault must
    # not take that fault (a one-shot fault belongs to the first request that arrives after it is scripted).
    cut_off = server.take_cut_off()
    if server.chat_delay_s:
        time.sleep(server.chat_delay_s)
    text = server.chat_responder(body)
    if cut_off:
        text = " ".join(text.split(" ")[: max(1, len(text.split(" ")) // 2)])
    prompt_tokens = sum(count_tokens(str(m.get("content", ""))) + 4 for m in messages) + 3
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": count_tokens(text),
        "total_tokens": prompt_tokens + count_tokens(text),
    }
    created = int(time.time())
    if not body.get("stream"):
        return FakeResponse(
            json_body={
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": None if cut_off else "stop",
                    }
                ],
                "usage": usage,
            }
        )
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def event(payload: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(payload)}\n\n".encode()

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model}
        return event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    def stream() -> Iterable[bytes]:
        yield chunk({"role": "assistant", "content": ""})
        words = text.split(" ")
        for position, word in enumerate(words):
            yield chunk({"content": word if position == 0 else " " + word})
        if cut_off:
            yield b"data: [DONE]\n\n"  # the stream ends early: no finish reason, as when a connection drops
            return
        yield chunk({}, "stop")
        if include_usage:
            yield event(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
        yield b"data: [DONE]\n\n"

    return FakeResponse(chunks=stream(), content_type="text/event-stream")


class FakeOpenAIServer(LoopbackServer):
    """An OpenAI-compatible server on an ephemeral 127.0.0.1 port, served from a background thread."""

    thread_name = "fake-openai"

    def __init__(self, api_key: str = "test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.routes: dict[tuple[str, str], Handler] = {}
        self.add_route("POST", "/v1/embeddings", _embeddings)
        self.add_route("POST", "/v1/chat/completions", _chat_completions)
        # What the chat endpoint answers (a function of the request body) and how long it takes.
        self.chat_responder: ChatResponder = default_chat_responder
        self.chat_delay_s = 0.0
        # Limits the embeddings endpoint enforces, as the real API does.
        self.max_inputs_per_request = 2048
        self.max_tokens_per_input = 8192
        self.max_tokens_per_request = 300_000
        self.shuffle_embeddings = False
        self._requests: list[RecordedRequest] = []
        self._failures: deque[CannedFailure] = deque()
        self._cut_offs = 0
        self._served = 0
        self._lock = threading.Lock()

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler_class(self)

    @property
    def base_url(self) -> str:
        """What to pass as the openai client's `base_url`."""
        return f"{self.url}/v1"

    # --- scripting -------------------------------------------------------------------------------

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Serve `method path` with `handler` (replacing any handler already there)."""
        self.routes[(method.upper(), path)] = handler

    def fail_next(
        self,
        status: int,
        message: str | None = None,
        error_type: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests (to `path`, when given) with an OpenAI-shaped error."""
        if error_type is None:
            error_type = {429: "requests", 401: "invalid_request_error"}.get(
                status, "server_error" if status >= 500 else "invalid_request_error"
            )
        failure = CannedFailure(
            status=status,
            message=message or f"Fake failure with status {status}.",
            error_type=error_type,
            code=code,
            headers=dict(headers or {}),
            path=path,
        )
        with self._lock:
            self._failures.extend([failure] * times)

    def rate_limit_next(self, retry_after_ms: int = 10, times: int = 1, path: str | None = None) -> None:
        """The next `times` requests get 429 with `retry-after-ms` (seconds-resolution `retry-after` too)."""
        self.fail_next(
            429,
            message="Rate limit reached for requests. Please try again shortly.",
            code="rate_limit_exceeded",
            headers={
                "retry-after-ms": str(retry_after_ms),
                "retry-after": str(max(1, retry_after_ms // 1000)),
            },
            path=path,
            times=times,
        )

    def cut_off_next(self, times: int = 1) -> None:
        """The next `times` chat replies stop half-way with no finish reason (a stream cut off mid-answer)."""
        with self._lock:
            self._cut_offs += times

    def take_cut_off(self) -> bool:
        """Whether this chat reply is to be cut off (consumes one `cut_off_next`)."""
        with self._lock:
            if self._cut_offs <= 0:
                return False
            self._cut_offs -= 1
            self._served += 1
            return True

    def clear_scripted(self) -> None:
        """Forget the faults scripted but not served yet (queued failures, cut-offs) and the chat delay: what was
        scripted for one request or question never reaches the next one."""
        with self._lock:
            self._failures.clear()
            self._cut_offs = 0
        self.chat_delay_s = 0.0

    @property
    def faults_served(self) -> int:
        """Scripted faults served so far (queued failures and cut-offs; delays are not counted)."""
        with self._lock:
            return self._served

    @property
    def pending_failures(self) -> int:
        """Queued failures not yet served."""
        with self._lock:
            return len(self._failures)

    # --- inspection ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests received for `path`, oldest first."""
        return [r for r in self.requests if r.path == path]

    def clear_requests(self) -> None:
        """Forget recorded requests (queued failures stay)."""
        with self._lock:
            self._requests.clear()

    # --- dispatch (called from server threads) ---------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], raw_body: bytes) -> FakeResponse:
        """Record the request, then answer it: auth check, queued failure, or its route's handler."""
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        request = RecordedRequest(method=method, path=path, headers=headers, body=body)
        with self._lock:
            self._requests.append(request)
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return error_response(
                401, "Incorrect API key provided.", error_type="invalid_request_error", code="invalid_api_key"
            )
        with self._lock:
            failure = self._take_failure(path)
        if failure is not None:
            return error_response(failure.status, failure.message, failure.error_type, failure.code, failure.headers)
        handler = self.routes.get((method, path))
        if handler is None:
            return error_response(404, f"Invalid URL ({method} {path})")
        if raw_body and body is None:
            return error_response(400, "We could not parse the JSON body of your request.")
        return handler(self, request)

    def _take_failure(self, path: str) -> CannedFailure | None:
        for position, failure in enumerate(self._failures):
            if failure.path is None or failure.path == path:
                del self._failures[position]
                self._served += 1
                return failure
        return None


def _make_handler_class(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class _RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_DELETE(self) -> None:
            self._dispatch()

        def log_message(self, format: str, *args: Any) -> None:
            # Keep test output clean; failures show up in assertions, not in server logs.
            return

        def _dispatch(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            path = self.path.split("?", 1)[0]
            response = server.handle(self.command, path, headers, raw_body)
            self._write(response)

        def _write(self, response: FakeResponse) -> None:
            self.send_response(response.status)
            self.send_header("x-request-id", f"req_fake_{id(response):x}")
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.chunks is None:
                payload = json.dumps(response.json_body).encode("utf-8")
                self.send_header("content-type", response.content_type)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            # A stream of unknown length: chunked transfer encoding, flushed chunk by chunk.
            self.send_header("content-type", response.content_type)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for chunk in response.chunks:
                if chunk:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode("ascii") + chunk + b"\r\n")
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

    return _RequestHandler
