"""Cloud Run job entry point: the scheduled scrape (`python main.py`; Cloud Scheduler starts the job).

Environment: DOCSBOT_COLLECTIONS_FILE (default: the collections.toml baked next to this file), QDRANT_URL and
the read-write QDRANT_API_KEY, OPENAI_API_KEY, DOCSBOT_STATE=firestore and GOOGLE_CLOUD_PROJECT, and the job's
DOCSBOT_SCRAPE_* settings; Cloud Run sets CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT. Logs are JSON lines.
Exits non-zero when a source failed entirely, so Cloud Run retries the task. See docsbot.refresh.job.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from docsbot.app.refresh import job_main

DEFAULT_COLLECTIONS_FILE = Path(__file__).with_name("collections.toml")


def main() -> int:
    env = dict(os.environ)
    if not env.get("DOCSBOT_COLLECTIONS_FILE") and DEFAULT_COLLECTIONS_FILE.is_file():
        env["DOCSBOT_COLLECTIONS_FILE"] = str(DEFAULT_COLLECTIONS_FILE)
    return job_main(env)


if __name__ == "__main__":
    sys.exit(main())
