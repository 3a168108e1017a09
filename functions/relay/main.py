"""Cloud Run service entry point: the optional gateway relay (`python main.py`; Terraform's `enable_relay`).

One instance, CPU always allocated: it holds the Discord Gateway connection and queues a respond task (Cloud
Tasks) for each new forum post or mention it should answer. It serves only GET /healthz on PORT, for Cloud
Run's liveness probe. Environment: the bot's settings (docsbot.settings.bot) with DOCSBOT_QUEUE=cloudtasks,
DISCORD_BOT_TOKEN from Secret Manager, DOCSBOT_COLLECTIONS_FILE (default: the collections.toml baked next to
this file). Logs are JSON lines. See docs/decisions/0011-forum-relay.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from docsbot.app.relay import service_main

DEFAULT_COLLECTIONS_FILE = Path(__file__).with_name("collections.toml")


def main() -> int:
    env = dict(os.environ)
    if not env.get("DOCSBOT_COLLECTIONS_FILE") and DEFAULT_COLLECTIONS_FILE.is_file():
        env["DOCSBOT_COLLECTIONS_FILE"] = str(DEFAULT_COLLECTIONS_FILE)
    return service_main(env)


if __name__ == "__main__":
    sys.exit(main())
