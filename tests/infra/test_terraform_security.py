"""What the deployment promises, checked on the configuration as environments/prod deploys it: who may invoke
what, which secret each identity reads, what the internet can reach, the queue's routing and limits, the TTLs.

Resources are evaluated (tools.Configuration.instances: for_each, count and dynamic blocks expanded, variables
and locals resolved, the environment's inputs passed to the module), so these tests assert outcomes: they do
not care how the HCL spells them. What only exists after an apply stays symbolic (`ref(...)` below).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.hcl_eval import Unknown
from tests.infra.tools import REPO, Configuration

IAP_RANGE = "35.235.240.0/20"
QDRANT_PORTS = (6333, 6334)
FUNCTIONS = ("interactions", "respond", "ingest")

# The least-privilege table of the issue: which secret each workload may read, by environment variable.
EXPECTED_SECRET_ENV = {
    "interactions": {"DISCORD_PUBLIC_KEY": "discord_public_key", "DISCORD_BOT_TOKEN": "discord_bot_token"},
    # respond edits its answers through the interaction token: it never holds the bot token.
    "respond": {
        "DISCORD_PUBLIC_KEY": "discord_public_key",
        "OPENAI_API_KEY": "openai_api_key",
        "QDRANT_API_KEY": "qdrant_read_only_api_key",
    },
    "ingest": {"OPENAI_API_KEY": "openai_api_key", "QDRANT_API_KEY": "qdrant_api_key"},
    "scrape": {"OPENAI_API_KEY": "openai_api_key", "QDRANT_API_KEY": "qdrant_api_key"},
}
EXPECTED_VM_SECRETS = {"qdrant_api_key", "qdrant_read_only_api_key"}
IAM_TYPES = re.compile(r"^google_.*_iam_(member|binding|policy)$")


def ref(text: str) -> Unknown:
    """A value known after apply, e.g. ref('google_service_account.sa["tasks"].member')."""
    return Unknown(text)


def account(workload: str, attribute: str) -> Unknown:
    return ref(f'google_service_account.sa["{workload}"].{attribute}')


def secret_id(secret: str) -> Unknown:
    return ref(f'google_secret_manager_secret.secret["{secret}"].secret_id')


def function_name(function: str) -> Unknown:
    return ref(f'google_cloudfunctions2_function.function["{function}"].name')


def one(block: Any) -> dict[str, Any]:
    """A nested block (a list of one dict) as its dict."""
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


def firewall_rules(tf: Configuration) -> dict[str, dict[str, Any]]:
    """Every firewall rule instance that would be created: {resource name: its evaluated arguments}."""
    rules: dict[str, dict[str, Any]] = {}
    for name in tf.resources("google_compute_firewall"):
        for key, rule in tf.instances("google_compute_firewall", name).items():
            rules[f"{name}[{key}]" if key not in ("", "0") else name] = rule
    return rules


def iam_grants(tf: Configuration) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, address, evaluated arguments) of every IAM grant instance of the configuration."""
    grants = []
    for rtype, name, _ in tf.all_resources():
        if IAM_TYPES.match(rtype):
            for key, body in tf.instances(rtype, name).items():
                grants.append((rtype, f"{name}[{key}]", body))
    return grants


def members_of(body: dict[str, Any]) -> list[Any]:
    return [m for m in [body.get("member"), *body.get("members", [])] if m is not None]


def invokers_of(tf: Configuration, function: str) -> list[tuple[str, Any]]:
    """(role, member) of every IAM grant on a function's Cloud Run service."""
    return sorted(
        (
            (body["role"], body["member"])
            for rtype, _, body in iam_grants(tf)
            if body.get("name") == function_name(function)
        ),
        key=str,
    )


# --- the network: what the internet can reach ---------------------------------------------------------------


def test_firewall_never_exposes_qdrant_or_ssh(tf: Configuration) -> None:
    rules = firewall_rules(tf)
    assert rules, "no firewall rules"
    for name, rule in rules.items():
        assert rule["network"] == ref("google_compute_network.docsbot[0].id"), f"{name} is not on docsbot's own VPC"
        assert rule.get("direction", "INGRESS") == "INGRESS"
        sources = {ipaddress.ip_network(r) for r in rule.get("source_ranges", [])}
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
            assert rule.get("target_service_accounts") == [account("qdrant", "email")]


