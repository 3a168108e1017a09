"""Builds the scrape job and the ingest endpoint from the environment: where configuration meets the core."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from docsbot.app.logs import configure_json_logging
from docsbot.app.stores import open_store
from docsbot.settings.config import CollectionsFile, ConfigError, Settings, load_collections, load_settings
from docsbot.settings.refresh import JobSettings, load_ingest_settings, load_job_settings, load_store_settings
from docsbot.settings.store import StoreSettings
from docsbot.store.ports import FreshnessStore

if TYPE_CHECKING:  # the job pulls in the crawler; the ingest function never needs it
    from collections.abc import Sequence

    from docsbot.app.ingest_http import IngestEndpoint
    from docsbot.refresh.job import JobOptions, ScrapeJob
    from docsbot.refresh.pipeline import RefreshOptions
    from docsbot.settings.config import SourceConfig
    from docsbot.sources.registry import SnapshotSource

logger = logging.getLogger(__name__)


def build_store(settings: StoreSettings) -> FreshnessStore:
    return open_store(settings.kind, data_dir=settings.data_dir, project=settings.project)


def open_refresh_store(
    settings: Settings, collection: str, sources: Sequence[SourceConfig | SnapshotSource]
) -> FreshnessStore:
    """The store `docsbot ingest` / `scrape` refresh with (the job's, from DOCSBOT_STATE), old JSON states imported."""
    from docsbot.refresh.legacy_states import import_state_file
    from docsbot.store.model import utc_now

    store = build_store(load_store_settings())
    try:
        for source in sources:
            if source.kind in ("docusaurus", "sitemap"):
                import_state_file(store, settings.data_dir, collection, source.name, utc_now())
    except Exception:
        store.close()
        raise
    return store


def cli_refresh_options(*, full: bool, allow_large_delete: bool) -> RefreshOptions:
    """The CLI's refresh options: the job's drop limit (DOCSBOT_SCRAPE_MAX_DROP) and the operator's flags."""
    from docsbot.refresh.pipeline import RefreshOptions

    job = load_job_settings()
    return RefreshOptions(max_drop=job.max_drop, full=full, allow_large_delete=allow_large_delete)


def load_collections_file(settings: Settings) -> CollectionsFile:
    if settings.collections_file is None:
        raise ConfigError("no collections file: set DOCSBOT_COLLECTIONS_FILE (see collections.example.toml)")
    return load_collections(settings.collections_file)


def job_options(
    job: JobSettings,
    *,
    collection: str | None = None,
    full: bool = False,
    accept_drop: bool = False,
    lease_wait: float | None = None,
) -> JobOptions:
    from docsbot.refresh.job import JobOptions

    return JobOptions(
        task_index=job.task_index,
        task_count=job.task_count,
        max_drop=job.max_drop,
        accept_drop=accept_drop,
        lease_ttl=job.lease_ttl,
        lease_wait=job.lease_wait if lease_wait is None else lease_wait,
        full=full or job.full,
        collection=collection,
    )


def build_job(
    settings: Settings, store: FreshnessStore, options: JobOptions, clock: Callable[[], datetime] | None = None
) -> ScrapeJob:
    from docsbot.app.indexes import make_embedder, make_sparse, open_index
    from docsbot.refresh.job import ScrapeJob
    from docsbot.store.model import utc_now

    return ScrapeJob(
        store,
        lambda collection: open_index(settings, collection),
        make_embedder(settings),
        make_sparse(),
        options=options,
        clock=clock or utc_now,
    )


def job_main(env: Mapping[str, str] | None = None) -> int:
    """The Cloud Run job: JSON logs, settings from the environment, one run; the process's exit status."""
    from docsbot.refresh.job import exit_code

    configure_json_logging()
    try:
        settings = load_settings(env)
        job_settings = load_job_settings(env)
        collections = load_collections_file(settings)
    except ConfigError as error:
        logger.error(str(error))
        return 2
    try:
        store = build_store(job_settings.store)
        try:
            run = build_job(settings, store, job_options(job_settings)).run(collections)
        finally:
            store.close()
    except Exception:  # the store or the index is unusable: every source would fail; log it as one JSON line
        logger.exception("scrape run crashed")
        return 1
    return exit_code(run)


def build_ingest_endpoint(env: Mapping[str, str] | None = None) -> IngestEndpoint:
    """The ingest endpoint from the environment; ConfigError lists every problem."""
    from docsbot.app.indexes import make_embedder, make_sparse, open_index
    from docsbot.app.ingest_http import IngestEndpoint
    from docsbot.refresh.auth import Authenticator, OidcAuthenticator, TokenAuthenticator
    from docsbot.refresh.ingest_endpoint import IngestService

    settings = load_settings(env)
    ingest = load_ingest_settings(env)
    collections = load_collections_file(settings)
    authenticator: Authenticator
    if ingest.auth == "oidc":
        assert ingest.audience is not None  # checked by load_ingest_settings
        authenticator = OidcAuthenticator(
            audience=ingest.audience,
            allowed_service_accounts=ingest.allowed_service_accounts,
            certs_url=ingest.certs_url,
        )
    else:
        assert ingest.token is not None
        authenticator = TokenAuthenticator(ingest.token)
    service = IngestService(
        {c.name: c for c in collections.collections},
        build_store(ingest.store),
        lambda collection: open_index(settings, collection),
        make_embedder(settings),
        make_sparse(),
        lock_wait=ingest.lock_wait,
        lease_ttl=ingest.lease_ttl,
    )
    logger.info(
        "ingest endpoint ready",
        extra={"auth": ingest.auth, "collections": sorted(c.name for c in collections.collections)},
    )
    return IngestEndpoint(authenticator, service, ingest.max_bytes, ingest.read_timeout)
