"""infra/terraform, checked offline: formatting, checkov, the security properties the deployment promises, the
VM's rendered startup script and configs, and the function zips the build step makes.

`terraform validate` needs the Google provider, which cannot be downloaded here, so the configuration is
parsed with python-hcl2 and its structure asserted. python-hcl2, checkov, shellcheck and one venv per function
live in venvs of their own, cached by tests/infra_tools.py (the first run needs PyPI: about 2 minutes).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from nacl.signing import SigningKey

from tests import infra_tools
from tests.infra_tools import REPO, TEMPLATES_DIR, TERRAFORM_DIR

IAP_RANGE = "35.235.240.0/20"
QDRANT_PORTS = (6333, 6334)
DOMAIN = "qdrant.example.com"

# The least-privilege table of the issue: which secret each workload may read, by environment variable.
EXPECTED_SECRET_ENV = {
    "interactions": {"DISCORD_PUBLIC_KEY": "discord_public_key", "DISCORD_BOT_TOKEN": "discord_bot_token"},
    "respond": {
        "DISCORD_PUBLIC_KEY": "discord_public_key",
        "DISCORD_BOT_TOKEN": "discord_bot_token",
        "OPENAI_API_KEY": "openai_api_key",
        "QDRANT_API_KEY": "qdrant_read_only_api_key",
    },
    "ingest": {"OPENAI_API_KEY": "openai_api_key", "QDRANT_API_KEY": "qdrant_api_key"},
    "scrape": {"OPENAI_API_KEY": "openai_api_key", "QDRANT_API_KEY": "qdrant_api_key"},
}
EXPECTED_VM_SECRETS = {"qdrant_api_key", "qdrant_read_only_api_key"}

# What each function must NOT depend on (DESIGN.md §4: interactions imports nothing heavy).
FORBIDDEN_REQUIREMENTS = {
    "interactions": {"openai", "qdrant-client", "qdrant-edge-py", "beautifulsoup4", "selenium", "tiktoken"},
    "respond": {"beautifulsoup4", "selenium", "markdownify", "typer", "rich", "sentence-transformers"},
    "ingest": {"selenium", "typer", "rich", "google-cloud-tasks", "discord-interactions"},
}
FUNCTIONS = ("interactions", "respond", "ingest")


# --- parsing helpers ----------------------------------------------------------------------------------------


@dataclass
class Config:
    files: dict[str, Any]

    def blocks(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(file, block body) for every top-level block of a kind (resource, variable, locals...)."""
        for name, content in self.files.items():
            for block in content.get(kind, []):
                yield name, block

    def resources(self, rtype: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for _, block in self.blocks("resource"):
            for type_name, named in block.items():
                if type_name == rtype:
                    found.update(named)
        return found

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        resources = self.resources(rtype)
        assert name in resources, f"{rtype}.{name} is missing"
        return resources[name]

    def all_resources(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for _, block in self.blocks("resource"):
            for rtype, named in block.items():
                for name, body in named.items():
                    yield rtype, name, body

    @property
    def locals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for _, block in self.blocks("locals"):
            merged.update(block)
        return merged

    @property
    def variables(self) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for _, block in self.blocks("variable"):
            merged.update(block)
        return merged

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for _, block in self.blocks("output"):
            merged.update(block)
        return merged


def one(block: Any) -> dict[str, Any]:
    """A nested block parsed by hcl2 (a list of one dict) as its dict."""
    assert isinstance(block, list) and len(block) == 1, block
    value: dict[str, Any] = block[0]
    return value


def ports_of(rule: dict[str, Any]) -> set[int] | None:
    """The TCP ports a firewall allow/deny entry covers; None means every port."""
    ports = rule.get("ports")
    if not ports:
        return None
    covered: set[int] = set()
    for item in ports:
        low, _, high = str(item).partition("-")
        covered.update(range(int(low), int(high or low) + 1))
    return covered


def resolve(tf: Config, value: str) -> str:
    """A plain `${local.name}` reference replaced by that local's (string) value."""
    match = re.fullmatch(r"\$\{local\.([a-z0-9_]+)\}", value)
    if match is None:
        return value
    resolved: str = tf.locals[match.group(1)]
    return resolved


@pytest.fixture(scope="module")
def tf() -> Config:
    return Config(infra_tools.load_terraform())


# --- formatting, files, checkov -----------------------------------------------------------------------------


def test_terraform_fmt_is_clean(tmp_path: Path) -> None:
    infra_tools.terraform_fmt_check(TERRAFORM_DIR)
    # The examples are not .tf/.tfvars files, so fmt skips them: check copies.
    shutil.copyfile(TERRAFORM_DIR / "terraform.tfvars.example", tmp_path / "example.tfvars")
    shutil.copyfile(TERRAFORM_DIR / "backend.tf.example", tmp_path / "backend.tf")
    infra_tools.terraform_fmt_check(tmp_path)


def test_files_are_split_by_concern() -> None:
    expected = {
        "versions.tf",
        "variables.tf",
        "outputs.tf",
        "apis.tf",
        "qdrant.tf",
        "functions.tf",
        "tasks.tf",
        "scheduler.tf",
        "secrets.tf",
        "iam.tf",
        "firestore.tf",
    }
    assert expected <= {p.name for p in TERRAFORM_DIR.glob("*.tf")}
    assert (TERRAFORM_DIR / "terraform.tfvars.example").is_file()
    assert 'backend "gcs"' in (TERRAFORM_DIR / "backend.tf.example").read_text()


def test_checkov_finds_nothing_unjustified() -> None:
    report = infra_tools.checkov(TERRAFORM_DIR)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, "checkov could not parse a file (it exits 0 on those: read its report)"
    assert summary["resource_count"] >= 40, summary  # it really read the configuration
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment") or ""
        assert len(reason) > 40, f"{skipped['check_id']} on {skipped['resource']} is skipped without a real reason"


def test_checkov_passes_the_scrape_dockerfile() -> None:
    report = infra_tools.checkov(REPO / "functions" / "scrape_job", framework="dockerfile")
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0
    failed = [f"{c['check_id']}: {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert not failed, failed


# --- variables, outputs, examples ---------------------------------------------------------------------------

# Free-form values where any string is legitimate (a validation would only guess).
UNVALIDATED = {
    "deletion_protection",
    "acme_staging",
    "qdrant_image",
    "function_source_dir",
    "embedding_model",
    "chat_model",
    "scrape_time_zone",
}


def test_every_variable_has_description_type_and_validation(tf: Config) -> None:
    variables = tf.variables
    assert len(variables) > 30
    for name, body in variables.items():
        assert len(body.get("description", "")) > 20, f"variable {name} needs a description"
        assert body.get("type"), f"variable {name} needs a type"
        if name not in UNVALIDATED:
            assert body.get("validation"), f"variable {name} needs a validation"


def test_tfvars_example_sets_every_required_variable_and_nothing_unknown(tf: Config, tmp_path: Path) -> None:
    shutil.copyfile(TERRAFORM_DIR / "terraform.tfvars.example", tmp_path / "example.tf")
    example = infra_tools.load_terraform(tmp_path)["example.tf"]
    keys = set(example)
    variables = tf.variables
    assert keys <= set(variables), f"unknown variables in the example: {keys - set(variables)}"
    required = {name for name, body in variables.items() if "default" not in body}
    assert required == {"project_id", "discord_application_id"}
    # Needed for the VM (a precondition says so at plan time): the example sets them too.
    assert required | {"qdrant_domain", "acme_email"} <= keys


def test_outputs_give_what_the_deployment_guide_needs(tf: Config) -> None:
    outputs = tf.outputs
    for name in ("interactions_url", "qdrant_url", "tasks_queue_name", "qdrant_ip", "scrape_image", "secret_ids"):
        assert name in outputs, f"output {name} is missing"
    for name, body in outputs.items():
        assert len(body.get("description", "")) > 15, f"output {name} needs a description"
    assert "google_cloudfunctions2_function.interactions.url" in outputs["interactions_url"]["value"]
    assert outputs["qdrant_url"]["value"] == "${local.qdrant_url}"
    # The port is explicit: qdrant-client connects to 6333 when a URL has none, and 6333 is closed.
    assert tf.locals["qdrant_url"] == (
        '${var.qdrant_external_url == "" ? "https://${var.qdrant_domain}:443" : var.qdrant_external_url}'
    )
    external = one(tf.variables["qdrant_external_url"]["validation"])["condition"]
    assert ":[0-9]+$" in external


def test_remote_state_backend_example_is_gcs() -> None:
    text = (TERRAFORM_DIR / "backend.tf.example").read_text()
    assert re.search(r'backend "gcs" \{\s+bucket = "[^"]+"\s+prefix = "docsbot"', text)


# --- the network: what the internet can reach ---------------------------------------------------------------


def test_firewall_never_exposes_qdrant_or_ssh(tf: Config) -> None:
    rules = tf.resources("google_compute_firewall")
    assert rules, "no firewall rules"
    for name, rule in rules.items():
        assert rule["network"] == "${google_compute_network.docsbot[0].id}", f"{name} is not on docsbot's own VPC"
        assert rule.get("direction", "INGRESS") == "INGRESS"
        sources = {ipaddress.ip_network(resolve(tf, r)) for r in rule.get("source_ranges", [])}
        for allow in rule.get("allow", []):
            ports = ports_of(allow)
            assert allow["protocol"] == "tcp", f"{name} allows {allow['protocol']}"
            assert ports is not None, f"{name} allows every port"
            assert not ports & set(QDRANT_PORTS), f"{name} opens Qdrant's ports {QDRANT_PORTS}"
            if 22 in ports:
                assert sources == {ipaddress.ip_network(IAP_RANGE)}, f"{name} opens 22 beyond IAP's range"
                assert ports == {22}
            else:
                assert ports <= {80, 443}, f"{name} opens {ports}"
            # Only the Qdrant VM (by its service account) is a target of an allow rule.
            assert rule.get("target_service_accounts") == ['${google_service_account.sa["qdrant"].email}']


def test_firewall_opens_80_and_443_to_everyone_and_22_to_iap(tf: Config) -> None:
    rules = tf.resources("google_compute_firewall")
    web = rules["qdrant_web"]
    assert ports_of(one(web["allow"])) == {80, 443}
    assert web["source_ranges"] == ["0.0.0.0/0"]
    ssh = rules["qdrant_ssh_iap"]
    assert ports_of(one(ssh["allow"])) == {22}
    assert ssh["source_ranges"] == ["${local.iap_source_range}"]
    assert tf.locals["iap_source_range"] == IAP_RANGE


def test_qdrant_ports_are_explicitly_denied_before_any_allow(tf: Config) -> None:
    rules = tf.resources("google_compute_firewall")
    deny = rules["qdrant_ports_deny"]
    assert set(QDRANT_PORTS) <= (ports_of(one(deny["deny"])) or set())
    assert deny["source_ranges"] == ["0.0.0.0/0"]
    allow_priorities = [r.get("priority", 1000) for r in rules.values() if "allow" in r]
    assert deny["priority"] < min(allow_priorities)


def test_the_vm_has_a_static_ip_on_the_docsbot_subnet_and_is_hardened(tf: Config) -> None:
    vm = tf.resource("google_compute_instance", "qdrant")
    interface = one(vm["network_interface"])
    assert interface["subnetwork"] == "${google_compute_subnetwork.docsbot[0].id}"
    assert one(interface["access_config"])["nat_ip"] == "${google_compute_address.qdrant[0].address}"
    assert one(vm["service_account"])["email"] == '${google_service_account.sa["qdrant"].email}'
    shielded = one(vm["shielded_instance_config"])
    assert shielded["enable_secure_boot"] and shielded["enable_vtpm"] and shielded["enable_integrity_monitoring"]
    metadata = vm["metadata"]
    assert metadata["enable-oslogin"] == "TRUE"
    assert metadata["block-project-ssh-keys"] == "TRUE"
    assert metadata["startup-script"] == "${local.qdrant_startup_script}"
    assert vm["machine_type"] == "${var.qdrant_machine_type}"
    assert tf.variables["qdrant_machine_type"]["default"] == "e2-medium"
    assert tf.resource("google_compute_network", "docsbot")["auto_create_subnetworks"] is False


def test_the_data_disk_is_separate_and_snapshotted_daily(tf: Config) -> None:
    vm = tf.resource("google_compute_instance", "qdrant")
    attached = one(vm["attached_disk"])
    assert attached["source"] == "${google_compute_disk.qdrant_data[0].id}"
    assert attached["device_name"] == "${local.qdrant_disk_label}"
    attachment = tf.resource("google_compute_disk_resource_policy_attachment", "qdrant_snapshots")
    assert attachment["disk"] == "${google_compute_disk.qdrant_data[0].name}"
    assert attachment["name"] == "${google_compute_resource_policy.qdrant_snapshots[0].name}"
    policy = one(tf.resource("google_compute_resource_policy", "qdrant_snapshots")["snapshot_schedule_policy"])
    daily = one(one(policy["schedule"])["daily_schedule"])
    assert daily["days_in_cycle"] == 1
    retention = one(policy["retention_policy"])
    assert retention["max_retention_days"] == "${var.qdrant_snapshot_retention_days}"
    assert retention["on_source_disk_delete"] == "KEEP_AUTO_SNAPSHOTS"


def test_dns_record_only_with_a_managed_zone(tf: Config) -> None:
    record = tf.resource("google_dns_record_set", "qdrant")
    assert record["count"] == '${var.dns_managed_zone == "" ? 0 : local.qdrant_vm_count}'
    assert record["type"] == "A"
    assert record["rrdatas"] == ["${google_compute_address.qdrant[0].address}"]
    assert record["name"] == "${var.qdrant_domain}."


# --- who may call what ----------------------------------------------------------------------------------------

IAM_TYPES = re.compile(r"^google_.*_iam_(member|binding|policy)$")


def test_only_the_interactions_function_is_public(tf: Config) -> None:
    public = []
    for rtype, name, body in tf.all_resources():
        if IAM_TYPES.match(rtype):
            members = [body.get("member", ""), *body.get("members", [])]
            if any(m in ("allUsers", "allAuthenticatedUsers") for m in members):
                public.append((rtype, name, body))
    assert len(public) == 1, public
    rtype, name, body = public[0]
    assert rtype == "google_cloud_run_v2_service_iam_member"
    assert body["name"] == "${google_cloudfunctions2_function.interactions.name}"
    assert body["role"] == "roles/run.invoker"
    assert not [r for r in tf.resources("google_cloud_run_service_iam_member")]  # no v1 bindings on the side
    assert not tf.resources("google_cloudfunctions2_function_iam_member")


def invokers_of(tf: Config, function: str) -> list[dict[str, Any]]:
    return [
        body
        for body in tf.resources("google_cloud_run_v2_service_iam_member").values()
        if body["name"] == f"${{google_cloudfunctions2_function.{function}.name}}"
    ]


def test_respond_is_invokable_by_the_tasks_account_only(tf: Config) -> None:
    invokers = invokers_of(tf, "respond")
    assert [(b["role"], b["member"]) for b in invokers] == [
        ("roles/run.invoker", '${google_service_account.sa["tasks"].member}')
    ]
    assert "for_each" not in invokers[0] and "count" not in invokers[0]


def test_ingest_is_invokable_by_the_listed_accounts_only(tf: Config) -> None:
    invokers = invokers_of(tf, "ingest")
    assert len(invokers) == 1
    assert invokers[0]["for_each"] == "${toset(var.ingest_invoker_service_accounts)}"
    assert invokers[0]["member"] == "serviceAccount:${each.value}"
    assert invokers[0]["role"] == "roles/run.invoker"
    env = one(tf.resource("google_cloudfunctions2_function", "ingest")["service_config"])["environment_variables"]
    assert 'join(",", var.ingest_invoker_service_accounts)' in env.replace("${merge(", "")


def test_no_workload_gets_a_broad_project_role(tf: Config) -> None:
    roles = tf.locals["project_roles"]
    granted = {role for role_list in roles.values() for role in role_list}
    assert granted <= {
        "roles/datastore.user",
        "roles/logging.logWriter",
        "roles/artifactregistry.writer",
        "roles/storage.objectViewer",
    }
    for workload in ("interactions", "respond", "ingest", "scrape"):
        assert roles[workload] == ["roles/datastore.user"], workload
    assert "tasks" not in roles and "scheduler" not in roles
    grants = tf.resource("google_project_iam_member", "role")
    assert grants["for_each"] == "${local.project_grants}"
    assert "local.project_roles" in tf.locals["project_grants"]
    # No other project-level grant anywhere.
    for rtype in ("google_project_iam_binding", "google_project_iam_policy"):
        assert not tf.resources(rtype)
    assert list(tf.resources("google_project_iam_member")) == ["role"]


# --- secrets --------------------------------------------------------------------------------------------------


def test_each_workload_can_read_exactly_the_secrets_it_needs(tf: Config) -> None:
    locals_ = tf.locals
    assert locals_["secret_env"] == EXPECTED_SECRET_ENV
    assert set(locals_["qdrant_vm_secrets"]) == EXPECTED_VM_SECRETS
    # The grants are derived from those two tables and nothing else.
    reader = tf.resource("google_secret_manager_secret_iam_member", "reader")
    assert reader["for_each"] == "${local.secret_grants}"
    assert reader["role"] == "roles/secretmanager.secretAccessor"
    grants = locals_["secret_grants"]
    assert "local.secret_env" in grants and "local.qdrant_vm_secrets" in grants
    assert set(re.findall(r"local\.[a-z_]+", grants)) == {"local.secret_env", "local.qdrant_vm_secrets"}
    assert list(tf.resources("google_secret_manager_secret_iam_member")) == ["reader"]
    for rtype in ("google_secret_manager_secret_iam_binding", "google_secret_manager_secret_iam_policy"):
        assert not tf.resources(rtype)


def test_the_respond_function_gets_the_read_only_qdrant_key_only(tf: Config) -> None:
    respond = tf.locals["secret_env"]["respond"]
    assert respond["QDRANT_API_KEY"] == "qdrant_read_only_api_key"
    assert "qdrant_api_key" not in respond.values()


def test_functions_and_job_take_their_secrets_from_the_table(tf: Config) -> None:
    for name in FUNCTIONS:
        config = one(tf.resource("google_cloudfunctions2_function", name)["service_config"])
        dynamic = one(config["dynamic"])["secret_environment_variables"]
        assert dynamic["for_each"] == f"${{local.secret_env.{name}}}"
        assert "secret_environment_variables" not in config  # no hand-written extra secret
    job = one(one(one(tf.resource("google_cloud_run_v2_job", "scrape")["template"])["template"])["containers"])
    secret_envs = [d["env"] for d in job["dynamic"] if "value_source" in json.dumps(d)]
    assert [e["for_each"] for e in secret_envs] == ["${local.secret_env.scrape}"]


def test_no_secret_value_ever_reaches_terraform(tf: Config) -> None:
    assert not tf.resources("google_secret_manager_secret_version")
    assert set(tf.locals["secrets"]) == {
        "discord_public_key",
        "discord_bot_token",
        "openai_api_key",
        "qdrant_api_key",
        "qdrant_read_only_api_key",
    }
    for name in tf.variables:
        assert not re.search(r"(token|api_key|password|secret)$", name), f"variable {name} looks like a secret value"
    startup = tf.locals["qdrant_startup_vars"]
    assert startup["api_key_secret"] == '${google_secret_manager_secret.secret["qdrant_api_key"].secret_id}'
    assert (
        startup["read_only_api_key_secret"]
        == '${google_secret_manager_secret.secret["qdrant_read_only_api_key"].secret_id}'
    )


def test_each_workload_runs_as_its_own_service_account(tf: Config) -> None:
    accounts = tf.locals["service_accounts"]
    assert {"interactions", "respond", "ingest", "scrape", "tasks", "scheduler", "qdrant"} <= set(accounts)
    for name in FUNCTIONS:
        config = one(tf.resource("google_cloudfunctions2_function", name)["service_config"])
        assert config["service_account_email"] == f'${{google_service_account.sa["{name}"].email}}'
    template = one(one(tf.resource("google_cloud_run_v2_job", "scrape")["template"])["template"])
    assert template["service_account"] == '${google_service_account.sa["scrape"].email}'


# --- Cloud Tasks ----------------------------------------------------------------------------------------------


def test_the_queue_retries_with_limits_and_backoff(tf: Config) -> None:
    queue = tf.resource("google_cloud_tasks_queue", "respond")
    retry = one(queue["retry_config"])
    assert retry["max_attempts"] == "${var.tasks_max_attempts}"
    for key in ("min_backoff", "max_backoff", "max_doublings", "max_retry_duration"):
        assert retry[key] == f"${{var.tasks_{key}}}"
    assert one(queue["rate_limits"])["max_dispatches_per_second"] == "${var.tasks_max_dispatches_per_second}"
    attempts = tf.variables["tasks_max_attempts"]
    assert 1 <= attempts["default"] <= 100
    condition = one(attempts["validation"])["condition"]
    assert "var.tasks_max_attempts >= 1" in condition and "<= 100" in condition  # never -1 (unlimited)


def test_the_queue_calls_respond_with_an_oidc_token_of_the_tasks_account(tf: Config) -> None:
    target = one(tf.resource("google_cloud_tasks_queue", "respond")["http_target"])
    oidc = one(target["oidc_token"])
    assert oidc["service_account_email"] == '${google_service_account.sa["tasks"].email}'
    assert oidc["audience"] == "${local.respond_url}"
    override = one(target["uri_override"])
    assert override["host"] == "${local.respond_host}"
    assert override["uri_override_enforce_mode"] == "ALWAYS"
    assert tf.locals["respond_url"] == "${google_cloudfunctions2_function.respond.service_config[0].uri}"


def test_interactions_may_enqueue_and_mint_tokens_for_the_tasks_account_only(tf: Config) -> None:
    enqueue = tf.resource("google_cloud_tasks_queue_iam_member", "interactions_enqueue")
    assert enqueue["role"] == "roles/cloudtasks.enqueuer"
    assert enqueue["name"] == "${google_cloud_tasks_queue.respond.name}"
    assert enqueue["member"] == '${google_service_account.sa["interactions"].member}'
    act_as = tf.resource("google_service_account_iam_member", "interactions_act_as_tasks")
    assert act_as["service_account_id"] == '${google_service_account.sa["tasks"].name}'
    assert act_as["role"] == "roles/iam.serviceAccountUser"
    assert act_as["member"] == '${google_service_account.sa["interactions"].member}'


# --- Firestore ------------------------------------------------------------------------------------------------


def test_firestore_native_with_a_ttl_on_interaction_records(tf: Config) -> None:
    database = tf.resource("google_firestore_database", "default")
    assert database["type"] == "FIRESTORE_NATIVE"
    ttl = tf.resource("google_firestore_field", "interactions_ttl")
    assert ttl["collection"] == "interactions"
    assert ttl["field"] == "expires_at"
    assert "ttl_config" in ttl
    # The application writes that field (a TTL on a field nobody writes would silently never fire).
    model = (REPO / "shared" / "docsbot" / "state" / "model.py").read_text()
    assert re.search(r"^\s+expires_at: datetime", model, re.MULTILINE)
    quotas = tf.resource("google_firestore_field", "quotas_ttl")
    assert (quotas["collection"], quotas["field"]) == ("quotas", "expires_at") and "ttl_config" in quotas
    stores = (REPO / "shared" / "docsbot" / "state" / "firestore_store.py").read_text()
    assert 'collection(f"{prefix}quotas")' in stores and '"expires_at"' in stores


# --- the functions' configuration -----------------------------------------------------------------------------


def function_env(tf: Config, name: str) -> str:
    config = one(tf.resource("google_cloudfunctions2_function", name)["service_config"])
    env: str = config["environment_variables"]
    return env + json.dumps(tf.locals["bot_env"]) + json.dumps(tf.locals["index_env"])


def test_functions_get_the_environment_the_application_reads(tf: Config) -> None:
    bot = set(tf.locals["bot_env"])
    index = set(tf.locals["index_env"])
    interactions = one(tf.resource("google_cloudfunctions2_function", "interactions")["service_config"])
    respond = one(tf.resource("google_cloudfunctions2_function", "respond")["service_config"])
    ingest = one(tf.resource("google_cloudfunctions2_function", "ingest")["service_config"])
    assert interactions["environment_variables"].startswith("${merge(local.bot_env, {")
    assert respond["environment_variables"].startswith("${merge(local.bot_env, local.index_env, {")
    assert ingest["environment_variables"].startswith("${merge(local.index_env, {")
    for name in (
        "DOCSBOT_QUEUE",
        "DOCSBOT_TASKS_QUEUE",
        "DOCSBOT_RESPOND_URL",
        "DOCSBOT_TASKS_SERVICE_ACCOUNT",
    ):
        assert name in interactions["environment_variables"]
    assert 'DOCSBOT_TASKS_SERVICE_ACCOUNT = google_service_account.sa["tasks"].email' in re.sub(
        r"\s+", " ", interactions["environment_variables"]
    )
    assert {
        "DISCORD_APPLICATION_ID",
        "DOCSBOT_STATE",
        "GOOGLE_CLOUD_PROJECT",
        "DOCSBOT_DEFAULT_COLLECTION",
        "DOCSBOT_STAFF_ROLES",
        "DOCSBOT_USER_QUESTIONS_PER_HOUR",
        "DOCSBOT_GUILD_QUESTIONS_PER_HOUR",
    } <= bot
    assert tf.locals["bot_env"]["DOCSBOT_STATE"] == "firestore"
    assert {"QDRANT_URL", "DOCSBOT_EMBEDDER", "DOCSBOT_EMBEDDING_MODEL", "DOCSBOT_COLLECTIONS_FILE"} <= index
    for name in ("DOCSBOT_CHAT_MODEL", "DOCSBOT_RESPOND_MAX_ATTEMPTS = tostring(var.tasks_max_attempts)"):
        assert name in re.sub(r"\s+", " ", respond["environment_variables"])
    for name in ("DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS", "DOCSBOT_INGEST_AUDIENCE = local.ingest_url"):
        assert name in re.sub(r"\s+", " ", ingest["environment_variables"])
    assert tf.locals["tasks_queue_path"].startswith("projects/${var.project_id}/locations/${var.region}/queues/")


def test_interactions_stays_warm_and_builds_come_from_the_uploaded_zips(tf: Config) -> None:
    interactions = tf.resource("google_cloudfunctions2_function", "interactions")
    assert one(interactions["service_config"])["min_instance_count"] == "${var.interactions_min_instances}"
    for name in FUNCTIONS:
        build = one(tf.resource("google_cloudfunctions2_function", name)["build_config"])
        assert build["entry_point"] == name
        assert build["runtime"] == "${var.python_runtime}"
        storage = one(one(build["source"])["storage_source"])
        assert storage["object"] == f'${{google_storage_bucket_object.function_source["{name}"].name}}'
    source = tf.resource("google_storage_bucket_object", "function_source")
    assert "filemd5(" in source["name"]  # a changed zip redeploys; an unchanged one does not


# --- the scrape job -------------------------------------------------------------------------------------------


def test_the_scheduler_runs_the_scrape_job(tf: Config) -> None:
    scheduler = tf.resource("google_cloud_scheduler_job", "scrape")
    assert scheduler["schedule"] == "${var.scrape_schedule}"
    target = one(scheduler["http_target"])
    assert target["http_method"] == "POST"
    assert re.fullmatch(
        r"https://run\.googleapis\.com/v2/projects/\$\{var\.project_id\}/locations/\$\{var\.region\}"
        r"/jobs/\$\{google_cloud_run_v2_job\.scrape\.name\}:run",
        target["uri"],
    ), target["uri"]
    token = one(target["oauth_token"])
    assert token["service_account_email"] == '${google_service_account.sa["scheduler"].email}'
    runs = tf.resource("google_cloud_run_v2_job_iam_member", "scheduler_runs_scrape")
    assert runs["name"] == "${google_cloud_run_v2_job.scrape.name}"
    assert runs["member"] == '${google_service_account.sa["scheduler"].member}'
    assert runs["role"] == "roles/run.invoker"


def test_the_scrape_job_runs_the_image_in_parallel_tasks(tf: Config) -> None:
    job = tf.resource("google_cloud_run_v2_job", "scrape")
    template = one(job["template"])
    assert template["task_count"] == "${var.scrape_task_count}"
    assert "var.scrape_parallelism" in template["parallelism"]
    container = one(one(template["template"])["containers"])
    assert container["image"] == "${local.scrape_image}"
    assert container["command"] == ["python", "/app/main.py"]  # functions/scrape_job/main.py, baked in
    assert "google_artifact_registry_repository.images" in tf.locals["image_repository"]
    plain = next(d["env"] for d in container["dynamic"] if "value_source" not in json.dumps(d))
    assert {"QDRANT_URL", "DOCSBOT_COLLECTIONS_FILE", "DOCSBOT_STATE", "GOOGLE_CLOUD_PROJECT"} <= set(plain["for_each"])


def test_the_scrape_dockerfile_has_chromium_and_drops_root() -> None:
    text = (REPO / "functions" / "scrape_job" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.MULTILINE)
    assert "chromium chromium-driver" in text
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"pip install [^\n]*\.\s", text) and "[local]" not in text
    assert re.search(r'ENTRYPOINT \["python", "/app/main.py"\]', text)
    assert re.search(r"^COPY main.py collections.toml /app/", text, re.MULTILINE)


# --- the VM's templates, rendered as Terraform renders them ---------------------------------------------------

TEMPLATE_LOCALS = {
    "qdrant-config.yaml.tftpl": "qdrant_config_vars",
    "nginx-http.conf.tftpl": "nginx_http_vars",
    "nginx-https.conf.tftpl": "nginx_https_vars",
    "qdrant-tls.sh.tftpl": "qdrant_tls_vars",
    "qdrant-startup.sh.tftpl": "qdrant_startup_vars",
}
SAMPLE_VALUES = {
    "project_id": "my-docsbot-project",
    "domain": DOMAIN,
    "acme_email": "ops@example.com",
    "acme_staging": "false",
    "qdrant_version": "1.19.1",
    "qdrant_sha256": "ab" * 32,
    "data_dir": "/var/lib/qdrant",
    "data_device": "qdrant-data",
    "api_key_secret": "docsbot-qdrant-api-key",
    "read_only_api_key_secret": "docsbot-qdrant-read-only-api-key",
}


@dataclass
class Rendered:
    qdrant_config: str
    nginx_http: str
    nginx_https: str
    tls_script: str
    startup: str


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    def render(name: str, extra: dict[str, str] | None = None) -> str:
        text = (TEMPLATES_DIR / name).read_text()
        return infra_tools.render_template(text, {**SAMPLE_VALUES, **(extra or {})})

    parts = {
        "qdrant_config": render("qdrant-config.yaml.tftpl"),
        "nginx_http": render("nginx-http.conf.tftpl"),
        "nginx_https": render("nginx-https.conf.tftpl"),
        "tls_script": render("qdrant-tls.sh.tftpl"),
    }
    return Rendered(startup=render("qdrant-startup.sh.tftpl", parts), **parts)


def test_templates_take_exactly_the_values_terraform_passes(tf: Config) -> None:
    locals_ = tf.locals
    for template, local_name in TEMPLATE_LOCALS.items():
        used = infra_tools.template_variables((TEMPLATES_DIR / template).read_text())
        passed = set(locals_[local_name])
        assert used == passed, f"{template}: uses {sorted(used)}, Terraform passes {sorted(passed)}"
        calls = [v for v in locals_.values() if isinstance(v, str) and f"/templates/{template}" in v]
        calls += [v for v in locals_["qdrant_startup_vars"].values() if f"/templates/{template}" in v]
        assert calls, f"{template} is never rendered"
        assert all(f"local.{local_name})" in call for call in calls), calls
    assert set(SAMPLE_VALUES) | {"qdrant_config", "nginx_http", "nginx_https", "tls_script"} >= set(
        locals_["qdrant_startup_vars"]
    )


def test_the_renderer_refuses_what_it_cannot_render() -> None:
    assert infra_tools.render_template("a $${b} %%{c} ${d}", {"d": "D"}) == "a ${b} %{c} D"
    with pytest.raises(ValueError):
        infra_tools.render_template("%{ if x }y%{ endif }", {})
    with pytest.raises(ValueError):
        infra_tools.render_template("${upper(x)}", {"x": "1"})
    with pytest.raises(KeyError):
        infra_tools.render_template("${missing}", {})


def test_qdrant_binds_to_localhost_and_takes_both_keys(rendered: Rendered) -> None:
    config = yaml.safe_load(rendered.qdrant_config)
    service = config["service"]
    assert service["host"] == "127.0.0.1"
    assert service["http_port"] == 6333 and service["grpc_port"] == 6334
    assert service["api_key"] == "@QDRANT_API_KEY@"
    assert service["read_only_api_key"] == "@QDRANT_READ_ONLY_API_KEY@"
    assert config["storage"]["storage_path"].startswith(SAMPLE_VALUES["data_dir"] + "/")
    assert config["cluster"]["enabled"] is False


def test_the_startup_script_reads_both_keys_from_secret_manager_at_boot(rendered: Rendered) -> None:
    script = rendered.startup
    assert 'readonly API_KEY_SECRET="docsbot-qdrant-api-key"' in script
    assert 'readonly READ_ONLY_API_KEY_SECRET="docsbot-qdrant-read-only-api-key"' in script
    assert re.search(r'gcloud secrets versions access latest --secret="\$1" --project="\$PROJECT_ID"', script)
    assert 'read_secret "$API_KEY_SECRET"' in script and 'read_secret "$READ_ONLY_API_KEY_SECRET"' in script
    assert "${config//@QDRANT_API_KEY@/$api_key}" in script
    assert "${config//@QDRANT_READ_ONLY_API_KEY@/$read_only_key}" in script
    # The rendered config template is embedded verbatim, and the keys never reach the log.
    assert rendered.qdrant_config in script
    assert "set -x" not in script
    for line in script.splitlines():
        if re.match(r"\s*(log|echo|printf)\b", line) and "$config" not in line:
            assert "$api_key" not in line and "$read_only_key" not in line, line
    # The pinned release, verified when a checksum is given.
    assert 'readonly QDRANT_VERSION="1.19.1"' in script
    assert "releases/download/v$QDRANT_VERSION/$QDRANT_ASSET" in script
    assert "sha256sum --check" in script


def run_startup_step(
    rendered: Rendered, tmp_path: Path, step: str, secrets: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Runs one function of the rendered startup script for real, with /etc/qdrant moved into tmp_path and
    gcloud replaced by a stub that answers from `secrets` (chown/install ignore the qdrant user, which does not
    exist here; sleep returns at once)."""
    config_dir = tmp_path / "etc-qdrant"
    script = rendered.startup.replace("readonly CONFIG_DIR=/etc/qdrant", f"readonly CONFIG_DIR={config_dir}")
    assert script.rstrip().endswith('main "$@"')
    script = script.rstrip()[: -len('main "$@"')] + f"{step}\n"
    stubs = tmp_path / "bin"
    stubs.mkdir()
    store = tmp_path / "secrets"
    store.mkdir()
    for name, value in secrets.items():
        (store / name).write_text(value)
    stub_scripts = {
        "gcloud": '#!/bin/bash\nfor a in "$@"; do case "$a" in --secret=*) n="${a#--secret=}";; esac; done\n'
        f'[ -f "{store}/$n" ] || exit 1\ncat "{store}/$n"\n',
        "chown": "#!/bin/sh\nexit 0\n",
        "sleep": "#!/bin/sh\nexit 0\n",
        "install": "#!/bin/bash\nargs=()\n"
        'while (($#)); do case "$1" in -o|-g) shift 2;; *) args+=("$1"); shift;; esac; done\n'
        'exec /usr/bin/install "${args[@]}"\n',
    }
    for name, text in stub_scripts.items():
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    (tmp_path / "step.sh").write_text(script)
    return subprocess.run(
        ["bash", str(tmp_path / "step.sh")],
        env={"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_startup_script_writes_both_keys_into_qdrants_config(rendered: Rendered, tmp_path: Path) -> None:
    read_write, read_only = "a" * 64, "0123456789abcdef" * 4
    result = run_startup_step(
        rendered,
        tmp_path,
        "write_qdrant_config",
        {SAMPLE_VALUES["api_key_secret"]: read_write + "\n", SAMPLE_VALUES["read_only_api_key_secret"]: read_only},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config_file = tmp_path / "etc-qdrant" / "config.yaml"
    assert config_file.stat().st_mode & 0o777 == 0o640
    config = yaml.safe_load(config_file.read_text())
    assert config["service"]["api_key"] == read_write
    assert config["service"]["read_only_api_key"] == read_only
    assert config["service"]["host"] == "127.0.0.1"
    assert read_write not in result.stdout + result.stderr and read_only not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("read_write", "read_only", "message"),
    [
        ("k" * 40, "k" * 40, "must differ"),
        ("short", "r" * 40, "must be 32-256 characters"),
        ("a&b" * 20, "r" * 40, "must be 32-256 characters"),  # & would be special in bash's ${x//a/b}
        ('x" ' * 20, "r" * 40, "must be 32-256 characters"),  # a quote would break the YAML
        (None, "r" * 40, "cannot read secret"),  # no version added yet
    ],
)
def test_the_startup_script_refuses_unusable_keys(
    rendered: Rendered, tmp_path: Path, read_write: str | None, read_only: str, message: str
) -> None:
    secrets = {SAMPLE_VALUES["read_only_api_key_secret"]: read_only}
    if read_write is not None:
        secrets[SAMPLE_VALUES["api_key_secret"]] = read_write
    result = run_startup_step(rendered, tmp_path, "write_qdrant_config", secrets)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "etc-qdrant" / "config.yaml").exists()


def test_the_startup_script_mounts_the_data_disk_and_runs_qdrant_under_systemd(rendered: Rendered) -> None:
    script = rendered.startup
    assert 'readonly DATA_DEVICE="/dev/disk/by-id/google-qdrant-data"' in script
    assert "if ! blkid" in script  # formats only a blank disk
    assert "ExecStart=/usr/local/bin/qdrant --config-path $CONFIG_DIR/config.yaml" in script
    assert "User=qdrant" in script
    assert "chmod 0640" in script  # the config holding the keys is not world-readable


def test_certificates_are_obtained_and_renewed(rendered: Rendered) -> None:
    tls = rendered.tls_script
    assert re.search(r"certbot certonly --webroot --webroot-path \"\$WEBROOT\" --domain \"\$DOMAIN\"", tls)
    assert f'readonly DOMAIN="{DOMAIN}"' in tls
    startup = rendered.startup
    assert "systemctl enable --now certbot.timer" in startup  # Debian's renewal timer (twice a day)
    assert "renewal-hooks/deploy/reload-nginx" in startup and "systemctl reload nginx" in startup
    assert "systemctl enable --now docsbot-qdrant-tls.timer" in startup  # retries until DNS points here
    assert rendered.tls_script in startup


@pytest.mark.parametrize("name", ["startup", "tls_script"])
def test_rendered_scripts_pass_shellcheck(rendered: Rendered, name: str, tmp_path: Path) -> None:
    script = tmp_path / f"{name}.sh"
    script.write_text(getattr(rendered, name))
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    result = subprocess.run(
        [str(infra_tools.shellcheck()), "--shell=bash", "--severity=style", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_nginx_redirects_http_and_serves_the_letsencrypt_certificate(rendered: Rendered) -> None:
    http = re.sub(r"\s+", " ", rendered.nginx_http)
    assert "listen 80 default_server;" in http
    assert f"return 301 https://{DOMAIN}$request_uri;" in http
    assert "location ^~ /.well-known/acme-challenge/ { root /var/www/certbot;" in http
    https = re.sub(r"\s+", " ", rendered.nginx_https)
    assert re.search(r"listen 443 ssl", https)
    assert f"ssl_certificate /etc/letsencrypt/live/{DOMAIN}/fullchain.pem;" in https
    assert f"ssl_certificate_key /etc/letsencrypt/live/{DOMAIN}/privkey.pem;" in https
    assert "proxy_pass http://127.0.0.1:6333;" in https
    assert "6334" not in https  # gRPC is not exposed


def nginx_test(tmp_path: Path, site: str) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of a site file inside a minimal nginx.conf, with a self-signed certificate in place of
    Let's Encrypt's (nothing is started, no port is bound)."""
    certs = tmp_path / "live"
    certs.mkdir(exist_ok=True)
    if not (certs / "fullchain.pem").exists():
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                f"/CN={DOMAIN}",
                "-keyout",
                str(certs / "privkey.pem"),
                "-out",
                str(certs / "fullchain.pem"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    site_file = tmp_path / "qdrant.conf"
    site_file.write_text(site.replace(f"/etc/letsencrypt/live/{DOMAIN}/", f"{certs}/"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log off;\n    include {site_file};\n"
        "}\n"
    )
    return subprocess.run(
        [
            infra_tools.nginx(),
            "-t",
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
            "-e",
            str(tmp_path / "error.log"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_rendered_nginx_site_passes_nginx_t(rendered: Rendered, tmp_path: Path) -> None:
    # Before the certificate exists (HTTP only), and after (both servers), as the TLS script installs them.
    (tmp_path / "before").mkdir()
    before = nginx_test(tmp_path / "before", rendered.nginx_http)
    assert before.returncode == 0, before.stderr
    (tmp_path / "after").mkdir()
    after = nginx_test(tmp_path / "after", rendered.nginx_http + rendered.nginx_https)
    assert after.returncode == 0, after.stderr
    assert "test is successful" in after.stderr


def test_nginx_t_rejects_a_broken_site(rendered: Rendered, tmp_path: Path) -> None:
    result = nginx_test(tmp_path, rendered.nginx_https.replace("proxy_pass", "proxy_passs"))
    assert result.returncode != 0  # the check above would notice a broken template


# --- the build step: function zips ----------------------------------------------------------------------------

TEST_COLLECTIONS = """\
[[collection]]
name = "mydocs"
title = "My product"
description = "Docs of my product."

[[collection.source]]
kind = "docusaurus"
name = "site"
url = "https://docs.example.com/docs/intro"
"""


@dataclass
class Build:
    clone: Path
    out: Path
    collections: Path


def clean_clone(target: Path) -> Path:
    """The repository as a fresh clone would have it: tracked and new files, nothing ignored (.venv, dist...)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        relative = raw.decode()
        source = REPO / relative
        if source.is_file():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    root = tmp_path_factory.mktemp("build")
    clone = clean_clone(root / "clone")
    collections = root / "collections.toml"
    collections.write_text(TEST_COLLECTIONS)
    out = root / "dist"
    env = {**os.environ, "DOCSBOT_COLLECTIONS_FILE": str(collections)}
    result = subprocess.run(
        ["bash", "scripts/build_functions.sh", "--out", str(out)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return Build(clone=clone, out=out, collections=collections)


def test_the_build_makes_one_zip_per_function_with_the_package_vendored(build: Build) -> None:
    for name in FUNCTIONS:
        with zipfile.ZipFile(build.out / "functions" / f"{name}.zip") as archive:
            names = set(archive.namelist())
            assert archive.read("main.py") == (REPO / "functions" / name / "main.py").read_bytes()
            assert archive.read("requirements.txt") == (REPO / "functions" / name / "requirements.txt").read_bytes()
            assert archive.read("collections.toml") == build.collections.read_bytes()
            assert {"docsbot/__init__.py", "docsbot/py.typed", "docsbot/bot/settings.py"} <= names
            assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/demo_data/" in n]
            shipped = {n for n in names if n.startswith("docsbot/") and n.endswith(".py")}
            package = {
                "docsbot/" + p.relative_to(REPO / "shared" / "docsbot").as_posix()
                for p in (REPO / "shared" / "docsbot").rglob("*.py")
                if "__pycache__" not in p.parts and "demo_data" not in p.parts
            }
            assert shipped == package


def test_the_build_is_reproducible(build: Build, tmp_path: Path) -> None:
    env = {**os.environ, "DOCSBOT_COLLECTIONS_FILE": str(build.collections)}
    subprocess.run(
        ["bash", "scripts/build_functions.sh", "--out", str(tmp_path)],
        cwd=build.clone,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in FUNCTIONS:
        first = (build.out / "functions" / f"{name}.zip").read_bytes()
        assert (tmp_path / "functions" / f"{name}.zip").read_bytes() == first, f"{name}.zip differs between builds"


def test_the_build_refuses_to_run_without_a_collections_file(build: Build, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DOCSBOT_COLLECTIONS_FILE"}
    result = subprocess.run(
        ["bash", "scripts/build_functions.sh", "--out", str(tmp_path)],
        cwd=build.clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "collections.example.toml" in result.stderr


def test_the_build_stages_the_scrape_image_context(build: Build) -> None:
    context = build.out / "scrape_job"
    for name in ("Dockerfile", "main.py", "cloudbuild.yaml"):
        assert (context / name).read_bytes() == (REPO / "functions" / "scrape_job" / name).read_bytes()
    assert (context / "pyproject.toml").is_file() and (context / "README.md").is_file()
    assert (context / "shared" / "docsbot" / "__init__.py").is_file()
    assert (context / "collections.toml").read_bytes() == build.collections.read_bytes()
    for line in re.findall(r"^COPY (.+)$", (context / "Dockerfile").read_text(), re.MULTILINE):
        for source in line.split()[:-1]:  # the last word is the destination
            assert (context / source).exists(), f"the Dockerfile copies {source}, which the context lacks"
    cloudbuild = yaml.safe_load((context / "cloudbuild.yaml").read_text())
    assert cloudbuild["images"] == ["$_IMAGE"] and cloudbuild["options"]["logging"] == "CLOUD_LOGGING_ONLY"


def test_the_build_script_passes_shellcheck() -> None:
    result = subprocess.run(
        [str(infra_tools.shellcheck()), "--severity=style", str(REPO / "scripts" / "build_functions.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$", requirement)
    assert match, requirement
    return _canonical(match.group(1)), match.group(2).replace(" ", "")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_requirements_hold_only_what_the_function_needs(name: str) -> None:
    lines = infra_tools.requirement_lines(REPO / "functions" / name / "requirements.txt")
    declared = dict(_split(line) for line in lines)
    assert "functions-framework" in declared
    assert not set(declared) & FORBIDDEN_REQUIREMENTS[name], set(declared) & FORBIDDEN_REQUIREMENTS[name]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = dict(_split(dep) for dep in pyproject["project"]["dependencies"])
    from importlib import metadata

    for package, spec in declared.items():
        if package in project:
            assert spec == project[package], f"{package}{spec} disagrees with pyproject.toml's {project[package]}"
        else:  # a dependency of the project's dependencies, pinned loosely around what the project resolves to
            installed = metadata.version(package)
            assert spec, f"{package} needs a version range"
            from packaging.specifiers import SpecifierSet

            assert installed in SpecifierSet(spec), f"{package}{spec} excludes the tested {installed}"


# --- each zip, alone in a fresh venv, serves a request under functions-framework ------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    venv: Path
    source: Path
    log_file: Path

    def log(self) -> str:
        """The server's output (for assertion messages)."""
        return self.log_file.read_text(errors="replace")[-4000:]


@pytest.fixture
def serve(build: Build, tmp_path: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, env: dict[str, str]) -> Served:
        venv = infra_tools.venv(
            f"fn-{name}", infra_tools.requirement_lines(REPO / "functions" / name / "requirements.txt")
        )
        source = tmp_path / name
        with zipfile.ZipFile(build.out / "functions" / f"{name}.zip") as archive:
            archive.extractall(source)
        port = _free_port()
        log = (tmp_path / f"{name}.log").open("wb")
        base_env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken"),
        }
        process = subprocess.Popen(
            [
                str(venv / "bin" / "functions-framework"),
                "--target",
                name,
                "--source",
                str(source / "main.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=source,
            env={**base_env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return Served(f"http://127.0.0.1:{port}/", venv, source, tmp_path / f"{name}.log")
            time.sleep(0.1)
        log.close()
        pytest.fail(f"{name} did not start:\n{(tmp_path / f'{name}.log').read_text()[-4000:]}")

    yield start
    for process in processes:  # gunicorn: the master and its worker share the session we started
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _importable(venv: Path, source: Path, modules: list[str]) -> dict[str, bool]:
    code = (
        "import importlib.util, json, sys\n"
        "def found(name):\n"
        "    try:\n"
        "        return importlib.util.find_spec(name) is not None\n"
        "    except ModuleNotFoundError:\n"
        "        return False\n"
        "print(json.dumps({m: found(m) for m in sys.argv[1:]}))"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *modules],
        cwd=source,
        env={"PATH": "/usr/bin:/bin", "HOME": str(source)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found: dict[str, bool] = json.loads(result.stdout)
    return found


BOT_ENV = {
    "DISCORD_APPLICATION_ID": "123456789012345678",
    "DOCSBOT_STATE": "firestore",
    "GOOGLE_CLOUD_PROJECT": "demo-docsbot",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",  # never contacted by these requests; no credentials needed
}


def test_the_interactions_zip_serves_discord_with_only_its_requirements(serve: Any) -> None:
    key = SigningKey.generate()
    served: Served = serve(
        "interactions",
        {
            **BOT_ENV,
            "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
            "DOCSBOT_QUEUE": "cloudtasks",
            "DOCSBOT_TASKS_QUEUE": "projects/demo-docsbot/locations/us-central1/queues/respond",
            "DOCSBOT_RESPOND_URL": "https://respond.invalid/",
            "DOCSBOT_TASKS_SERVICE_ACCOUNT": "tasks@demo-docsbot.iam.gserviceaccount.com",
            "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9",
        },
    )
    body = json.dumps({"type": 1, "id": "1", "application_id": "123456789012345678", "token": "t"}).encode()
    timestamp = str(int(time.time()))
    signature = key.sign(timestamp.encode() + body).signature.hex()
    headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp, "Content-Type": "application/json"}
    pong = requests.post(served.url, data=body, headers=headers, timeout=30)
    assert pong.status_code == 200, pong.text + served.log()
    assert pong.json()["type"] == 1
    forged = requests.post(served.url, data=body.replace(b'"t"', b'"u"'), headers=headers, timeout=30)
    assert forged.status_code == 401
    # Nothing heavy is even installed: the zip's requirements are enough, and nothing more came along.
    found = _importable(served.venv, served.source, ["openai", "qdrant_client", "bs4", "selenium", "tiktoken"])
    assert not any(found.values()), found


def test_the_respond_zip_serves_cloud_tasks_with_only_its_requirements(serve: Any) -> None:
    key = SigningKey.generate()
    served: Served = serve(
        "respond",
        {
            **BOT_ENV,
            "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
            "DISCORD_BOT_TOKEN": "bot-token",
            "QDRANT_URL": "https://127.0.0.1:9",
            "QDRANT_API_KEY": "read-only-key",
            "OPENAI_API_KEY": "sk-test",
            "DOCSBOT_EMBEDDER": "openai",
            "DOCSBOT_CHAT_MODEL": "gpt-4.1-mini",
            "DOCSBOT_COLLECTIONS_FILE": "collections.toml",
            "DOCSBOT_RESPOND_MAX_ATTEMPTS": "5",
        },
    )
    assert requests.get(served.url, timeout=30).status_code == 405
    assert requests.post(served.url, data=b"{}", timeout=30).status_code == 403  # not from Cloud Tasks
    # A task it can never answer: the whole handler (index, answerer, Discord client, Firestore) is built,
    # which imports every module respond needs, then the task is dropped as malformed.
    dropped = requests.post(served.url, data=b"not a task", headers={"X-CloudTasks-QueueName": "respond"}, timeout=60)
    assert dropped.status_code == 200, dropped.text + served.log()
    assert dropped.json()["outcome"] == "bad_task"
    found = _importable(served.venv, served.source, ["bs4", "selenium", "typer"])
    assert not any(found.values()), found


def test_the_ingest_zip_serves_with_only_its_requirements(serve: Any) -> None:
    served: Served = serve(
        "ingest",
        {
            "QDRANT_URL": "https://127.0.0.1:9",
            "QDRANT_API_KEY": "read-write-key",
            "OPENAI_API_KEY": "sk-test",
            "DOCSBOT_COLLECTIONS_FILE": "collections.toml",
            "DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS": "ci@demo-docsbot.iam.gserviceaccount.com",
            "DOCSBOT_INGEST_AUDIENCE": "https://us-central1-demo-docsbot.cloudfunctions.net/docsbot-ingest",
            "GOOGLE_CLOUD_PROJECT": "demo-docsbot",
        },
    )
    # Without a caller's ID token the request is refused (401/403), or answered 501 while ingest is a
    # placeholder: either way the entry point imported and answered, it did not crash (500).
    answer = requests.post(served.url, json={"documents": []}, timeout=60)
    assert answer.status_code in (401, 403, 501), answer.text + served.log()
    found = _importable(served.venv, served.source, ["selenium", "typer", "google.cloud.tasks_v2"])
    assert not any(found.values()), found


# --- the deployment guide stays in step with the configuration ------------------------------------------------


def test_the_deploy_guide_names_real_outputs_secrets_and_commands(tf: Config) -> None:
    guide = (REPO / "docs" / "deploy.md").read_text()
    for output in set(re.findall(r"terraform (?:-chdir=\S+ )?output (?:-raw |-json )?([a-z_]+)", guide)):
        assert output in tf.outputs, f"docs/deploy.md uses `terraform output {output}`, which does not exist"
    for secret in tf.locals["secrets"].values():
        suffix = secret["id"].replace("${var.name_prefix}", "")
        assert suffix in guide, f"docs/deploy.md never shows how to fill the secret *{suffix}"
    for command in (
        "scripts/build_functions.sh",
        "terraform init",
        "terraform apply",
        "gcloud secrets versions add",
        "docsbot register-commands",
        "docsbot sync-collections",
        "gcloud run jobs execute",
        "terraform destroy",
        "--tunnel-through-iap",
    ):
        assert command in guide, f"docs/deploy.md never mentions {command}"
    for variable in re.findall(r"\b(DISCORD_[A-Z_]+|DOCSBOT_[A-Z_]+|QDRANT_[A-Z_]+)\b", guide):
        assert variable in _known_environment(), f"docs/deploy.md names an unknown variable {variable}"


def _known_environment() -> set[str]:
    names: set[str] = set()
    for path in [*(REPO / "shared" / "docsbot").rglob("*.py"), *(REPO / "functions").rglob("main.py")]:
        names.update(re.findall(r"\"((?:DISCORD|DOCSBOT|QDRANT)_[A-Z_]+)\"", path.read_text()))
    for path in TERRAFORM_DIR.glob("*.tf"):
        names.update(re.findall(r"\b((?:DISCORD|DOCSBOT|QDRANT)_[A-Z_]+)\s*=", path.read_text()))
    return names
