"""The bot's composition root: builds the interactions and respond handlers from their settings.

The one place where adapters are chosen (state store, queue, Discord REST, index, chat model), used by both
functions and by `docsbot serve`. The interactions side imports only light modules (state, queue, discord,
the collections catalog); the respond side builds the index, embedder and chat model per collection, once per
process (Cloud Functions reuse warm instances). Both read the collections file baked into the build: the one
source of truth for collections and the channel map (`docsbot.settings.catalog`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from docsbot.bot.tasks import TaskQueue
from docsbot.settings.bot import BotSettings
from docsbot.store.ports import StateStore

if TYPE_CHECKING:
    from docsbot.answer.pipeline import Answerer
    from docsbot.bot.interactions import InteractionsHandler
    from docsbot.bot.queue import InProcessQueue
    from docsbot.bot.respond import RespondHandler
    from docsbot.discord.rest import DiscordRest
    from docsbot.index.search import Searcher
    from docsbot.settings.config import Settings


def build_store(bot: BotSettings) -> StateStore:
    from docsbot.app.stores import open_store

    return open_store(bot.state, data_dir=bot.data_dir, project=bot.project)


def build_rest(bot: BotSettings) -> DiscordRest:
    from docsbot.discord.rest import DiscordRest

    return DiscordRest(bot.application_id, bot_token=bot.bot_token, base_url=bot.discord_api)


def build_archiver(bot: BotSettings) -> DiscordRest | None:
    """The client /close and /open use inside Discord's 3-second deadline: one short try, no retries."""
    from docsbot.discord.rest import DiscordRest

    if not bot.bot_token:
        return None
    return DiscordRest(
        bot.application_id, bot_token=bot.bot_token, base_url=bot.discord_api, timeout=1.5, max_retries=0
    )


def build_cloud_tasks_queue(bot: BotSettings) -> TaskQueue:
    from docsbot.bot.queue import CloudTasksQueue, emulator_client

    assert bot.tasks_queue is not None and bot.respond_url is not None  # checked by load_bot_settings
    client = emulator_client(bot.tasks_emulator) if bot.tasks_emulator else None
    return CloudTasksQueue(
        bot.tasks_queue,
        bot.respond_url,
        service_account_email=bot.tasks_service_account,
        client=client,
        timeout_s=1.0,  # inside Discord's 3-second deadline, with room to answer "try again" on a timeout
    )


class Collections:
    """Each docs collection's searcher and answerer, built on first use and kept for the process's life
    (Cloud Functions reuse warm instances). Implements `docsbot.bot.respond.CollectionServices`."""

    def __init__(self, settings: Settings) -> None:
        from docsbot.app.indexes import make_embedder
        from docsbot.settings.config import load_collections

        self.settings = settings
        self.configs = load_collections(settings.collections_file) if settings.collections_file else None
        self.embedder = make_embedder(settings)
        self._lock = threading.Lock()
        self._searchers: dict[str, Searcher] = {}
        self._answerers: dict[str, Answerer] = {}

    def searcher(self, collection: str) -> Searcher:
        from docsbot.app.indexes import make_sparse, open_index
        from docsbot.index.search import Searcher

        with self._lock:
            if collection not in self._searchers:
                index = open_index(self.settings, collection)
                self._searchers[collection] = Searcher(index, self.embedder, make_sparse())
            return self._searchers[collection]

    def answerer(self, collection: str) -> Answerer:
        from docsbot.app.answerers import make_answerer

        searcher = self.searcher(collection)
        with self._lock:
            if collection not in self._answerers:
                config = None
                if self.configs is not None:
                    config = next((c for c in self.configs.collections if c.name == collection), None)
                self._answerers[collection] = make_answerer(self.settings, searcher, collection, config)
            return self._answerers[collection]


def build_respond(bot: BotSettings, settings: Settings, store: StateStore) -> RespondHandler:
    """The respond handler over every collection's searcher and answerer (`Collections`)."""
    from docsbot.bot.respond import RelayQuotas, RespondHandler

    rest = build_rest(bot)
    return RespondHandler(
        store,
        rest,
        Collections(settings),
        default_collection=bot.default_collection,
        max_attempts=bot.max_attempts,
        attempt_s=bot.respond_timeout_s,
        # Relay tasks (docs/decisions/0011-forum-relay.md) are answered with the bot token, when it is given.
        channels=rest if bot.bot_token else None,
        relay_quotas=RelayQuotas(bot.user_questions_per_hour, bot.guild_questions_per_hour),
    )


def build_queue(bot: BotSettings, store: StateStore) -> TaskQueue:
    """Cloud Tasks in the cloud; locally, an in-process queue that answers in this process."""
    if bot.queue == "cloudtasks":
        return build_cloud_tasks_queue(bot)
    return build_local_queue(bot, store)


def build_local_queue(bot: BotSettings, store: StateStore) -> InProcessQueue:
    """Answers tasks in this process with a respond handler of its own (`docsbot serve`, local development)."""
    from docsbot.bot.queue import InProcessQueue
    from docsbot.settings.config import load_settings

    respond = build_respond(bot, load_settings(), store)
    return InProcessQueue(
        lambda body, headers: respond.handle(body, headers).status, retries=bot.max_attempts - 1, backoff_s=1.0
    )


def build_interactions(
    bot: BotSettings, *, store: StateStore | None = None, queue: TaskQueue | None = None
) -> InteractionsHandler:
    """The interactions handler: the state store, the queue `bot.queue` names, the collections catalog."""
    from docsbot.bot.interactions import InteractionsHandler, Limits
    from docsbot.settings.catalog import load_catalog

    store = store if store is not None else build_store(bot)
    return InteractionsHandler(
        bot.public_key,
        store,
        queue if queue is not None else build_queue(bot, store),
        load_catalog(bot.collections_file),
        archiver=build_archiver(bot),
        default_collection=bot.default_collection,
        limits=Limits(
            user_questions_per_hour=bot.user_questions_per_hour,
            guild_questions_per_hour=bot.guild_questions_per_hour,
            staff_roles=bot.staff_roles,
            allowed_guilds=bot.allowed_guilds,
        ),
    )
