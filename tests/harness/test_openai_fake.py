"""The loopback OpenAI fake's scripted faults reach exactly the request they were meant for (the fault soak's
per-question accounting relies on it)."""

from __future__ import annotations

import threading

import openai
import pytest

from tests.harness.fakes.openai_server import FakeOpenAIServer

MESSAGES = [{"role": "user", "content": "how do reducers work?"}]


def _ask(server: FakeOpenAIServer) -> str | None:
    client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0, timeout=30)
    with client:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    return reply.choices[0].finish_reason


def test_a_cut_off_scripted_while_a_request_stalls_goes_to_the_next_request_not_the_stalled_one() -> None:
    entered, release = threading.Event(), threading.Event()

    def stalling(body: object) -> str:
        entered.set()
        release.wait(timeout=30)
        return "A complete reply."

    with FakeOpenAIServer() as server:
        server.chat_responder = stalling
        first: list[str | None] = []
        stalled = threading.Thread(target=lambda: first.append(_ask(server)))
        stalled.start()
        assert entered.wait(timeout=30)
        server.cut_off_next()  # scripted for the next request, while the first one is still in the model
        server.chat_responder = lambda body: "Another reply."
        release.set()
        stalled.join(timeout=30)
        assert first == ["stop"]  # the stalled request was complete
        assert _ask(server) is None  # the next one got the cut-off: no finish reason
        assert server.faults_served == 1


def test_clearing_the_script_forgets_faults_no_request_took() -> None:
    with FakeOpenAIServer() as server:
        server.fail_next(500, times=3)
        server.cut_off_next(2)
        server.chat_delay_s = 5.0
        server.clear_scripted()
        assert _ask(server) == "stop"
        assert server.faults_served == 0
        assert server.pending_failures == 0


def test_served_faults_are_counted() -> None:
    with FakeOpenAIServer() as server:
        server.fail_next(500)
        with pytest.raises(openai.InternalServerError):
            _ask(server)
        assert server.faults_served == 1