def test_firewall_opens_80_and_443_to_everyone_and_22_to_iap(tf: Configuration) -> None:
    rules = firewall_rules(tf)
    allowed = {
        (frozenset(ports_of(allow) or ()), tuple(rule["source_ranges"]))
        for rule in rules.values()
        for allow in rule.get("allow", [])
    }
    assert allowed == {(frozenset({80, 443}), ("0.0.0.0/0",)), (frozenset({22}), (IAP_RANGE,))}


def test_qdrant_ports_are_explicitly_denied_before_any_allow(tf: Configuration) -> None:
    rules = firewall_rules(tf)
    denies = [r for r in rules.values() if "deny" in r]
    assert len(denies) == 1
    deny = denies[0]
    assert set(QDRANT_PORTS) <= (ports_of(one(deny["deny"])) or set())
    assert deny["source_ranges"] == ["0.0.0.0/0"]
    allow_priorities = [r.get("priority", 1000) for r in rules.values() if "allow" in r]
    assert deny["priority"] < min(allow_priorities)


def test_no_vm_network_or_firewall_with_an_external_qdrant(tf: Configuration) -> None:
    external = tf.with_inputs(qdrant_external_url="https://xyz.cloud.qdrant.io:6333")
    for rtype in (
        "google_compute_instance",
        "google_compute_firewall",
        "google_compute_address",
        "google_compute_disk",
    ):
        for name in external.resources(rtype):
            assert external.instances(rtype, name) == {}, f"{rtype}.{name} is created with an external Qdrant"
    assert external.locals["qdrant_url"] == "https://xyz.cloud.qdrant.io:6333"


def test_the_vm_has_a_static_ip_on_the_docsbot_subnet_and_is_hardened(tf: Configuration) -> None:
    vm = tf.instance("google_compute_instance", "qdrant", "0")
    interface = one(vm["network_interface"])
    assert interface["subnetwork"] == ref("google_compute_subnetwork.docsbot[0].id")
    assert one(interface["access_config"])["nat_ip"] == ref("google_compute_address.qdrant[0].address")
    assert one(vm["service_account"])["email"] == account("qdrant", "email")
    shielded = one(vm["shielded_instance_config"])
    assert shielded["enable_secure_boot"] and shielded["enable_vtpm"] and shielded["enable_integrity_monitoring"]
    metadata = vm["metadata"]
    assert metadata["enable-oslogin"] == "TRUE"
    assert metadata["block-project-ssh-keys"] == "TRUE"
    # The startup script is the rendered template (test_vm_templates.py renders and runs it).
    assert isinstance(metadata["startup-script"], Unknown)
    assert "templates/qdrant-startup.sh.tftpl" in metadata["startup-script"].text
    assert vm["machine_type"] == "e2-medium"
    assert tf.module.variables["qdrant_machine_type"]["default"] == "e2-medium"
    assert tf.instance("google_compute_network", "docsbot", "0")["auto_create_subnetworks"] is False


def test_the_data_disk_is_separate_and_snapshotted_daily(tf: Configuration) -> None:
    vm = tf.instance("google_compute_instance", "qdrant", "0")
    attached = one(vm["attached_disk"])
    assert attached["source"] == ref("google_compute_disk.qdrant_data[0].id")
    assert attached["device_name"] == "qdrant-data"
    attachment = tf.instance("google_compute_disk_resource_policy_attachment", "qdrant_snapshots", "0")
    assert attachment["disk"] == ref("google_compute_disk.qdrant_data[0].name")
    assert attachment["name"] == ref("google_compute_resource_policy.qdrant_snapshots[0].name")
    policy = one(tf.instance("google_compute_resource_policy", "qdrant_snapshots", "0")["snapshot_schedule_policy"])
    daily = one(one(policy["schedule"])["daily_schedule"])
    assert daily["days_in_cycle"] == 1
    retention = one(policy["retention_policy"])
    assert retention["max_retention_days"] == 14
    assert retention["on_source_disk_delete"] == "KEEP_AUTO_SNAPSHOTS"


