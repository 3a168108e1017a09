"""The ingest endpoint over real HTTP on 127.0.0.1: authentication, validation, limits, idempotency, concurrency."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flask
import pytest
import requests
from werkzeug.serving import make_server

from docsbot.app.ingest_http import IngestEndpoint, serve_ingest
from docsbot.documents.anchors import normalise_heading_anchors
from docsbot.documents.model import Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.chunking import chunk_page
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher
from docsbot.refresh.auth import Authenticator, OidcAuthenticator, TokenAuthenticator
from docsbot.refresh.ingest_endpoint import IngestService
from docsbot.settings.config import parse_collections
from docsbot.store.sqlite import SqliteStore
from tests.harness.fakes.oidc import OidcIssuer, other_key
from tests.harness.functions_server import serve_function

REPO = Path(__file__).resolve().parents[2]
TOKEN = "local-ingest-token-0123456789"
AUDIENCE = "https://ingest-abc123-uc.a.run.app"
ROBOT = "docs-ci@my-project.iam.gserviceaccount.com"
MAX_BYTES = 8 * 2**20
COLLECTIONS = parse_collections(
    {
        "collection": [
            {"name": "docs", "title": "Docs"},
            {
                "name": "crawled",
                "title": "Crawled",
                "source": [{"kind": "docusaurus", "name": "site", "url": "https://docs.example.com/docs/intro"}],
            },
            {"name": "off", "title": "Off", "enabled": False},
        ]
    }
)


class SlowEmbedder(HashingEmbedder):
    """Hashing vectors, slowly: two concurrent batches overlap for certain."""

    delay = 0.0

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        time.sleep(self.delay)
        return super().embed_documents(texts)


@dataclass
class Endpoint:
    url: str
    root: Path
    embedder: SlowEmbedder
    store: SqliteStore

    def post(self, body: Any, token: str | None = TOKEN, authorization: str | None = None) -> requests.Response:
        headers = {"Authorization": authorization or f"Bearer {token}"} if (token or authorization) else {}
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return requests.post(self.url, data=data, headers=headers, timeout=30)

    def points(self, collection: str = "docs") -> dict[str, set[str]]:
        index = EdgeIndex(self.root / "index", collection)
        if index.info() is None:
            return {}  # never written to
        try:
            found: dict[str, set[str]] = {}
            for point in index.stored_points():
                found.setdefault(point.url, set()).add(point.id)
            return found
        finally:
            index.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Serve an ingest endpoint with the given authenticator on 127.0.0.1 (werkzeug, threaded)."""
    servers: list[Any] = []

    def start(authenticator: Authenticator, *, lock_wait: float = 30.0, read_timeout: float = 60.0) -> Endpoint:
        store = SqliteStore(tmp_path / "freshness.sqlite3")
        embedder = SlowEmbedder()
        service = IngestService(
            {c.name: c for c in COLLECTIONS.collections},
            store,
            lambda name: EdgeIndex(tmp_path / "index", name),
            embedder,
            Bm25Encoder(),
            lock_wait=lock_wait,
            lease_ttl=timedelta(minutes=5),
        )
        endpoint = IngestEndpoint(authenticator, service, MAX_BYTES, read_timeout)
        app = flask.Flask("ingest-test")
        app.add_url_rule("/", "ingest", lambda: serve_ingest(endpoint, flask.request), methods=["GET", "POST"])
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return Endpoint(f"http://127.0.0.1:{server.server_port}/", tmp_path, embedder, store)

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=5)


def page(n: int, extra: str = "") -> dict[str, Any]:
    return {
        "url": f"https://docs.example.com/docs/page-{n}",
        "title": f"Page {n}",
        "markdown": f"# Page {n}\n\nIntro {n}.\n\n## Install zebrafish{n}\n\nRun the installer {n}. {extra}\n\n"
        f"## Configure\n\nSet option{n} in the file.\n",
        "tags": ["v2"],
    }


