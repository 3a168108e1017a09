"""infra/terraform, checked offline: its layout (a module, environments calling it), formatting, checkov, the
inputs and outputs, the examples, and the deployment guide.

`terraform validate` needs the Google provider, which cannot be downloaded here: the configuration is parsed
with python-hcl2 and evaluated by tests/infra/hcl_eval.py (test_terraform_security.py asserts what it
deploys), and test_provider_schema.py checks it against the provider's schema. python-hcl2, checkov and
shellcheck live in venvs of their own, cached by tests/infra/tools.py (the first run needs PyPI).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.infra import tools
from tests.infra.hcl_eval import Unknown
from tests.infra.tools import ENVIRONMENTS_DIR, MODULE_DIR, PROD_DIR, REPO, TERRAFORM_DIR, Configuration


def one(block: Any) -> dict[str, Any]:
    assert isinstance(block, list) and len(block) == 1, block
    value: dict[str, Any] = block[0]
    return value


# --- layout, formatting, checkov ------------------------------------------------------------------------------


def test_terraform_fmt_is_clean(tmp_path: Path) -> None:
    tools.terraform_fmt_check(TERRAFORM_DIR)  # recursive: the module and every environment
    # The examples are not .tf/.tfvars files, so fmt skips them: check copies.
    for environment in ENVIRONMENTS_DIR.iterdir():
        copies = tmp_path / environment.name
        copies.mkdir()
        shutil.copyfile(environment / "terraform.tfvars.example", copies / "example.tfvars")
        shutil.copyfile(environment / "backend.tf.example", copies / "backend.tf")
        tools.terraform_fmt_check(copies)


def test_the_module_is_split_by_concern_and_environments_only_call_it() -> None:
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
    assert expected <= {p.name for p in MODULE_DIR.glob("*.tf")}
    assert not list(TERRAFORM_DIR.glob("*.tf")), "infra/terraform itself is no root module any more"
    assert [p.name for p in ENVIRONMENTS_DIR.iterdir()] == ["prod"]
    environment = {p.name for p in PROD_DIR.iterdir()}
    assert {"main.tf", "versions.tf", "variables.tf", "outputs.tf", "backend.tf.example"} <= environment
    assert "terraform.tfvars.example" in environment
    # The environment holds no resource of its own: everything is the module's.
    for name in environment:
        if name.endswith(".tf"):
            text = (PROD_DIR / name).read_text()
            assert not re.search(r'^(resource|data) "', text, re.MULTILINE), f"{name} declares resources"
    assert 'backend "gcs"' in (PROD_DIR / "backend.tf.example").read_text()
    # The module leaves the provider's configuration to its caller.
    assert not re.search(r'^provider "', "".join(p.read_text() for p in MODULE_DIR.glob("*.tf")), re.MULTILINE)


def test_checkov_finds_nothing_unjustified() -> None:
    report = tools.checkov(PROD_DIR)  # follows the module call: every resource is module.docsbot.*
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, "checkov could not parse a file (it exits 0 on those: read its report)"
    assert summary["resource_count"] >= 40, summary  # it really read the configuration, module included
    checks = report["results"]["passed_checks"] + report["results"]["skipped_checks"]
    assert {c["resource"].split(".")[0] for c in checks} == {"module"}, "checkov did not follow the module call"
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment") or ""
        assert len(reason) > 40, f"{skipped['check_id']} on {skipped['resource']} is skipped without a real reason"


# --- variables, outputs, examples ---------------------------------------------------------------------------

# Free-form values where any string is legitimate (a validation would only guess).
UNVALIDATED = {
    "deletion_protection",
    "enable_relay",  # a bool: the type says it all, as for deletion_protection
    "digest_enabled",  # a bool too
    "acme_staging",
    "qdrant_image",
    "function_source_dir",
    "embedding_model",
    "chat_model",
}


def test_every_variable_has_description_type_and_validation(tf: Configuration) -> None:
    variables = tf.module.variables
    assert len(variables) > 30
    for name, body in variables.items():
        assert len(body.get("description", "")) > 20, f"variable {name} needs a description"
        assert body.get("type"), f"variable {name} needs a type"
        if name not in UNVALIDATED:
            assert body.get("validation"), f"variable {name} needs a validation"
    # An environment's variables are described too, and validated: by themselves, or by the module input they
    # are passed to unchanged.
    call = next(body for block in tf.environment.blocks("module") for name, body in block.items())
    for name, body in tf.environment.variables.items():
        assert len(body.get("description", "")) > 20, f"environment variable {name} needs a description"
        assert body.get("type"), f"environment variable {name} needs a type"
        if body.get("validation"):
            continue
        assert call.get(name) == f"${{var.{name}}}", f"environment variable {name} is not passed to the module"
        assert name in UNVALIDATED or variables[name].get("validation"), f"{name} is validated nowhere"


def test_the_module_refuses_what_it_should_and_takes_the_example(tf: Configuration) -> None:
    assert tf.module.check_validations() == []
    assert tf.environment.check_validations() == []
    for name, value in [
        ("project_id", "My Project"),
        ("qdrant_external_url", "https://xyz.cloud.qdrant.io"),  # no port: qdrant-client would use 6333
        ("qdrant_domain", "https://qdrant.example.com"),
        ("qdrant_machine_type", "t2a-standard-1"),  # Arm: the x86-64 release would not run
        ("ingest_invoker_service_accounts", ["someone@example.com"]),
        ("tasks", {"max_retry_duration": "1200s"}),  # outlives the interaction token
    ]:
        failures = tf.with_inputs(**{name: value}).module.check_validations()
        assert failures and all(f.startswith(f"{name}:") for f in failures), (name, value, failures)


def test_tfvars_example_sets_every_required_variable_and_nothing_unknown(tf: Configuration) -> None:
    keys = set(tf.tfvars)
    variables = tf.environment.variables
    assert keys <= set(variables), f"unknown variables in the example: {keys - set(variables)}"
    required = {name for name, body in variables.items() if "default" not in body}
    assert required == {"project_id", "discord_application_id"}
    # Needed for the VM (a precondition says so at plan time): the example sets them too.
    assert required | {"qdrant_domain", "acme_email"} <= keys
    # The module's own required inputs are all given by the environment.
    module_required = {name for name, body in tf.module.variables.items() if "default" not in body}
    assert module_required <= set(tf.module.inputs)


def test_outputs_give_what_the_deployment_guide_needs(tf: Configuration) -> None:
    module_outputs = {name: body for block in tf.module.blocks("output") for name, body in block.items()}
    outputs = {name: body for block in tf.environment.blocks("output") for name, body in block.items()}
    for name in ("interactions_url", "qdrant_url", "tasks_queue_name", "qdrant_ip", "scrape_image", "secret_ids"):
        assert name in outputs, f"output {name} is missing"
    # The environment passes every module output through, under the same name.
    assert set(outputs) == set(module_outputs)
    for name, body in outputs.items():
        assert body["value"] == f"${{module.docsbot.{name}}}", name
        assert len(body.get("description", "")) > 15, f"output {name} needs a description"
        assert len(module_outputs[name].get("description", "")) > 15, f"module output {name} needs a description"
    assert tf.eval(module_outputs["interactions_url"]["value"]) == Unknown(
        'google_cloudfunctions2_function.function["interactions"].url'
    )
    # The port is explicit: qdrant-client connects to 6333 when a URL has none, and 6333 is closed.
    assert tf.eval(module_outputs["qdrant_url"]["value"]) == "https://qdrant.example.com:443"
    external = tf.with_inputs(qdrant_external_url="https://xyz.cloud.qdrant.io:6333")
    assert external.eval(module_outputs["qdrant_url"]["value"]) == "https://xyz.cloud.qdrant.io:6333"
    assert external.instances("google_compute_address", "qdrant") == {}  # so qdrant_ip is null


def test_remote_state_backend_example_is_gcs() -> None:
    text = (PROD_DIR / "backend.tf.example").read_text()
    assert re.search(r'backend "gcs" \{\s+bucket = "[^"]+"\s+prefix = "docsbot"', text)


def test_a_second_environment_is_one_more_folder(tmp_path: Path) -> None:
    tree = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, tree)
    staging = tree / "environments" / "staging"
    shutil.copytree(tree / "environments" / "prod", staging)
    (staging / "terraform.tfvars").write_text(
        'project_id             = "my-docsbot-staging"\n'
        'discord_application_id = "223456789012345678"\n'
        'name_prefix            = "dbstage"\n'
        'qdrant_external_url    = "https://staging.example.com:6333"\n'
    )
    staged = tools.load_configuration(staging, staging / "terraform.tfvars")
    assert staged.module.directory == (tree / "modules" / "docsbot").resolve()
    assert staged.module.check_validations() == []
    functions = staged.instances("google_cloudfunctions2_function", "function")
    assert {f["name"] for f in functions.values()} == {"dbstage-interactions", "dbstage-respond", "dbstage-ingest"}
    assert staged.instances("google_compute_instance", "qdrant") == {}
    env = one(functions["respond"]["service_config"])["environment_variables"]
    assert (env["GOOGLE_CLOUD_PROJECT"], env["QDRANT_URL"]) == (
        "my-docsbot-staging",
        "https://staging.example.com:6333",
    )


MOVED = r"moved \{\s+from = (\S+)\s+to\s+= (\S+)\s+\}"


def test_existing_state_moves_into_the_module() -> None:
    # The resources of the former single root keep their state: a `moved` block for every one of them. Those
    # the module has moved since (its own moved.tf: the scheduled jobs' table) go on to their new address.
    moved = re.findall(MOVED, (PROD_DIR / "moved.tf").read_text())
    moved_in_module = dict(re.findall(MOVED, (MODULE_DIR / "moved.tf").read_text()))
    sources = {source for source, _ in moved}
    targets = {target for _, target in moved}
    old_functions = {f"google_cloudfunctions2_function.{name}" for name in ("interactions", "respond", "ingest")}
    assert old_functions <= sources
    for target in targets:
        assert target.startswith("module.docsbot."), target
    declared = {
        f"{m.group(1)}.{m.group(2)}"
        for path in MODULE_DIR.glob("*.tf")
        for m in re.finditer(r'^resource "(\w+)" "(\w+)"', path.read_text(), re.MULTILINE)
    }
    # Resources added after the move (the alerts) had no former state to keep.
    added_since = {
        "google_monitoring_notification_channel.email",
        "google_billing_budget.budget",
        "google_monitoring_uptime_check_config.interactions",
        "google_monitoring_alert_policy.interactions_down",
        # The optional gateway relay (issue 16).
        "google_cloud_run_v2_service.relay",
        "google_cloud_tasks_queue_iam_member.relay_enqueue",
        "google_service_account_iam_member.relay_act_as_tasks",
    }
    finally_at = {
        moved_in_module.get(t.removeprefix("module.docsbot."), t.removeprefix("module.docsbot.")) for t in targets
    }
    assert {re.sub(r"\[.*\]$", "", t) for t in finally_at} == declared - added_since


# --- the deployment guide stays in step with the configuration ------------------------------------------------


def test_the_deploy_guide_names_real_outputs_secrets_and_commands(tf: Configuration) -> None:
    guide = (REPO / "docs" / "deploy.md").read_text()
    outputs = {name for block in tf.environment.blocks("output") for name in block}
    for output in set(re.findall(r"terraform (?:-chdir=\S+ )?output (?:-raw |-json )?([a-z_]+)", guide)):
        assert output in outputs, f"docs/deploy.md uses `terraform output {output}`, which does not exist"
    for secret in tf.instances("google_secret_manager_secret", "secret").values():
        suffix = secret["secret_id"].removeprefix(tf.var["name_prefix"])
        assert suffix in guide, f"docs/deploy.md never shows how to fill the secret *{suffix}"
    for command in (
        "scripts/build_functions.sh",
        "cd infra/terraform/environments/prod",
        "terraform init",
        "terraform apply",
        "gcloud secrets versions add",
        "docsbot register-commands",
        "gcloud run jobs execute",
        "terraform destroy",
        "--tunnel-through-iap",
    ):
        assert command in guide, f"docs/deploy.md never mentions {command}"
    for variable in re.findall(r"\b(DISCORD_[A-Z_]+|DOCSBOT_[A-Z_]+|QDRANT_[A-Z_]+)\b", guide):
        assert variable in _known_environment(), f"docs/deploy.md names an unknown variable {variable}"
    # Every -target names a resource the module declares, and every path the guide names exists.
    for target in re.findall(r"-target=(\S+)", guide):
        rtype, name = target.removeprefix("module.docsbot.").split(".")[:2]
        assert name in tf.resources(rtype), f"docs/deploy.md targets {target}, which does not exist"
        assert target.startswith("module.docsbot."), target
    for path in set(re.findall(r"\b(infra/terraform/[\w./-]+\w)", guide)):
        made_by_you = (REPO / f"{path}.example").exists()  # terraform.tfvars, backend.tf: copies of examples
        assert (REPO / path).exists() or made_by_you, f"docs/deploy.md names {path}, which does not exist"


@pytest.mark.parametrize("document", ["infra/terraform/README.md", "docs/deploy.md"])
def test_docs_point_only_at_files_of_the_repository(document: str) -> None:
    text = (REPO / document).read_text()
    base = (REPO / document).parent
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", link):
            continue
        target = (base / link).resolve()
        assert target.exists(), f"{document} links to {link}, which does not exist"
        assert target.is_relative_to(REPO), f"{document} links outside the repository: {link}"


def _known_environment() -> set[str]:
    names: set[str] = set()
    for path in [*(REPO / "shared" / "docsbot").rglob("*.py"), *(REPO / "functions").rglob("main.py")]:
        names.update(re.findall(r"\"((?:DISCORD|DOCSBOT|QDRANT)_[A-Z_]+)\"", path.read_text()))
    for path in TERRAFORM_DIR.rglob("*.tf"):
        names.update(re.findall(r"\b((?:DISCORD|DOCSBOT|QDRANT)_[A-Z_]+)\s*=", path.read_text()))
    return names