def test_dns_record_only_with_a_managed_zone(tf: Configuration) -> None:
    assert tf.var["dns_managed_zone"] == ""
    assert tf.instances("google_dns_record_set", "qdrant") == {}
    managed = tf.with_inputs(dns_managed_zone="example-com")
    record = managed.instance("google_dns_record_set", "qdrant", "0")
    assert (record["managed_zone"], record["type"], record["name"]) == ("example-com", "A", "qdrant.example.com.")
    assert record["rrdatas"] == [ref("google_compute_address.qdrant[0].address")]
    external = managed.with_inputs(qdrant_external_url="https://xyz.cloud.qdrant.io:6333")
    assert external.instances("google_dns_record_set", "qdrant") == {}


# --- who may call what ----------------------------------------------------------------------------------------


def test_only_the_interactions_function_is_public(tf: Configuration) -> None:
    public = [
        (rtype, address, body)
        for rtype, address, body in iam_grants(tf)
        if {"allUsers", "allAuthenticatedUsers"} & {m for m in members_of(body) if isinstance(m, str)}
    ]
    assert len(public) == 1, public
    rtype, _, body = public[0]
    assert rtype == "google_cloud_run_v2_service_iam_member"
    assert body["name"] == function_name("interactions")
    assert body["role"] == "roles/run.invoker"
    assert invokers_of(tf, "interactions") == [("roles/run.invoker", "allUsers")]
    assert not tf.resources("google_cloud_run_service_iam_member")  # no v1 bindings on the side
    assert not tf.resources("google_cloudfunctions2_function_iam_member")


def test_respond_is_invokable_by_the_tasks_account_only(tf: Configuration) -> None:
    assert invokers_of(tf, "respond") == [("roles/run.invoker", account("tasks", "member"))]
    # Whatever the ingest list holds, respond's invokers do not change.
    wider = tf.with_inputs(ingest_invoker_service_accounts=["ci@other.iam.gserviceaccount.com"])
    assert invokers_of(wider, "respond") == [("roles/run.invoker", account("tasks", "member"))]


def test_ingest_is_invokable_by_the_listed_accounts_only(tf: Configuration) -> None:
    assert tf.var["ingest_invoker_service_accounts"] == []
    assert invokers_of(tf, "ingest") == []  # nobody, by default
    listed = ["ci@docs-ci.iam.gserviceaccount.com", "bot@other.iam.gserviceaccount.com"]
    configured = tf.with_inputs(ingest_invoker_service_accounts=listed)
    assert invokers_of(configured, "ingest") == sorted(("roles/run.invoker", f"serviceAccount:{e}") for e in listed)
    env = one(configured.instance("google_cloudfunctions2_function", "function", "ingest")["service_config"])
    assert env["environment_variables"]["DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS"] == ",".join(listed)


def test_no_workload_gets_a_broad_project_role(tf: Configuration) -> None:
    grants = tf.instances("google_project_iam_member", "role")
    granted: dict[str, set[str]] = {}
    for grant in grants.values():
        member = grant["member"]
        assert isinstance(member, Unknown)
        holder = re.fullmatch(r'google_service_account\.sa\["(\w+)"\]\.member', member.text)
        assert holder, member
        granted.setdefault(holder.group(1), set()).add(grant["role"])
    assert set().union(*granted.values()) <= {
        "roles/datastore.user",
        "roles/logging.logWriter",
        "roles/artifactregistry.writer",
        "roles/storage.objectViewer",
    }
    for workload in ("interactions", "respond", "ingest", "scrape"):
        assert granted[workload] == {"roles/datastore.user"}, workload
    assert "tasks" not in granted and "scheduler" not in granted
    # No other project-level grant anywhere.
    for rtype in ("google_project_iam_binding", "google_project_iam_policy"):
        assert not tf.resources(rtype)
    assert list(tf.resources("google_project_iam_member")) == ["role"]


# --- secrets --------------------------------------------------------------------------------------------------