def batch(*pages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"collection": "docs", "source": "docs", "pages": list(pages), **fields}


def chunk_ids(item: dict[str, Any]) -> set[str]:
    """The point ids a pushed page must end with (the server normalises heading anchors)."""
    as_page = Page(url=item["url"], title=item["title"], markdown=normalise_heading_anchors(item["markdown"]),
                   source_kind="ingest", tags=tuple(item["tags"]))  # fmt: skip
    return {c.point_id for c in chunk_page(as_page)}


# --- authentication ----------------------------------------------------------------------------------------


def headers_only(url: str, headers: dict[str, str], declared_length: int) -> tuple[int, dict[str, Any]]:
    """Send only the request headers (a large declared body, none of it sent) and read the answer: a server
    that tried to read the body would hang here instead of answering."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        connection.putrequest("POST", parts.path or "/")
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(declared_length))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_missing_or_wrong_bearer_token_is_refused_before_reading_the_body(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN))
    assert endpoint.post(batch(page(1)), token=None).status_code == 401
    refused = endpoint.post(batch(page(1)), token="local-ingest-token-0123456788")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert refused.json() == {"error": "missing or invalid credentials"}
    assert endpoint.post(batch(page(1)), authorization=f"Basic {TOKEN}").status_code == 401
    status, _ = headers_only(endpoint.url, {"Authorization": "Bearer wrong"}, 10 * 2**20)
    assert status == 401
    assert endpoint.points() == {}
    assert endpoint.post(batch(page(1))).status_code == 200


def test_oidc_tokens_of_allowed_service_accounts_only(serve: Any) -> None:
    with OidcIssuer() as issuer:
        authenticator = OidcAuthenticator(audience=AUDIENCE, allowed_service_accounts=[ROBOT],
                                          certs_url=issuer.certs_url)  # fmt: skip
        endpoint = serve(authenticator)
        good = issuer.token(email=ROBOT, audience=AUDIENCE)
        assert endpoint.post(batch(page(1)), token=good).status_code == 200

        refused = {
            "expired": issuer.token(email=ROBOT, audience=AUDIENCE, expires_in=-120),
            "wrong audience": issuer.token(email=ROBOT, audience="https://another-function.a.run.app"),
            "not allowed": issuer.token(email="someone@other.iam.gserviceaccount.com", audience=AUDIENCE),
            "unverified email": issuer.token(email=ROBOT, audience=AUDIENCE, email_verified=False),
            "not Google": issuer.token(email=ROBOT, audience=AUDIENCE, issuer="https://evil.example"),
            "forged signature": issuer.token(email=ROBOT, audience=AUDIENCE, signing_key=other_key()),
            "not a JWT": "abc.def",
        }
        for why, token in refused.items():
            answer = endpoint.post(batch(page(2)), token=token)
            assert answer.status_code == 401, why
        assert set(endpoint.points()) == {page(1)["url"]}
        assert issuer.certs_requests == 1  # the certificates are cached, not fetched per request

    # Certificates that cannot be fetched: the caller is told to come back, not that it is unauthorised.
    unreachable = OidcAuthenticator(audience=AUDIENCE, allowed_service_accounts=[ROBOT],
                                    certs_url="http://127.0.0.1:9/certs")  # fmt: skip
    answer = serve(unreachable).post(batch(page(3)), token=good)
    assert answer.status_code == 503 and "Retry-After" in answer.headers


def test_a_malformed_token_is_never_logged(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    secret = "leaked-secret-part-0123456789abcdef"
    with OidcIssuer() as issuer:
        authenticator = OidcAuthenticator(audience=AUDIENCE, allowed_service_accounts=[ROBOT],
                                          certs_url=issuer.certs_url)  # fmt: skip
        endpoint = serve(authenticator)
        with caplog.at_level(logging.DEBUG):
            for token in (secret, f"{secret}.{secret}", f"a.{secret}.b", f"{secret}.b.c.d"):
                assert endpoint.post(batch(page(1)), token=token).status_code == 401
    refusals = [r for r in caplog.records if r.getMessage().startswith("ingest refused")]
    assert len(refusals) == 4
    assert all("invalid ID token (" in r.getMessage() for r in refusals)
    assert not any(secret in r.getMessage() for r in caplog.records)


# --- validation and limits -----------------------------------------------------------------------------------


def test_malformed_batches_get_400_naming_the_field(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN))
    cases: list[tuple[Any, str]] = [
        ('{"collection": "docs", "pages": [', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"pages": [page(1)]}, "collection: Field required"),
        (batch({"url": "https://docs.example.com/x", "markdown": "hi"}), "pages.0.title: Field required"),
        (batch(page(1), {**page(2), "url": "docs/page-2"}), "pages.1.url: must be an absolute http(s) URL"),
        (batch({**page(1), "url": "https://docs.example.com/a#b"}), "pages.0.url: must have no #fragment"),
        (batch(page(1), colour="blue"), "colour: Extra inputs are not permitted"),
        (batch({**page(1), "url": "https://ci:s3cret@docs.example.com/a"}), "pages.0.url: must not hold credentials"),
        (batch({**page(1), "url": "https://docs.example.com/a_(b)"}), "pages.0.url: must not hold '(' ')'"),
        (batch({**page(1), "url": "https://docs.example.com/a<b>"}), "percent-encode them"),
        (batch(page(1), deletions=["https://u:p@docs.example.com/x"]), "deletions: item 0"),
        (batch(page(1), deletions=["nope"]), "deletions: item 0 ('nope'): must be an absolute http(s) URL"),
        (batch(page(1), page(1)), "each URL once per batch"),
        (batch(page(1), deletions=[page(1)["url"]]), "URLs also sent as pages"),
        ({**batch(page(1)), "collection": "nope"}, "unknown collection 'nope' (known: crawled, docs, off)"),
        ({**batch(page(1)), "collection": "Bad Name"}, "collection: String should match pattern"),
        ({**batch(page(1)), "collection": "off"}, "'off' is disabled"),
        ({**batch(page(1)), "collection": "crawled", "source": "site"}, "'site' is a site the scrape job crawls"),
    ]
    for body, message in cases:
        answer = endpoint.post(body)
        assert answer.status_code == 400, (body, answer.text)
        assert message in answer.json()["error"], (message, answer.json())
    assert endpoint.points() == {}
    assert requests.get(endpoint.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).status_code == 405


def test_deeply_nested_json_gets_400_not_500(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN))
    for depth in (1_000, 100_000):
        for body in ("[" * depth + "]" * depth, '{"a": ' * depth + "1" + "}" * depth):
            answer = endpoint.post(body)
            assert answer.status_code == 400, answer.text
            assert "nested" in answer.json()["error"]
    deep_tags = "[" * 900 + "]" * 900  # under the parser's limit: the batch shape refuses it
    body = json.dumps(batch(page(1))).replace('"tags": ["v2"]', f'"tags": {deep_tags}')
    answer = endpoint.post(body)
    assert answer.status_code == 400 and "pages.0.tags" in answer.json()["error"]
    assert endpoint.points() == {}
    assert endpoint.post(batch(page(1))).status_code == 200


def test_bodies_over_the_limit_get_413(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN))
    # A declared 50 MB body is refused from its Content-Length, without reading it.
    status, answer = headers_only(endpoint.url, {"Authorization": f"Bearer {TOKEN}"}, 50 * 2**20)
    assert status == 413 and f"over the {MAX_BYTES} byte limit" in answer["error"]

    # A chunked body declares no length: it is refused once the bytes read pass the limit.
    parts = urlsplit(endpoint.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    sent = [0]

    def send_chunks() -> None:
        block = b"x" * 2**20
        try:
            for _ in range(50):
                connection.send(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                sent[0] += len(block)
            connection.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: expected

    try:
        connection.putrequest("POST", "/")
        connection.putheader("Authorization", f"Bearer {TOKEN}")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        sender = threading.Thread(target=send_chunks, daemon=True)
        sender.start()
        response = connection.getresponse()
        assert response.status == 413 and "byte limit" in json.loads(response.read())["error"]
    finally:
        if connection.sock is not None:
            connection.sock.shutdown(socket.SHUT_RDWR)  # wakes the sender blocked on a full socket buffer
        connection.close()
    sender.join(timeout=10)
    assert sent[0] < 50 * 2**20  # the server stopped reading long before the end
    assert endpoint.points() == {}


def test_a_body_that_stalls_gets_408_and_the_server_serves_others(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN), read_timeout=0.5)
    parts = urlsplit(endpoint.url)
    stalled = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        stalled.putrequest("POST", "/")
        stalled.putheader("Authorization", f"Bearer {TOKEN}")
        stalled.putheader("Content-Length", "1000")
        stalled.endheaders()
        stalled.send(b'{"collection": ')  # and nothing more
        assert endpoint.post(batch(page(1))).status_code == 200
        response = stalled.getresponse()
        assert response.status == 408 and "not received in time" in json.loads(response.read())["error"]
    finally:
        stalled.close()
    assert set(endpoint.points()) == {page(1)["url"]}


# --- indexing ------------------------------------------------------------------------------------------------


def test_a_batch_becomes_searchable_and_sending_it_again_embeds_nothing(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN))
    pages = [page(n) for n in range(3)]
    first = endpoint.post(batch(*pages, deletions=["https://docs.example.com/never-indexed"])).json()
    assert first["counts"] == {"new": 3, "changed": 0, "unchanged": 0, "empty": 0, "deleted": 0, "absent": 1}
    assert first["embeddings"] == sum(len(chunk_ids(p)) for p in pages) > 0
    assert first["pages"][0] == {"url": pages[0]["url"], "outcome": "new"}

    index = EdgeIndex(endpoint.root / "index", "docs")
    best = Searcher(index, None, Bm25Encoder()).search("zebrafish1 installer", limit=1, mode="sparse").sources[0]
    index.close()
    # Small sibling sections share a chunk; the section's anchor is among the chunk's anchors (deep links).
    assert best.url == pages[1]["url"] and "install-zebrafish1" in best.anchors

    again = endpoint.post(batch(*pages)).json()
    assert again["embeddings"] == 0 and again["counts"]["unchanged"] == 3

    edited = {**pages[2], "markdown": pages[2]["markdown"].replace("Set option2", "Set option2 and option3")}
    changed = endpoint.post(batch(edited)).json()
    assert changed["counts"]["changed"] == 1 and 0 < changed["embeddings"] < len(chunk_ids(edited)) + 1
    assert endpoint.points()[edited["url"]] == chunk_ids(edited)


def test_deletions_and_listings_remove_points(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN))
    pages = [page(n) for n in range(10)]
    assert endpoint.post(batch(*pages)).status_code == 200
    gone = endpoint.post(batch(deletions=[pages[0]["url"]])).json()
    assert gone["deletions"] == [{"url": pages[0]["url"], "outcome": "deleted"}]
    assert gone["chunks_deleted"] == len(chunk_ids(pages[0]))
    assert pages[0]["url"] not in endpoint.points()

    # A listing deletes the source's other pages: one of nine is fine...
    listing = [p["url"] for p in pages[2:]]
    pruned = endpoint.post(batch(listing=listing)).json()
    assert pruned["deletions"] == [{"url": pages[1]["url"], "outcome": "deleted"}]
    # ...but a listing that would delete most pages is refused unless confirmed.
    refused = endpoint.post(batch(listing=listing[:2]))
    assert refused.status_code == 400 and "would delete 6 of the 8 pages" in refused.json()["error"]
    assert len(endpoint.points()) == 8
    confirmed = endpoint.post(batch(listing=listing[:2], allow_large_prune=True)).json()
    assert confirmed["counts"]["deleted"] == 6 and set(endpoint.points()) == set(listing[:2])


def test_explicit_deletions_of_most_pages_are_refused_unless_confirmed(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN))
    pages = [page(n) for n in range(5)]
    assert endpoint.post(batch(*pages)).status_code == 200
    every = [p["url"] for p in pages]
    refused = endpoint.post(batch(deletions=every))
    assert refused.status_code == 400, refused.text
    assert "deletions: it would delete 5 of the 5 pages of source 'docs'" in refused.json()["error"]
    assert "allow_large_prune" in refused.json()["error"]
    # Deletions of URLs never indexed do not count; explicit deletions and a listing's count together.
    never = [f"https://docs.example.com/never-{n}" for n in range(20)]
    assert endpoint.post(batch(deletions=[every[0], *never])).status_code == 200
    both = endpoint.post(batch(deletions=[every[1]], listing=every[1:4]))
    assert both.status_code == 400 and "would delete 2 of the 4 pages" in both.json()["error"]
    assert set(endpoint.points()) == set(every[1:])
    confirmed = endpoint.post(batch(deletions=every[1:], allow_large_prune=True)).json()
    assert confirmed["counts"]["deleted"] == 4 and endpoint.points() == {}


def test_two_concurrent_pushes_of_one_page_end_consistent(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN))
    original = page(1)
    assert endpoint.post(batch(original)).status_code == 200
    endpoint.embedder.delay = 0.3
    versions = [
        {**original, "markdown": original["markdown"].replace("Intro 1.", f"Intro 1, version {k}.")} for k in "AB"
    ]
    answers: list[requests.Response] = []

    def send(version: dict[str, Any]) -> None:
        answers.append(endpoint.post(batch(version)))

    threads = [threading.Thread(target=send, args=(version,)) for version in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [a.status_code for a in answers] == [200, 200]
    final = endpoint.points()[original["url"]]
    assert final in (chunk_ids(versions[0]), chunk_ids(versions[1]))  # one version's points, never a mix
    # The one that went second found the other's points and replaced them: both embedded their change.
    assert sorted(a.json()["counts"]["changed"] for a in answers) == [1, 1]


def test_a_collection_held_too_long_gets_503(serve: Any) -> None:
    endpoint = serve(TokenAuthenticator(TOKEN), lock_wait=0.2)
    endpoint.store.acquire_lease("ingest/docs", "another-batch", ttl=timedelta(minutes=1), now=_now())
    answer = endpoint.post(batch(page(1)))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "another batch is being written to 'docs'" in answer.json()["error"]


def _now() -> Any:
    from docsbot.store.model import utc_now

    return utc_now()


# --- the Cloud Function itself, served by functions-framework ----------------------------------------------------


def test_the_function_served_by_functions_framework(tmp_path: Path) -> None:
    collections = tmp_path / "collections.toml"
    collections.write_text('[[collection]]\nname = "docs"\ntitle = "Docs"\n', encoding="utf-8")
    env = {
        "DOCSBOT_DATA_DIR": str(tmp_path / "data"),
        "DOCSBOT_EMBEDDER": "hashing",
        "DOCSBOT_COLLECTIONS_FILE": str(collections),
        "DOCSBOT_INGEST_TOKEN": TOKEN,
        "DOCSBOT_INGEST_MAX_BYTES": "65536",
    }
    with serve_function(REPO / "functions" / "ingest" / "main.py", "ingest", env) as url:
        assert requests.post(url, json=batch(page(1)), timeout=30).status_code == 401
        big = batch({**page(1), "markdown": "x" * 70_000})
        too_big = requests.post(url, json=big, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert too_big.status_code == 413
        answer = requests.post(url, json=batch(page(1)), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"]["new"] == 1
