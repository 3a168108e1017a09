"""The optional weekly digest's deployment (issue 14 item 6), evaluated as environments/prod deploys it: off by
default (nothing created, no new grant); on, a Cloud Run job from the scrape image running the digest entry point,
started weekly by Cloud Scheduler as the scheduler account only, whose own account reads exactly the bot token,
the OpenAI key and the read-only Qdrant key, with Firestore read/write and nothing else; and checkov passes it."""

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

CHANNEL = "1190000000000000900"
# The scheduled jobs' resources (scheduler.tf): the digest is their "digest" instance.
SCHEDULED_RESOURCES = (
    ("google_cloud_run_v2_job", "job"),
    ("google_cloud_run_v2_job_iam_member", "scheduler_runs"),
    ("google_cloud_scheduler_job", "trigger"),
)


@pytest.fixture(scope="module")
def on(tf: Configuration) -> Configuration:
    return tf.with_inputs(digest_enabled=True, digest_channel_id=CHANNEL, digest_collection="docs")


def container(tf: Configuration) -> dict[str, Any]:
    job = tf.instance("google_cloud_run_v2_job", "job", "digest")
    return one(one(one(job["template"])["template"])["containers"])


def test_off_by_default_nothing_is_created(tf: Configuration) -> None:
    assert tf.var["digest_enabled"] is False
    for rtype, name in SCHEDULED_RESOURCES:
        assert set(tf.instances(rtype, name)) == {"scrape"}, name  # the scrape job only
    assert "digest" not in tf.instances("google_service_account", "sa")
    assert tf.locals["secret_env"] == EXPECTED_SECRET_ENV


def test_on_a_weekly_job_runs_the_digest_from_the_scrape_image(on: Configuration) -> None:
    assert on.var["digest_schedule"] == "0 9 * * 1"  # Mondays, as environments/prod sets it
    digest = container(on)
    assert digest["command"] == ["python", "-m", "docsbot.app.digest"]
    assert "/scrape-job:" in digest["image"].text  # the scrape job's image, another command
    env = {e["name"]: e["value"] for e in digest["env"] if "value" in e}
    assert env["DOCSBOT_DIGEST_CHANNEL_ID"] == CHANNEL and env["DOCSBOT_DIGEST_COLLECTION"] == "docs"
    assert env["DOCSBOT_DIGEST_SINCE"] == "7d" and env["DOCSBOT_STATE"] == "firestore"
    assert env["DISCORD_APPLICATION_ID"] == on.var["discord_application_id"]
    job = one(on.instance("google_cloud_run_v2_job", "job", "digest")["template"])
    assert (job["task_count"], job["parallelism"]) == (1, 1)
    template = one(job["template"])
    assert template["service_account"] == account("digest", "email")
    assert (template["timeout"], template["max_retries"]) == ("1800s", 1)
    assert one(digest["resources"])["limits"] == {"cpu": "1", "memory": "2Gi"}

    schedule = on.instance("google_cloud_scheduler_job", "trigger", "digest")
    assert schedule["schedule"] == "0 9 * * 1"
    assert (schedule["name"], schedule["description"]) == ("docsbot-digest", "Starts the docsbot weekly digest job.")
    target = one(schedule["http_target"])
    assert (
        target["uri"].text.endswith(':run"')
        and 'jobs/${google_cloud_run_v2_job.job["digest"].name}' in target["uri"].text
    )
    assert one(target["oauth_token"])["service_account_email"] == account("scheduler", "email")
    invoker = on.instance("google_cloud_run_v2_job_iam_member", "scheduler_runs", "digest")
    assert invoker["role"] == "roles/run.invoker" and invoker["member"] == account("scheduler", "member")


def test_the_digest_account_reads_exactly_its_secrets_and_firestore(on: Configuration) -> None:
    assert secret_readers(on)["digest"] == {"discord_bot_token", "openai_api_key", "qdrant_read_only_api_key"}
    secrets = {e["name"]: one(one(e["value_source"])["secret_key_ref"])["secret"] for e in container(on)["env"]
               if "value_source" in e}  # fmt: skip
    assert secrets == {
        "DISCORD_BOT_TOKEN": secret_id("discord_bot_token"),
        "OPENAI_API_KEY": secret_id("openai_api_key"),
        "QDRANT_API_KEY": secret_id("qdrant_read_only_api_key"),  # never the read-write key
    }
    digest_member = account("digest", "member")
    granted = sorted(
        (rtype, body.get("role")) for rtype, _, body in iam_grants(on) if digest_member in members_of(body)
    )
    assert granted == [
        ("google_project_iam_member", "roles/datastore.user"),
        *[("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor")] * 3,
    ]
    # Nobody else gained anything: the other workloads keep their secrets.
    assert {k: v for k, v in on.locals["secret_env"].items() if k != "digest"} == EXPECTED_SECRET_ENV
    assert ref('google_service_account.sa["scheduler"].member') == account("scheduler", "member")


def precondition(tf: Configuration) -> dict[str, Any]:
    return one(one(tf.instance("google_cloud_run_v2_job", "job", "digest")["lifecycle"])["precondition"])


def test_enabling_it_without_a_channel_or_collection_is_refused(tf: Configuration, on: Configuration) -> None:
    assert precondition(on)["condition"] is True
    assert precondition(on.with_inputs(digest_channel_id=""))["condition"] is False
    assert precondition(on.with_inputs(digest_collection=""))["condition"] is False
    assert "digest_channel_id" in precondition(on)["error_message"]
    failures = tf.with_inputs(digest_channel_id="#staff").module.check_validations()
    assert failures and all(f.startswith("digest_channel_id:") for f in failures), failures
    assert tf.with_inputs(digest_schedule="weekly").module.check_validations()
    assert tf.with_inputs(digest_since="a week").module.check_validations()


def test_checkov_passes_the_digest(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy)
    for folder in ("environments/prod", "modules/docsbot"):  # on, whichever default checkov reads
        variables = copy / folder / "variables.tf"
        text = variables.read_text()
        for name, value in (("digest_enabled", "true"), ("digest_channel_id", f'"{CHANNEL}"'),
                            ("digest_collection", '"docs"')):  # fmt: skip
            head, _, tail = text.partition(f'variable "{name}" {{')
            assert tail, (folder, name)
            old = "= false" if name == "digest_enabled" else '= ""'
            text = head + f'variable "{name}" {{' + tail.replace(old, f"= {value}", 1)
        variables.write_text(text)
    report = tools.checkov(copy / "environments" / "prod")
    assert report["summary"]["parsing_errors"] == 0
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert not failed, failed