def secret_readers(tf: Configuration) -> dict[str, set[str]]:
    """{workload: the secrets its service account may read}, from every secret IAM grant instance."""
    readers: dict[str, set[str]] = {}
    for rtype, _, body in iam_grants(tf):
        if not rtype.startswith("google_secret_manager_secret_iam"):
            continue
        assert body["role"] == "roles/secretmanager.secretAccessor"
        secret = re.fullmatch(r'google_secret_manager_secret\.secret\["(\w+)"\]\.secret_id', body["secret_id"].text)
        for member in members_of(body):
            workload = re.fullmatch(r'google_service_account\.sa\["(\w+)"\]\.member', member.text)
            assert secret and workload, body
            readers.setdefault(workload.group(1), set()).add(secret.group(1))
    return readers


def test_each_workload_can_read_exactly_the_secrets_it_needs(tf: Configuration) -> None:
    expected = {workload: set(env.values()) for workload, env in EXPECTED_SECRET_ENV.items()}
    expected["qdrant"] = EXPECTED_VM_SECRETS
    assert secret_readers(tf) == expected
    # One table decides both the grants and the variables (test_functions_and_job_take_their_secrets_...).
    assert tf.locals["secret_env"] == EXPECTED_SECRET_ENV
    assert list(tf.resources("google_secret_manager_secret_iam_member")) == ["reader"]
    for rtype in ("google_secret_manager_secret_iam_binding", "google_secret_manager_secret_iam_policy"):
        assert not tf.resources(rtype)


def function_secrets(tf: Configuration, function: str) -> dict[str, Any]:
    """{environment variable: secret} as the deployed function gets them."""
    config = one(tf.instance("google_cloudfunctions2_function", "function", function)["service_config"])
    return {entry["key"]: entry["secret"] for entry in config.get("secret_environment_variables", [])}


def test_the_respond_function_gets_the_read_only_qdrant_key_only(tf: Configuration) -> None:
    respond = function_secrets(tf, "respond")
    assert respond["QDRANT_API_KEY"] == secret_id("qdrant_read_only_api_key")
    assert secret_id("qdrant_api_key") not in respond.values()
    assert "qdrant_api_key" not in secret_readers(tf)["respond"]


def test_functions_and_job_take_their_secrets_from_the_table(tf: Configuration) -> None:
    for name in FUNCTIONS:
        expected = {key: secret_id(secret) for key, secret in EXPECTED_SECRET_ENV[name].items()}
        assert function_secrets(tf, name) == expected, name
        config = one(tf.instance("google_cloudfunctions2_function", "function", name)["service_config"])
        assert all(entry["version"] == "latest" for entry in config["secret_environment_variables"])
        assert not set(config["environment_variables"]) & set(expected), f"{name} gets a secret as plain text"
    container = one(
        one(one(tf.instance("google_cloud_run_v2_job", "job", "scrape")["template"])["template"])["containers"]
    )
    secret_env = {
        e["name"]: one(one(e["value_source"])["secret_key_ref"])["secret"]
        for e in container["env"]
        if "value_source" in e
    }
    assert secret_env == {key: secret_id(secret) for key, secret in EXPECTED_SECRET_ENV["scrape"].items()}
    assert not {e["name"] for e in container["env"] if "value" in e} & set(secret_env)


def test_no_secret_value_ever_reaches_terraform(tf: Configuration) -> None:
    assert not tf.resources("google_secret_manager_secret_version")
    assert set(tf.instances("google_secret_manager_secret", "secret")) == {
        "discord_public_key",
        "discord_bot_token",
        "openai_api_key",
        "qdrant_api_key",
        "qdrant_read_only_api_key",
    }
    for variables in (tf.module.variables, tf.environment.variables):
        for name in variables:
            assert not re.search(r"(token|api_key|password|secret)$", name), f"variable {name} looks like a secret"
    startup = tf.locals["qdrant_startup_vars"]
    assert startup["api_key_secret"] == secret_id("qdrant_api_key")
    assert startup["read_only_api_key_secret"] == secret_id("qdrant_read_only_api_key")


