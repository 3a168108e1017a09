"""OIDC certificates under hostile tokens: cached, and refetched for an unknown key id at most once a minute."""

from __future__ import annotations

import pytest

from docsbot.refresh.auth import CERTS_MIN_REFETCH_SECONDS, OidcAuthenticator, Unauthorized
from tests.harness.fakes.oidc import OidcIssuer

AUDIENCE = "https://ingest-abc123-uc.a.run.app"
ROBOT = "docs-ci@my-project.iam.gserviceaccount.com"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_with_unknown_key_ids_do_not_each_fetch_the_certificates() -> None:
    clock = FakeClock()
    with OidcIssuer() as issuer:
        authenticator = OidcAuthenticator(
            audience=AUDIENCE, allowed_service_accounts=[ROBOT], certs_url=issuer.certs_url, clock=clock
        )
        assert authenticator.authenticate(f"Bearer {issuer.token(email=ROBOT, audience=AUDIENCE)}").name == ROBOT
        assert issuer.certs_requests == 1
        clock.now += CERTS_MIN_REFETCH_SECONDS  # certificates a minute old may be refetched for a new key id
        for n in range(20):
            forged = issuer.token(email=ROBOT, audience=AUDIENCE, key_id=f"attacker-key-{n}")
            with pytest.raises(Unauthorized):
                authenticator.authenticate(f"Bearer {forged}")
            clock.now += 1.0
        # One refetch for the first unknown key id; the next ones fall inside the refetch interval.
        assert issuer.certs_requests == 2

        # Google rotates its key: once the interval has passed, a token under the new key id is accepted.
        issuer.rotate("test-key-2")
        rotated = f"Bearer {issuer.token(email=ROBOT, audience=AUDIENCE)}"
        clock.now += CERTS_MIN_REFETCH_SECONDS
        assert authenticator.authenticate(rotated).name == ROBOT
        assert issuer.certs_requests == 3
        assert authenticator.authenticate(rotated).name == ROBOT  # cached now
        assert issuer.certs_requests == 3


def test_the_certificates_expire_from_the_cache_by_the_injected_clock() -> None:
    clock = FakeClock()
    with OidcIssuer() as issuer:
        authenticator = OidcAuthenticator(
            audience=AUDIENCE, allowed_service_accounts=[ROBOT], certs_url=issuer.certs_url, clock=clock
        )
        token = f"Bearer {issuer.token(email=ROBOT, audience=AUDIENCE)}"
        for _ in range(5):
            authenticator.authenticate(token)
        assert issuer.certs_requests == 1
        clock.now += 301
        authenticator.authenticate(token)
        assert issuer.certs_requests == 2
