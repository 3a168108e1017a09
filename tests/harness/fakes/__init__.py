"""Stand-ins for external services that tests run against on 127.0.0.1."""

from tests.harness.fakes.openai_server import FakeOpenAIServer, FakeResponse, RecordedRequest, error_response

__all__ = ["FakeOpenAIServer", "FakeResponse", "RecordedRequest", "error_response"]
