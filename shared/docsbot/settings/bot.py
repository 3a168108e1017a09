"""Settings of the Discord bot functions, from environment variables, validated at start-up.

Kept apart from `docsbot.settings.config` so the interactions function reads its few variables without importing
the indexing stack. Secrets (public key excepted) are never logged. `DOCSBOT_ALLOWED_GUILDS` (comma-separated
server ids) limits the servers the bot answers in; unset, it answers in any server it is added to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from docsbot.settings.catalog import COLLECTION_NAME_PATTERN
from docsbot.settings.envvars import collections_file, integer
from docsbot.settings.store import StoreSettings, parse_store_settings

DISCORD_API = "https://discord.com/api/v10"


class BotConfigError(ValueError):
    """The bot's configuration is invalid; the message lists every problem."""


@dataclass(frozen=True)
class BotSettings:
    public_key: str  # DISCORD_PUBLIC_KEY: hex Ed25519 key of the Discord application
    application_id: str
    bot_token: str | None  # for /close, /open (thread archiving) and register-commands
    discord_api: str
    state: str  # "sqlite" (local) or "firestore"
    data_dir: Path
    project: str | None  # GOOGLE_CLOUD_PROJECT, for Firestore and Cloud Tasks
    queue: str  # "inprocess" (local) or "cloudtasks"
    tasks_queue: str | None  # projects/P/locations/L/queues/Q
    respond_url: str | None  # the respond function's URL (the Cloud Task's target)
    tasks_service_account: str | None  # the OIDC identity Cloud Tasks calls respond with
    tasks_emulator: str | None  # host:port of a Cloud Tasks emulator (tests, local)
    default_collection: str | None
    staff_roles: frozenset[str]  # role ids allowed to /solve, /close... besides the thread's author
    user_questions_per_hour: int
    guild_questions_per_hour: int
    max_attempts: int  # respond attempts before the user gets the apology (match the queue's retry config)
    respond_timeout_s: int = 300  # one respond attempt's time limit (the function's timeout; match Terraform)
    collections_file: Path | None = None  # the collections file baked into the build: the catalog's one source
    allowed_guilds: frozenset[str] | None = None  # DOCSBOT_ALLOWED_GUILDS: the only servers answered; None: any

    @property
    def store(self) -> StoreSettings:
        """Where the state lives (`state`, `data_dir`, `project`: parsed by `docsbot.settings.store`)."""
        return StoreSettings(kind=self.state, data_dir=self.data_dir, project=self.project)


def load_bot_settings(env: Mapping[str, str] | None = None) -> BotSettings:
    """Read and validate the bot's settings (default: `os.environ`)."""
    env = os.environ if env is None else env
    problems: list[str] = []
    public_key = env.get("DISCORD_PUBLIC_KEY", "").strip()
    if not public_key:
        problems.append("DISCORD_PUBLIC_KEY is required (the application's public key from the developer portal)")
    else:
        try:
            if len(bytes.fromhex(public_key)) != 32:
                raise ValueError
        except ValueError:
            problems.append("DISCORD_PUBLIC_KEY: 64 hex characters expected")
    application_id = env.get("DISCORD_APPLICATION_ID", "").strip()
    if not application_id.isdigit():
        problems.append("DISCORD_APPLICATION_ID is required (digits, from the developer portal)")
    store = parse_store_settings(env, problems)
    queue = (env.get("DOCSBOT_QUEUE") or "inprocess").strip().lower()
    if queue not in ("inprocess", "cloudtasks"):
        problems.append(f"DOCSBOT_QUEUE: inprocess or cloudtasks, got {queue!r}")
    if queue == "cloudtasks":
        for name in ("DOCSBOT_TASKS_QUEUE", "DOCSBOT_RESPOND_URL"):
            if not env.get(name):
                problems.append(f"{name} is required with DOCSBOT_QUEUE=cloudtasks")
    default_collection = (env.get("DOCSBOT_DEFAULT_COLLECTION") or "").strip() or None
    if default_collection is not None and not re.match(COLLECTION_NAME_PATTERN, default_collection):
        problems.append(
            f"DOCSBOT_DEFAULT_COLLECTION: a collection name {COLLECTION_NAME_PATTERN}, got {default_collection!r}"
        )
    settings = BotSettings(
        public_key=public_key,
        application_id=application_id,
        bot_token=env.get("DISCORD_BOT_TOKEN") or None,
        discord_api=(env.get("DISCORD_API_BASE_URL") or DISCORD_API).rstrip("/"),
        state=store.kind,
        data_dir=store.data_dir,
        project=store.project,
        queue=queue,
        tasks_queue=env.get("DOCSBOT_TASKS_QUEUE") or None,
        respond_url=env.get("DOCSBOT_RESPOND_URL") or None,
        tasks_service_account=env.get("DOCSBOT_TASKS_SERVICE_ACCOUNT") or None,
        tasks_emulator=env.get("CLOUD_TASKS_EMULATOR_HOST") or None,
        default_collection=default_collection,
        staff_roles=frozenset(r.strip() for r in (env.get("DOCSBOT_STAFF_ROLES") or "").split(",") if r.strip()),
        user_questions_per_hour=integer(env, "DOCSBOT_USER_QUESTIONS_PER_HOUR", 20, 0, 10**6, problems),
        guild_questions_per_hour=integer(env, "DOCSBOT_GUILD_QUESTIONS_PER_HOUR", 300, 0, 10**6, problems),
        max_attempts=integer(env, "DOCSBOT_RESPOND_MAX_ATTEMPTS", 9, 1, 100, problems),
        respond_timeout_s=integer(env, "DOCSBOT_RESPOND_TIMEOUT_SECONDS", 300, 60, 1800, problems),
        collections_file=collections_file(env, problems),
        allowed_guilds=_guild_ids(env.get("DOCSBOT_ALLOWED_GUILDS"), problems),
    )
    if problems:
        raise BotConfigError("bot configuration problems:\n" + "\n".join(f"  - {p}" for p in problems))
    return settings


def _guild_ids(raw: str | None, problems: list[str]) -> frozenset[str] | None:
    """DOCSBOT_ALLOWED_GUILDS: comma-separated server ids; unset or blank means every server."""
    ids = [part.strip() for part in (raw or "").split(",") if part.strip()]
    bad = [i for i in ids if not (i.isdigit() and len(i) <= 20)]
    for item in bad:
        problems.append(f"DOCSBOT_ALLOWED_GUILDS: server ids (digits, comma-separated), got {item[:40]!r}")
    return frozenset(ids) if ids else None