def test_each_workload_runs_as_its_own_service_account(tf: Configuration) -> None:
    accounts = tf.instances("google_service_account", "sa")
    assert {"interactions", "respond", "ingest", "scrape", "tasks", "scheduler", "qdrant"} <= set(accounts)
    assert len({a["account_id"] for a in accounts.values()}) == len(accounts)
    for name in FUNCTIONS:
        config = one(tf.instance("google_cloudfunctions2_function", "function", name)["service_config"])
        assert config["service_account_email"] == account(name, "email")
    template = one(one(tf.instance("google_cloud_run_v2_job", "job", "scrape")["template"])["template"])
    assert template["service_account"] == account("scrape", "email")


# --- Cloud Tasks ----------------------------------------------------------------------------------------------


def test_the_queue_retries_with_limits_and_backoff(tf: Configuration) -> None:
    queue = tf.instance("google_cloud_tasks_queue", "respond")
    retry = one(queue["retry_config"])
    assert retry == {
        "max_attempts": 9,
        "min_backoff": "30s",
        "max_backoff": "120s",
        "max_doublings": 3,
        "max_retry_duration": "840s",
    }
    # The retries spread over the interaction token's 15 minutes: the last attempt comes late enough to outlast
    # a Discord or model outage of several minutes, and before the queue's retry duration ends it.
    waits, wait = [], 30.0
    for attempt in range(1, retry["max_attempts"]):
        waits.append(wait)
        wait = min(wait * 2, 120.0) if attempt <= retry["max_doublings"] else min(wait + 120.0, 120.0)
    assert 12 * 60 <= sum(waits) <= 840, waits
    assert one(queue["rate_limits"])["max_dispatches_per_second"] == 5
    # The module's defaults are the same, and it refuses unlimited (-1) or absurd attempt counts.
    assert tf.with_inputs(tasks={}).var["tasks"]["max_attempts"] == 9
    for attempts, valid in ((-1, False), (0, False), (1, True), (100, True), (101, False), (2.5, False)):
        failures = tf.with_inputs(tasks={"max_attempts": attempts}).module.check_validations()
        assert (not failures) == valid, (attempts, failures)
    # respond knows the limit (it apologises on the last attempt).
    env = one(tf.instance("google_cloudfunctions2_function", "function", "respond")["service_config"])
    assert env["environment_variables"]["DOCSBOT_RESPOND_MAX_ATTEMPTS"] == "9"


def test_the_queue_calls_respond_with_an_oidc_token_of_the_tasks_account(tf: Configuration) -> None:
    target = one(tf.instance("google_cloud_tasks_queue", "respond")["http_target"])
    respond_uri = 'google_cloudfunctions2_function.function["respond"].service_config[0].uri'
    oidc = one(target["oidc_token"])
    assert oidc["service_account_email"] == account("tasks", "email")
    assert oidc["audience"] == ref(respond_uri)
    override = one(target["uri_override"])
    assert override["uri_override_enforce_mode"] == "ALWAYS"
    assert override["scheme"] == "HTTPS"
    assert isinstance(override["host"], Unknown) and respond_uri in override["host"].text
    assert one(override["path_override"])["path"] == "/"


def test_interactions_may_enqueue_and_mint_tokens_for_the_tasks_account_only(tf: Configuration) -> None:
    enqueue = tf.instance("google_cloud_tasks_queue_iam_member", "interactions_enqueue")
    assert enqueue["role"] == "roles/cloudtasks.enqueuer"
    assert enqueue["name"] == ref("google_cloud_tasks_queue.respond.name")
    assert enqueue["member"] == account("interactions", "member")
    act_as = tf.instance("google_service_account_iam_member", "interactions_act_as_tasks")
    assert act_as["service_account_id"] == account("tasks", "name")
    assert act_as["role"] == "roles/iam.serviceAccountUser"
    assert act_as["member"] == account("interactions", "member")
    # Nobody else may enqueue or act as an account.
    others = [
        (rtype, address)
        for rtype, address, body in iam_grants(tf)
        if rtype in ("google_cloud_tasks_queue_iam_member", "google_service_account_iam_member")
        and body["member"] != account("interactions", "member")
    ]
    assert not others


# --- Firestore ------------------------------------------------------------------------------------------------


