"""The optional gateway relay's deployment (issue 16), evaluated as environments/prod deploys it: off by default
(nothing created, respond without the bot token); on, one always-on Cloud Run instance with a liveness probe,
whose service account may only enqueue respond tasks and read the bot token; and checkov passes it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.infra import tools
from tests.infra.test_terraform_security import (
    EXPECTED_SECRET_ENV,
    account,
    iam_grants,
    members_of,
    one,
    ref,
    secret_id,
    secret_readers,
)
from tests.infra.tools import TERRAFORM_DIR, Configuration

RELAY_RESOURCES = (
    ("google_cloud_run_v2_service", "relay"),
    ("google_cloud_tasks_queue_iam_member", "relay_enqueue"),
    ("google_service_account_iam_member", "relay_act_as_tasks"),
)


@pytest.fixture(scope="module")
def on(tf: Configuration) -> Configuration:
    return tf.with_inputs(enable_relay=True, relay_image_tag="3f2c1ab")


def container(tf: Configuration) -> dict[str, Any]:
    return one(one(tf.instance("google_cloud_run_v2_service", "relay", "0")["template"])["containers"])


def test_off_by_default_nothing_is_created(tf: Configuration) -> None:
    assert tf.var["enable_relay"] is False
    for rtype, name in RELAY_RESOURCES:
        assert tf.instances(rtype, name) == {}, name
    assert "relay" not in tf.instances("google_service_account", "sa")
    assert tf.locals["secret_env"] == EXPECTED_SECRET_ENV  # respond keeps answering without the bot token


def test_one_instance_always_on_with_a_liveness_probe(on: Configuration) -> None:
    service = on.instance("google_cloud_run_v2_service", "relay", "0")
    template = one(service["template"])
    assert one(template["scaling"]) == {"min_instance_count": 1, "max_instance_count": 1}
    assert template["service_account"] == account("relay", "email")
    assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    relay = container(on)
    assert one(relay["resources"])["cpu_idle"] is False  # CPU always allocated
    assert one(one(relay["liveness_probe"])["http_get"])["path"] == "/healthz"
    assert relay["image"].text.endswith('/relay:3f2c1ab"')  # the repository's id is known after apply
    env = {e["name"]: e["value"] for e in relay["env"] if "value" in e}
    assert env["DOCSBOT_QUEUE"] == "cloudtasks"
    assert env["DOCSBOT_TASKS_SERVICE_ACCOUNT"] == account("tasks", "email")
    assert env["DOCSBOT_COLLECTIONS_FILE"] == "/app/collections.toml"
    assert env["DISCORD_APPLICATION_ID"] == on.var["discord_application_id"]


def test_the_relay_may_only_enqueue_and_read_the_bot_token(on: Configuration) -> None:
    relay_member = account("relay", "member")
    granted = [(rtype, body) for rtype, _, body in iam_grants(on) if relay_member in members_of(body)]
    kinds = sorted(rtype for rtype, _ in granted)
    assert kinds == [
        "google_cloud_tasks_queue_iam_member",
        "google_secret_manager_secret_iam_member",
        "google_service_account_iam_member",
    ]
    roles = {rtype: body for rtype, body in granted}
    enqueue = roles["google_cloud_tasks_queue_iam_member"]
    assert enqueue["role"] == "roles/cloudtasks.enqueuer" and enqueue["name"] == ref(
        "google_cloud_tasks_queue.respond.name"
    )
    act_as = roles["google_service_account_iam_member"]
    assert act_as["role"] == "roles/iam.serviceAccountUser" and act_as["service_account_id"] == account("tasks", "name")
    assert secret_readers(on)["relay"] == {"discord_bot_token"}
    secrets = {e["name"]: one(one(e["value_source"])["secret_key_ref"])["secret"] for e in container(on)["env"]
               if "value_source" in e}  # fmt: skip
    assert secrets == {"DISCORD_BOT_TOKEN": secret_id("discord_bot_token")}


def test_with_the_relay_respond_gets_the_bot_token_for_channel_messages(on: Configuration) -> None:
    assert on.locals["secret_env"]["respond"] == {
        **EXPECTED_SECRET_ENV["respond"],
        "DISCORD_BOT_TOKEN": "discord_bot_token",
    }
    assert "discord_bot_token" in secret_readers(on)["respond"]


def test_checkov_passes_the_relay(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy)
    for folder in ("environments/prod", "modules/docsbot"):  # on, whichever default checkov reads
        variables = copy / folder / "variables.tf"
        head, _, tail = variables.read_text().partition('variable "enable_relay" {')
        assert tail, folder
        variables.write_text(head + 'variable "enable_relay" {' + tail.replace("= false", "= true", 1))
    report = tools.checkov(copy / "environments" / "prod")
    assert report["summary"]["parsing_errors"] == 0
    # checkov 3.3 has no check of google_cloud_run_v2_service; whatever else it checks must still pass.
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert not failed, failed
