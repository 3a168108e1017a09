"""What the deployment does against strangers and runaway cost: the server allow-list reaches the functions,
a budget alert (when a billing account is given) and an uptime check on Discord's endpoint with an alert.

Evaluated like test_terraform_security.py: the environment's inputs passed to the module, outcomes asserted."""

from __future__ import annotations

from typing import Any

from tests.infra.hcl_eval import Unknown
from tests.infra.tools import Configuration


def one(block: Any) -> dict[str, Any]:
    assert isinstance(block, list) and len(block) == 1, block
    value: dict[str, Any] = block[0]
    return value


def function_env(tf: Configuration, name: str) -> dict[str, Any]:
    config = one(tf.instance("google_cloudfunctions2_function", "function", name)["service_config"])
    env: dict[str, Any] = config["environment_variables"]
    return env


def test_the_allow_list_reaches_both_discord_functions(tf: Configuration) -> None:
    assert function_env(tf, "interactions")["DOCSBOT_ALLOWED_GUILDS"] == ""  # the example: every server
    allowed = tf.with_inputs(allowed_guild_ids=["111111111111111111", "222222222222222222"])
    for name in ("interactions", "respond"):
        assert function_env(allowed, name)["DOCSBOT_ALLOWED_GUILDS"] == "111111111111111111,222222222222222222"
    failures = tf.with_inputs(allowed_guild_ids=["my-server"]).module.check_validations()
    assert failures and all(f.startswith("allowed_guild_ids:") for f in failures)


def test_the_budget_alert_needs_a_billing_account(tf: Configuration) -> None:
    assert tf.instances("google_billing_budget", "budget") == {}
    billed = tf.with_inputs(billing_account_id="012345-6789AB-CDEF01", monthly_budget=40, alert_emails=["ops@x.org"])
    (budget,) = billed.instances("google_billing_budget", "budget").values()
    assert budget["billing_account"] == "012345-6789AB-CDEF01"
    assert one(one(budget["amount"])["specified_amount"])["units"] == "40"
    assert sorted(r["threshold_percent"] for r in budget["threshold_rules"]) == [0.5, 0.9, 1.0]
    (project,) = one(budget["budget_filter"])["projects"]
    assert project.text == '"projects/${data.google_project.project.number}"'  # budgets name projects by number
    channels = one(budget["all_updates_rule"])["monitoring_notification_channels"]
    assert channels == [Unknown('google_monitoring_notification_channel.email["ops@x.org"].id')]
    failures = tf.with_inputs(billing_account_id="my card").module.check_validations()
    assert failures and all(f.startswith("billing_account_id:") for f in failures)


def test_an_uptime_check_watches_discords_endpoint_and_alerts(tf: Configuration) -> None:
    check = tf.instance("google_monitoring_uptime_check_config", "interactions")
    http = one(check["http_check"])
    assert http["use_ssl"] and http["validate_ssl"] and http["request_method"] == "GET"
    # A GET reaches our code, which answers 405 "POST only": the function is up without a signed request.
    assert [c["status_value"] for c in http["accepted_response_status_codes"]] == [405]
    resource = one(check["monitored_resource"])
    assert resource["type"] == "uptime_url"
    assert resource["labels"]["host"] == "us-central1-my-docsbot-project.cloudfunctions.net"
    assert http["path"] == "/docsbot-interactions"
    emailed = tf.with_inputs(alert_emails=["ops@x.org"])
    policy = emailed.instance("google_monitoring_alert_policy", "interactions_down")
    condition = one(one(policy["conditions"])["condition_threshold"])
    watched = str(condition["filter"])  # names the check's id, known after apply
    assert "uptime_check/check_passed" in watched
    assert "google_monitoring_uptime_check_config.interactions.uptime_check_id" in watched
    assert policy["notification_channels"] == [Unknown('google_monitoring_notification_channel.email["ops@x.org"].id')]
