"""The scheduled jobs (scheduler.tf), evaluated as environments/prod deploys them: every scheduled job (the
scrape, the optional digest) gets its Cloud Run job, its Cloud Scheduler trigger, the scheduler's invoker grant,
its own service account, its secrets and its project roles from the one table `local.scheduled_jobs`, so a new
scheduled job is one entry of it; and the module's `moved` blocks carry every former per-job address over to
the table's keys, so an existing deployment's jobs are moved in the state rather than destroyed and recreated."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.infra.hcl_eval import Module
from tests.infra.test_terraform_security import account, one, ref, secret_id, secret_readers
from tests.infra.tools import Configuration

# The three resources each scheduled job is made of.
SCHEDULED_RESOURCES = (
    ("google_cloud_run_v2_job", "job"),
    ("google_cloud_run_v2_job_iam_member", "scheduler_runs"),
    ("google_cloud_scheduler_job", "trigger"),
)

# The addresses the scrape and digest resources had before the table (scheduler.tf and digest.tf).
OLD_ADDRESSES = {
    "google_cloud_run_v2_job.scrape": 'google_cloud_run_v2_job.job["scrape"]',
    "google_cloud_run_v2_job_iam_member.scheduler_runs_scrape": (
        'google_cloud_run_v2_job_iam_member.scheduler_runs["scrape"]'
    ),
    "google_cloud_scheduler_job.scrape": 'google_cloud_scheduler_job.trigger["scrape"]',
    "google_cloud_run_v2_job.digest[0]": 'google_cloud_run_v2_job.job["digest"]',
    "google_cloud_run_v2_job_iam_member.scheduler_runs_digest[0]": (
        'google_cloud_run_v2_job_iam_member.scheduler_runs["digest"]'
    ),
    "google_cloud_scheduler_job.digest[0]": 'google_cloud_scheduler_job.trigger["digest"]',
}


@pytest.fixture(scope="module")
def on(tf: Configuration) -> Configuration:
    return tf.with_inputs(digest_enabled=True, digest_channel_id="1190000000000000900", digest_collection="docs")


def container(tf: Configuration, name: str) -> dict[str, Any]:
    job = tf.instance("google_cloud_run_v2_job", "job", name)
    return one(one(one(job["template"])["template"])["containers"])


def assert_made_from_the_table(tf: Configuration) -> set[str]:
    """Every resource of every scheduled job is the table entry's, and nothing else is scheduled; returns the
    names of the scheduled jobs."""
    table = tf.locals["scheduled_jobs"]
    names = set(table)
    for rtype, name in SCHEDULED_RESOURCES:
        assert tf.resource(rtype, name)["for_each"] == "${local.scheduled_jobs}", f"{rtype}.{name}"
        assert set(tf.instances(rtype, name)) == names, f"{rtype}.{name}"
    accounts = tf.instances("google_service_account", "sa")
    roles = tf.locals["project_roles"]
    for job_name, entry in table.items():
        prefixed = f"{tf.var['name_prefix']}-{job_name}"
        job = tf.instance("google_cloud_run_v2_job", "job", job_name)
        assert job["name"] == prefixed
        template = one(one(job["template"])["template"])
        assert template["service_account"] == account(job_name, "email")  # its own account, nobody else's
        assert accounts[job_name]["description"] == entry["account"]
        assert (template["timeout"], one(job["template"])["task_count"]) == (entry["timeout"], entry["task_count"])
        runs = container(tf, job_name)
        assert runs["command"] == entry["command"]
        assert {e["name"]: e["value"] for e in runs["env"] if "value" in e} == entry["env"]
        secrets = {e["name"]: one(one(e["value_source"])["secret_key_ref"])["secret"] for e in runs["env"]
                   if "value_source" in e}  # fmt: skip
        assert secrets == {key: secret_id(secret) for key, secret in entry["secrets"].items()}
        assert tf.locals["secret_env"][job_name] == entry["secrets"]
        assert secret_readers(tf)[job_name] == set(entry["secrets"].values())  # granted exactly what it reads
        assert roles[job_name] == entry["roles"]

        trigger = tf.instance("google_cloud_scheduler_job", "trigger", job_name)
        assert (trigger["name"], trigger["schedule"]) == (prefixed, entry["schedule"])
        target = one(trigger["http_target"])
        assert f'jobs/${{google_cloud_run_v2_job.job["{job_name}"].name}}:run"' in target["uri"].text
        assert one(target["oauth_token"])["service_account_email"] == account("scheduler", "email")
        invoker = tf.instance("google_cloud_run_v2_job_iam_member", "scheduler_runs", job_name)
        assert invoker["name"] == ref(f'google_cloud_run_v2_job.job["{job_name}"].name')
        assert (invoker["role"], invoker["member"]) == ("roles/run.invoker", account("scheduler", "member"))
    return names


def test_every_scheduled_job_gets_its_job_trigger_and_grants_from_the_one_table(
    tf: Configuration, on: Configuration
) -> None:
    assert assert_made_from_the_table(tf) == {"scrape"}  # the digest is off by default
    assert assert_made_from_the_table(on) == {"scrape", "digest"}
    assert set(on.locals["scheduled_job_table"]) == {"scrape", "digest"}
    # Off, a job leaves nothing behind: no account, no secret, no role.
    assert "digest" not in tf.instances("google_service_account", "sa")
    assert "digest" not in tf.locals["secret_env"] and "digest" not in tf.locals["project_roles"]


def test_a_new_scheduled_job_is_one_table_entry(tf: Configuration) -> None:
    files = copy.deepcopy(tf.module.files)
    table = next(block for block in files["scheduler.tf"]["locals"] if "scheduled_job_table" in block)
    table["scheduled_job_table"]["nightly"] = {
        **table["scheduled_job_table"]["scrape"],
        "account": "Runs a nightly report",
        "description": "Starts the nightly report.",
        "command": ["python", "-m", "docsbot.app.nightly"],
        "schedule": "30 1 * * *",
        "secrets": {"OPENAI_API_KEY": "openai_api_key"},
    }
    module = Module(files, tf.module.directory, tf.module.inputs, tf.module.root)
    extended = Configuration(module, tf.environment, tf.tfvars)
    assert assert_made_from_the_table(extended) == {"scrape", "nightly"}
    assert container(extended, "nightly")["command"] == ["python", "-m", "docsbot.app.nightly"]
    assert secret_readers(extended)["nightly"] == {"openai_api_key"}


def _address(expression: str) -> str:
    return expression.removeprefix("${").removesuffix("}")


def test_the_moved_blocks_carry_every_old_address_to_the_table(tf: Configuration) -> None:
    moves = {_address(block["from"]): _address(block["to"]) for block in tf.module.blocks("moved")}
    assert moves == OLD_ADDRESSES
    declared = {(rtype, name) for rtype, name, _ in tf.all_resources()}
    table = set(tf.locals["scheduled_job_table"])
    for old, new in moves.items():
        rtype, name = re.sub(r"\[0\]$", "", old).split(".")
        assert (rtype, name) not in declared, f"{old} is still declared: a moved block needs it gone"
        match = re.fullmatch(r'(\w+)\.(\w+)\["(\w+)"\]', new)
        assert match and match.group(1) == rtype, new  # same resource type: a move, not a replacement
        assert (rtype, match.group(2)) in SCHEDULED_RESOURCES and match.group(3) in table, new
    # Every resource of every job that existed before the table has its move.
    assert {(rtype, name, key) for rtype, name in SCHEDULED_RESOURCES for key in ("scrape", "digest")} == {
        (m.group(1), m.group(2), m.group(3))
        for m in (re.fullmatch(r'(\w+)\.(\w+)\["(\w+)"\]', new) for new in moves.values())
        if m
    }