def test_firestore_native_with_a_ttl_on_interaction_records(tf: Configuration) -> None:
    database = tf.instance("google_firestore_database", "default")
    assert database["type"] == "FIRESTORE_NATIVE"
    ttls = {
        (field["collection"], field["field"])
        for name in tf.resources("google_firestore_field")
        for field in tf.instances("google_firestore_field", name).values()
        if "ttl_config" in field
    }
    assert ttls == {("interactions", "expires_at"), ("quotas", "expires_at")}
    # That the store writes those fields is checked against the Firestore emulator (tests/store/test_contract.py).


# --- the functions' configuration -----------------------------------------------------------------------------


def function_env(tf: Configuration, name: str) -> dict[str, Any]:
    config = one(tf.instance("google_cloudfunctions2_function", "function", name)["service_config"])
    env: dict[str, Any] = config["environment_variables"]
    return env


def test_there_are_exactly_three_functions_from_one_resource(tf: Configuration) -> None:
    assert list(tf.resources("google_cloudfunctions2_function")) == ["function"]
    assert set(tf.instances("google_cloudfunctions2_function", "function")) == set(FUNCTIONS)
    names = {f["name"] for f in tf.instances("google_cloudfunctions2_function", "function").values()}
    assert names == {f"docsbot-{name}" for name in FUNCTIONS}


def test_functions_get_the_environment_the_application_reads(tf: Configuration) -> None:
    interactions, respond, ingest = (function_env(tf, name) for name in FUNCTIONS)
    bot = {
        "DISCORD_APPLICATION_ID": "123456789012345678",
        "DOCSBOT_STATE": "firestore",
        "GOOGLE_CLOUD_PROJECT": "my-docsbot-project",
        "DOCSBOT_DEFAULT_COLLECTION": "mydocs",
        "DOCSBOT_STAFF_ROLES": "",
        "DOCSBOT_USER_QUESTIONS_PER_HOUR": "20",
        "DOCSBOT_GUILD_QUESTIONS_PER_HOUR": "300",
    }
    index = {
        "QDRANT_URL": "https://qdrant.example.com:443",
        "DOCSBOT_EMBEDDER": "openai",
        "DOCSBOT_EMBEDDING_MODEL": "text-embedding-3-large",
    }
    # One source of truth for collections: every function reads the collections file baked into its zip.
    assert {env["DOCSBOT_COLLECTIONS_FILE"] for env in (interactions, respond, ingest)} == {
        "/workspace/collections.toml"
    }
    assert bot.items() <= interactions.items() and bot.items() <= respond.items()
    assert index.items() <= respond.items() and index.items() <= ingest.items()
    assert not set(index) & set(interactions)  # interactions never talks to Qdrant or OpenAI
    assert interactions["DOCSBOT_QUEUE"] == "cloudtasks"
    assert (
        interactions["DOCSBOT_TASKS_QUEUE"]
        == "projects/my-docsbot-project/locations/us-central1/queues/docsbot-respond"
    )
    assert interactions["DOCSBOT_TASKS_QUEUE"].endswith(
        "/" + tf.instance("google_cloud_tasks_queue", "respond")["name"]
    )
    assert (
        interactions["DOCSBOT_RESPOND_URL"]
        == "https://us-central1-my-docsbot-project.cloudfunctions.net/docsbot-respond"
    )
    assert interactions["DOCSBOT_TASKS_SERVICE_ACCOUNT"] == account("tasks", "email")
    assert respond["DOCSBOT_CHAT_MODEL"] == "gpt-4.1-mini"
    assert ingest["DOCSBOT_STATE"] == "firestore"
    assert (
        ingest["DOCSBOT_INGEST_AUDIENCE"] == "https://us-central1-my-docsbot-project.cloudfunctions.net/docsbot-ingest"
    )
    assert ingest["DOCSBOT_INGEST_AUDIENCE"].endswith(
        "/" + tf.instance("google_cloudfunctions2_function", "function", "ingest")["name"]
    )
    assert "DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS" in ingest
    staff = tf.with_inputs(staff_role_ids=["112233445566778899", "998877665544332211"])
    assert function_env(staff, "interactions")["DOCSBOT_STAFF_ROLES"] == "112233445566778899,998877665544332211"


