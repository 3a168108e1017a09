"""Hostile request bodies against the real functions-framework server (gunicorn, as Cloud Run runs it), for
the ingest function and the (public) interactions function.

Refusals arrive as soon as the headers are in, without the body being read (checked by how much of a large
body the client could send before the answer: no more than the sockets' buffers); a body that trickles is
cut off by the read deadline; and an authorised push is served while slow bodies hold connections open.
Every wait has a generous deadline that only guards against a hang; nothing depends on the machine's speed.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.harness.fakes.discord_signing import TestSigner
from tests.harness.functions_server import serve_function

REPO = Path(__file__).resolve().parents[2]
TOKEN = "local-ingest-token-0123456789"
MAX_BYTES = 65_536
GUARD_S = 30.0  # a hang fails the test after this long; a passing run never waits for it
LARGE_BODY = 100 * 2**20
SOCKET_BUFFERS_BOUND = 32 * 2**20  # far more than loopback socket buffers hold, far less than LARGE_BODY


def batch(n: int) -> dict[str, Any]:
    markdown = f"# Page {n}\n\nRun the installer {n} and set option{n} in the file.\n"
    return {
        "collection": "docs",
        "source": "docs",
        "pages": [{"url": f"https://docs.example.com/p{n}", "title": f"Page {n}", "markdown": markdown}],
    }


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    sent_before_answer: int  # body bytes the client had sent when the first byte of the answer arrived


class RawRequest:
    """A POST over a plain socket: headers first, then the body as the test decides."""

    def __init__(self, url: str, headers: dict[str, str], declared: int | None) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=GUARD_S)
        self.sent = 0
        lines = ["POST / HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.sent += len(data)

    def send_forever(self, total: int) -> threading.Thread:
        """Send `total` bytes from a thread, until done or the server stops reading and closes."""

        def run() -> None:
            block = b"x" * 2**20
            try:
                while self.sent < total:
                    self.send(block[: total - self.sent])
            except OSError:
                pass  # the server answered and closed the connection

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def answer(self) -> Answer:
        received = self.sock.recv(65536)
        sent = self.sent
        while b"\r\n\r\n" not in received:
            more = self.sock.recv(65536)
            assert more, f"connection closed mid-answer: {received!r}"
            received += more
        head, _, body = received.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            more = self.sock.recv(65536)
            assert more, "connection closed mid-answer"
            body += more
        return Answer(status, json.loads(body[:length]), sent)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a sender blocked on a full buffer
        self.sock.close()


@pytest.fixture(scope="module")
def ingest_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("ingest-function")
    collections = tmp / "collections.toml"
    collections.write_text('[[collection]]\nname = "docs"\ntitle = "Docs"\n', encoding="utf-8")
    env = {
        "DOCSBOT_DATA_DIR": str(tmp / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_COLLECTIONS_FILE": str(collections),
        "DOCSBOT_INGEST_TOKEN": TOKEN,
        "DOCSBOT_INGEST_MAX_BYTES": str(MAX_BYTES),
        "DOCSBOT_INGEST_READ_TIMEOUT": "1",
        "THREADS": "2",  # functions-framework's gunicorn threads: few, so that slow bodies could hold them all
    }
    with serve_function(REPO / "functions" / "ingest" / "main.py", "ingest", env) as url:
        yield url


AUTHORISED = {"Authorization": f"Bearer {TOKEN}"}


def test_a_large_body_without_credentials_is_refused_unread(ingest_url: str) -> None:
    request = RawRequest(ingest_url, {}, LARGE_BODY)
    try:
        sender = request.send_forever(LARGE_BODY)
        answer = request.answer()
        assert answer.status == 401 and answer.body == {"error": "missing or invalid credentials"}
        assert answer.sent_before_answer < SOCKET_BUFFERS_BOUND
    finally:
        request.close()
    sender.join(timeout=GUARD_S)
    assert request.sent < SOCKET_BUFFERS_BOUND  # the server never read the rest either


def test_a_body_declared_but_never_sent_gets_its_answer_at_once(ingest_url: str) -> None:
    for headers, declared, status in (({}, LARGE_BODY, 401), (AUTHORISED, LARGE_BODY, 413)):
        request = RawRequest(ingest_url, headers, declared)
        try:
            request.send(b"{")
            answer = request.answer()  # before the fix: no answer until the guard's timeout
            assert answer.status == status, answer
        finally:
            request.close()


def test_a_chunked_body_over_the_limit_is_refused_once_the_limit_is_read(ingest_url: str) -> None:
    request = RawRequest(ingest_url, AUTHORISED, None)
    chunk = b"x" * 2**20

    def send_chunks() -> None:
        try:
            for _ in range(100):
                request.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except OSError:
            pass

    try:
        sender = threading.Thread(target=send_chunks, daemon=True)
        sender.start()
        answer = request.answer()
        assert answer.status == 413 and f"over the {MAX_BYTES} byte limit" in answer.body["error"]
    finally:
        request.close()
    sender.join(timeout=GUARD_S)
    assert request.sent < SOCKET_BUFFERS_BOUND


def test_an_authorised_push_is_served_while_slow_bodies_hold_connections(ingest_url: str) -> None:
    slow = [RawRequest(ingest_url, AUTHORISED, 1000) for _ in range(4)]
    slow += [RawRequest(ingest_url, {}, 1000) for _ in range(4)]
    try:
        for request in slow:
            request.send(b"{")  # then nothing: each holds its connection open
        answer = requests.post(ingest_url, json=batch(1), headers=AUTHORISED, timeout=GUARD_S)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"]["new"] == 1
        statuses = sorted(request.answer().status for request in slow)
        # The unauthorised ones were refused at once; the authorised ones ran out of time to send their body.
        assert statuses == [401] * 4 + [408] * 4
    finally:
        for request in slow:
            request.close()


# --- the interactions function ---------------------------------------------------------------------------------

SIGNER = TestSigner()
FORGED = {"X-Signature-Ed25519": "ab" * 64, "X-Signature-Timestamp": "1700000000"}  # well formed, wrong


@pytest.fixture(scope="module")
def interactions_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("interactions-function")
    collections = tmp / "collections.toml"
    collections.write_text('[[collection]]\nname = "docs"\ntitle = "Docs"\n', encoding="utf-8")
    env = {
        "DISCORD_PUBLIC_KEY": SIGNER.public_key_hex,
        "DISCORD_APPLICATION_ID": SIGNER.application_id,
        "DOCSBOT_DATA_DIR": str(tmp / "data"),
        "DOCSBOT_COLLECTIONS_FILE": str(collections),
        "THREADS": "2",
    }
    with serve_function(REPO / "functions" / "interactions" / "main.py", "interactions", env) as url:
        yield url


def ping(url: str) -> requests.Response:
    body, headers = SIGNER.signed(SIGNER.ping())
    return requests.post(url, data=body, headers=headers, timeout=GUARD_S)


def test_interactions_refuse_from_the_headers_without_reading_the_body(interactions_url: str) -> None:
    for headers, status in (({}, 401), ({**FORGED, "X-Signature-Ed25519": "not hex"}, 401), (FORGED, 413)):
        request = RawRequest(interactions_url, headers, LARGE_BODY)
        try:
            sender = request.send_forever(LARGE_BODY)
            answer = request.answer()
            assert answer.status == status, answer
            assert answer.sent_before_answer < SOCKET_BUFFERS_BOUND
        finally:
            request.close()
        sender.join(timeout=GUARD_S)
        assert request.sent < SOCKET_BUFFERS_BOUND
    assert ping(interactions_url).json() == {"type": 1}


def test_interactions_answer_while_slow_bodies_hold_connections(interactions_url: str) -> None:
    slow = [RawRequest(interactions_url, FORGED, 1000) for _ in range(2)]  # must be read to check the signature
    slow += [RawRequest(interactions_url, {}, 1000) for _ in range(4)]
    try:
        for request in slow:
            request.send(b"{")
        assert ping(interactions_url).json() == {"type": 1}
        assert sorted(request.answer().status for request in slow) == [401] * 4 + [408] * 2
    finally:
        for request in slow:
            request.close()


def test_interactions_refuse_absurdly_nested_json_with_400(interactions_url: str) -> None:
    for depth in (1_000, 20_000):
        body = b'{"type": 1, "data": ' + b"[" * depth + b"]" * depth + b"}"
        answer = requests.post(interactions_url, data=body, headers=SIGNER.sign(body), timeout=GUARD_S)
        assert answer.status_code == 400 and answer.json() == {"error": "body is not valid JSON"}
    assert ping(interactions_url).json() == {"type": 1}


# --- the respond function (Cloud Tasks only) -------------------------------------------------------------------


def test_respond_refuses_from_the_headers_without_reading_the_body(tmp_path: Path) -> None:
    env = {"DISCORD_PUBLIC_KEY": SIGNER.public_key_hex, "DISCORD_APPLICATION_ID": SIGNER.application_id}
    with serve_function(REPO / "functions" / "respond" / "main.py", "respond", env) as url:
        for headers, status in (({}, 403), ({"X-CloudTasks-QueueName": "docsbot"}, 413)):
            request = RawRequest(url, headers, LARGE_BODY)
            try:
                sender = request.send_forever(LARGE_BODY)
                answer = request.answer()
                assert answer.status == status, answer
                assert answer.sent_before_answer < SOCKET_BUFFERS_BOUND
            finally:
                request.close()
            sender.join(timeout=GUARD_S)
            assert request.sent < SOCKET_BUFFERS_BOUND
