"""Environment variables of the scrape job and the ingest endpoint, validated at start with clear messages.

The index and embedder settings (QDRANT_URL, QDRANT_API_KEY, DOCSBOT_EMBEDDER...) come from
`docsbot.settings.config.load_settings`, the store's (DOCSBOT_STATE...) from `docsbot.settings.store`; these are
the extra ones. Every problem is listed in one `ConfigError`.
Secrets (DOCSBOT_INGEST_TOKEN) are never put into messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from docsbot.settings.config import ConfigError
from docsbot.settings.envvars import data_dir as env_data_dir
from docsbot.settings.envvars import flag, integer, number
from docsbot.settings.store import StoreSettings, parse_store_settings

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"  # Google's ID-token signing certificates (PEM)
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class JobSettings:
    store: StoreSettings
    task_index: int  # CLOUD_RUN_TASK_INDEX
    task_count: int  # CLOUD_RUN_TASK_COUNT
    max_drop: float  # a crawl seeing a larger fraction fewer pages than the last good one deletes nothing
    lease_ttl: timedelta
    lease_wait: float  # seconds to wait for a source another run holds before skipping it
    full: bool = False  # DOCSBOT_SCRAPE_FULL: ignore stored page states, download every page again


@dataclass(frozen=True)
class IngestSettings:
    store: StoreSettings
    auth: str  # "oidc" or "token"
    token: str | None  # DOCSBOT_INGEST_TOKEN (token mode)
    audience: str | None  # DOCSBOT_INGEST_AUDIENCE (oidc mode)
    allowed_service_accounts: frozenset[str]
    certs_url: str
    max_bytes: int
    read_timeout: float  # seconds a request body may take to arrive before a 408
    lock_wait: float  # seconds a batch waits for another batch of the same collection before a 503
    lease_ttl: timedelta

    def __repr__(self) -> str:  # never print the token
        return f"IngestSettings(auth={self.auth!r}, audience={self.audience!r}, max_bytes={self.max_bytes})"


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """DOCSBOT_DATA_DIR, defaulting like `docsbot.settings.config` (XDG data home)."""
    return env_data_dir(os.environ if env is None else env)


def load_store_settings(env: Mapping[str, str] | None = None) -> StoreSettings:
    """Only the store's settings (for `docsbot status`)."""
    problems: list[str] = []
    settings = parse_store_settings(os.environ if env is None else env, problems)
    _raise(problems, "store")
    return settings


def _raise(problems: list[str], what: str) -> None:
    if problems:
        raise ConfigError(f"{what} configuration problems:\n" + "\n".join(f"  - {p}" for p in problems))


def load_job_settings(env: Mapping[str, str] | None = None) -> JobSettings:
    """The scrape job's settings (default: `os.environ`)."""
    env = os.environ if env is None else env
    problems: list[str] = []
    store = parse_store_settings(env, problems)
    count = integer(env, "CLOUD_RUN_TASK_COUNT", 1, 1, 10_000, problems)
    index = integer(env, "CLOUD_RUN_TASK_INDEX", 0, 0, 9_999, problems)
    if index >= count:
        problems.append(f"CLOUD_RUN_TASK_INDEX ({index}) must be less than CLOUD_RUN_TASK_COUNT ({count})")
    settings = JobSettings(
        store=store,
        task_index=index,
        task_count=count,
        max_drop=number(env, "DOCSBOT_SCRAPE_MAX_DROP", 0.2, 0.0, 1.0, problems),
        lease_ttl=timedelta(seconds=integer(env, "DOCSBOT_SCRAPE_LEASE_SECONDS", 900, 30, 86_400, problems)),
        lease_wait=number(env, "DOCSBOT_SCRAPE_LEASE_WAIT", 0.0, 0.0, 3600.0, problems),
        full=flag(env, "DOCSBOT_SCRAPE_FULL", problems),
    )
    _raise(problems, "scrape job")
    return settings


def load_ingest_settings(env: Mapping[str, str] | None = None) -> IngestSettings:
    """The ingest endpoint's settings (default: `os.environ`)."""
    env = os.environ if env is None else env
    problems: list[str] = []
    store = parse_store_settings(env, problems)
    audience = (env.get("DOCSBOT_INGEST_AUDIENCE") or "").strip() or None
    token = env.get("DOCSBOT_INGEST_TOKEN") or None
    auth = (env.get("DOCSBOT_INGEST_AUTH") or ("oidc" if audience else "token")).strip().lower()
    allowed = frozenset(
        a.strip().lower() for a in (env.get("DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS") or "").split(",") if a.strip()
    )
    if auth == "oidc":
        if not audience:
            problems.append("DOCSBOT_INGEST_AUDIENCE is required with OIDC authentication (the function's URL)")
        if not allowed:
            problems.append(
                "DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS is required with OIDC authentication "
                "(comma-separated service account emails)"
            )
    elif auth == "token":
        if not token:
            problems.append(
                "set DOCSBOT_INGEST_TOKEN (a bearer token, locally) or DOCSBOT_INGEST_AUDIENCE and "
                "DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS (Google-signed OIDC tokens, in the cloud)"
            )
        elif len(token) < MIN_TOKEN_LENGTH:
            problems.append(f"DOCSBOT_INGEST_TOKEN: at least {MIN_TOKEN_LENGTH} characters")
    else:
        problems.append(f"DOCSBOT_INGEST_AUTH: oidc or token, got {auth!r}")
    certs_url = (env.get("DOCSBOT_INGEST_CERTS_URL") or GOOGLE_CERTS_URL).strip()
    if not certs_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        problems.append(f"DOCSBOT_INGEST_CERTS_URL: an https URL (http only on localhost), got {certs_url!r}")
    settings = IngestSettings(
        store=store,
        auth=auth,
        token=token,
        audience=audience,
        allowed_service_accounts=allowed,
        certs_url=certs_url,
        max_bytes=integer(env, "DOCSBOT_INGEST_MAX_BYTES", 8 * 2**20, 1024, 32 * 2**20, problems),
        read_timeout=number(env, "DOCSBOT_INGEST_READ_TIMEOUT", 60.0, 0.1, 600.0, problems),
        lock_wait=number(env, "DOCSBOT_INGEST_LOCK_WAIT", 30.0, 0.0, 600.0, problems),
        lease_ttl=timedelta(seconds=300),
    )
    _raise(problems, "ingest endpoint")
    return settings