def test_interactions_stays_warm_and_builds_come_from_the_uploaded_zips(tf: Configuration) -> None:
    configs = {
        n: one(tf.instance("google_cloudfunctions2_function", "function", n)["service_config"]) for n in FUNCTIONS
    }
    assert configs["interactions"]["min_instance_count"] == 1
    assert tf.with_inputs(interactions_min_instances=0).var["interactions_min_instances"] == 0
    assert configs["respond"]["min_instance_count"] == configs["ingest"]["min_instance_count"] == 0
    assert (configs["interactions"]["timeout_seconds"], configs["respond"]["timeout_seconds"]) == (30, 300)
    for name in FUNCTIONS:
        build = one(tf.instance("google_cloudfunctions2_function", "function", name)["build_config"])
        assert build["entry_point"] == name
        assert build["runtime"] == "python311"
        storage = one(one(build["source"])["storage_source"])
        assert storage["object"] == ref(f'google_storage_bucket_object.function_source["{name}"].name')
        source = tf.instance("google_storage_bucket_object", "function_source", name)
        # The zip scripts/build_functions.sh writes, wherever the environment's folder is.
        assert Path(source["source"]).resolve() == REPO / "dist" / "functions" / f"{name}.zip"
        # A changed zip redeploys; an unchanged one does not.
        assert isinstance(source["name"], Unknown) and f'filemd5("{source["source"]}")' in source["name"].text


# --- the scrape job -------------------------------------------------------------------------------------------


def test_the_scheduler_runs_the_scrape_job(tf: Configuration) -> None:
    scheduler = tf.instance("google_cloud_scheduler_job", "trigger", "scrape")
    assert scheduler["schedule"] == "0 4 * * *"
    target = one(scheduler["http_target"])
    assert target["http_method"] == "POST"
    assert isinstance(target["uri"], Unknown)
    assert target["uri"].text == (
        '"https://run.googleapis.com/v2/projects/my-docsbot-project/locations/us-central1/jobs/'
        '${google_cloud_run_v2_job.job["scrape"].name}:run"'
    )
    token = one(target["oauth_token"])
    assert token["service_account_email"] == account("scheduler", "email")
    runs = tf.instance("google_cloud_run_v2_job_iam_member", "scheduler_runs", "scrape")
    assert runs["name"] == ref('google_cloud_run_v2_job.job["scrape"].name')
    assert runs["member"] == account("scheduler", "member")
    assert runs["role"] == "roles/run.invoker"


def test_the_scrape_job_runs_the_image_in_parallel_tasks(tf: Configuration) -> None:
    parallel = tf.with_inputs(scrape={"task_count": 4, "parallelism": 8})
    template = one(parallel.instance("google_cloud_run_v2_job", "job", "scrape")["template"])
    assert (template["task_count"], template["parallelism"]) == (4, 4)  # never more parallel than tasks
    container = one(one(template["template"])["containers"])
    assert isinstance(container["image"], Unknown)
    assert "google_artifact_registry_repository.images.repository_id" in container["image"].text
    assert container["image"].text.endswith('/scrape-job:latest"}"') or "/scrape-job:latest" in container["image"].text
    assert container["command"] == ["python", "/app/main.py"]  # functions/scrape_job/main.py, baked in
    plain = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert plain["QDRANT_URL"] == "https://qdrant.example.com:443"
    assert plain["DOCSBOT_COLLECTIONS_FILE"] == "/app/collections.toml"
    assert (plain["DOCSBOT_STATE"], plain["GOOGLE_CLOUD_PROJECT"]) == ("firestore", "my-docsbot-project")


@pytest.mark.parametrize("bad", [{"task_count": 0}, {"parallelism": 101}, {"schedule": "daily"}, {"timeout": "2h"}])
def test_the_module_refuses_bad_scrape_settings(tf: Configuration, bad: dict[str, Any]) -> None:
    assert not tf.module.check_validations()
    assert tf.with_inputs(scrape=bad).module.check_validations(), f"{bad} was accepted"
