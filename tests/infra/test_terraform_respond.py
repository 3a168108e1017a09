"""The respond function knows its own time limit: Terraform passes the function's timeout to its attempt budget.

Decision 0017: an attempt computes its answer under `DOCSBOT_RESPOND_TIMEOUT_SECONDS` less 30 s kept to deliver.
If the variable and the function's real timeout differ, the platform kills an attempt mid-call (budget too long)
or the bot gives up early (too short).
"""

from __future__ import annotations

from typing import Any

from docsbot.settings.bot import BotConfigError, load_bot_settings
from tests.infra.tools import Configuration


def respond_service(tf: Configuration) -> dict[str, Any]:
    config = tf.instance("google_cloudfunctions2_function", "function", "respond")["service_config"]
    assert isinstance(config, list) and len(config) == 1
    service: dict[str, Any] = config[0]
    return service


def test_the_respond_budget_is_the_functions_timeout(tf: Configuration) -> None:
    service = respond_service(tf)
    assert service["timeout_seconds"] == 300
    assert service["environment_variables"]["DOCSBOT_RESPOND_TIMEOUT_SECONDS"] == "300"
    shorter = respond_service(tf.with_inputs(respond_timeout_seconds=120))
    assert shorter["timeout_seconds"] == 120
    assert shorter["environment_variables"]["DOCSBOT_RESPOND_TIMEOUT_SECONDS"] == "120"


def test_every_timeout_terraform_accepts_is_one_respond_accepts(tf: Configuration) -> None:
    env = {"DISCORD_PUBLIC_KEY": "ab" * 32, "DISCORD_APPLICATION_ID": "42", "DOCSBOT_STATE": "sqlite"}
    for seconds in (30, 59, 60, 61.5, 300, 600, 601):
        accepted = not tf.with_inputs(respond_timeout_seconds=seconds).module.check_validations()
        try:
            load_bot_settings({**env, "DOCSBOT_RESPOND_TIMEOUT_SECONDS": str(seconds)})
            started = True
        except BotConfigError:
            started = False
        assert accepted == (seconds in (60, 300, 600)), seconds
        if accepted:
            assert started, f"terraform accepts {seconds} s but the respond function would refuse to start"
