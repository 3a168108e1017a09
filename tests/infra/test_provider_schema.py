"""The Terraform checked against the google provider's real schema, offline: every resource and data source type,
argument and nested block (dynamic ones included) must exist, and every required argument and block be set.

The schema is the one @cdktf/provider-google 16.12.1 was generated from (google provider 6.50.0), extracted from
its jsii manifest by tests/infra/tools.py. We pin the provider to 7.x: the 7.0.0 upgrade guide's changes that
touch the resources we use are listed below, each checked, never skipped wholesale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra import tools
from tests.infra.tools import MODULE_DIR, PROD_DIR

# 7.0.0 upgrade guide: arguments removed, made read-only or retyped in 7.x, of resource types we use. Setting one
# would pass the 6.50 schema and fail (or change meaning) on 7.x, so none may be set.
REMOVED_IN_7 = {
    "google_cloudfunctions2_function:service_config.service": "7.0.0: changed from argument to attribute",
    "google_compute_subnetwork:enable_flow_logs": "7.0.0: removed in favour of log_config",
    "google_storage_bucket:retention_policy.retention_period": "7.0.0: now a string (a number would be converted)",
}
# 7.0.0: arguments that became required in 7.x, inside blocks of resource types we use.
REQUIRED_IN_7 = {
    "google_cloudfunctions2_function:event_trigger.event_type": "7.0.0: required whenever event_trigger is set",
}
# 7.0.0: defaults that changed; we set these explicitly, so 6.x and 7.x behave the same.
DEFAULT_CHANGED_IN_7 = {
    "google_project_service:disable_on_destroy": "7.0.0: the default changed from true to false",
}
# Arguments we use that 7.x added after 6.50 (so the 6.50 schema lacks them), each with its release note.
ADDED_AFTER_6_50: dict[str, str] = {}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return tools.provider_schema()


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict[str, Any]]:
    module, environment = tools.load_terraform_many(MODULE_DIR, PROD_DIR)
    return {"module": module, "environment": environment}


def schema_problems(files: dict[str, Any], schema: dict[str, Any]) -> tuple[list[str], set[str]]:
    problems, checked = tools.check_against_schema(files, schema)
    allowed = [p for p in problems if not any(f" {path.split(':', 1)[1]} " in p for path in ADDED_AFTER_6_50)]
    return allowed, checked


def test_the_schema_is_the_provider_s(schema: dict[str, Any]) -> None:
    assert schema["provider_version"] == tools.PROVIDER_SCHEMA_VERSION
    assert len(schema["resources"]) > 1000 and len(schema["data_sources"]) > 300
    instance = schema["structs"][schema["resources"]["google_compute_instance"]]
    assert instance["arguments"]["machine_type"] is True and instance["arguments"]["zone"] is False
    assert instance["blocks"]["boot_disk"]["required"] and not instance["blocks"]["attached_disk"]["required"]
    boot = schema["structs"][instance["blocks"]["boot_disk"]["struct"]]
    assert "image" in schema["structs"][boot["blocks"]["initialize_params"]["struct"]]["arguments"]
    # Names come from the registry links, not guessed from camelCase: cdktf renames `build` to buildAttribute.
    trigger = schema["structs"][schema["resources"]["google_cloudbuild_trigger"]]
    assert "build" in trigger["blocks"] and "build_attribute" not in trigger["blocks"]
    assert "default_labels" in schema["structs"][schema["provider"]]["arguments"]


def test_every_resource_argument_and_block_exists_and_required_ones_are_set(
    schema: dict[str, Any], parsed: dict[str, dict[str, Any]]
) -> None:
    problems, checked = schema_problems({**parsed["module"], **parsed["environment"]}, schema)
    assert not problems, "\n".join(problems)
    types = {path.split(":")[0] for path in checked}
    resource_types = {rtype for block in _blocks(parsed["module"], "resource") for rtype in block}
    assert resource_types <= types and "provider" in types
    assert len(resource_types) >= 25 and len(checked) >= 250, (len(resource_types), len(checked))


def test_nothing_removed_in_7_is_used_and_what_7_requires_is_set(
    schema: dict[str, Any], parsed: dict[str, dict[str, Any]]
) -> None:
    _, checked = schema_problems(parsed["module"], schema)
    for path, reason in REMOVED_IN_7.items():
        assert path not in checked, f"{path} is set, but {reason}"
    for path, reason in REQUIRED_IN_7.items():
        rtype, nested = path.split(":")
        block = nested.rsplit(".", 1)[0]
        if f"{rtype}:{block}" in checked:
            assert path in checked, f"{path} is not set, but {reason}"
    for path, reason in DEFAULT_CHANGED_IN_7.items():
        rtype, argument = path.split(":")
        bodies = [body for block in _blocks(parsed["module"], "resource") for body in block.get(rtype, {}).values()]
        assert bodies, f"{rtype} is no longer used: drop it from DEFAULT_CHANGED_IN_7"
        for body in bodies:
            assert argument in body, f"{rtype} must set {argument} explicitly ({reason})"
    for path in ADDED_AFTER_6_50:
        assert path in checked, f"{path} is not used any more: drop it from ADDED_AFTER_6_50"


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (  # a misspelled argument
            'resource "google_cloud_tasks_queue" "q" {\n  name = "q"\n  location = "x"\n  max_atempts = 3\n}\n',
            "max_atempts is not an argument or block",
        ),
        (  # a required argument left out
            'resource "google_compute_instance" "vm" {\n  name = "vm"\n  boot_disk {}\n  network_interface {}\n}\n',
            "required argument google_compute_instance:machine_type is not set",
        ),
        (  # a misspelled block, written as a dynamic block
            'resource "google_cloudfunctions2_function" "f" {\n  name = "f"\n  location = "x"\n'
            '  service_config {\n    dynamic "secret_env_variables" {\n      for_each = {}\n'
            "      content {}\n    }\n  }\n}\n",
            "dynamic block google_cloudfunctions2_function:service_config.secret_env_variables is not in the schema",
        ),
        (  # a misspelled argument inside a nested block
            'resource "google_cloud_tasks_queue" "q" {\n  name = "q"\n  location = "x"\n'
            "  retry_config {\n    max_attempt = 3\n  }\n}\n",
            "retry_config.max_attempt is not an argument or block",
        ),
        ('data "google_no_such_thing" "x" {}\n', "no such resource or data source type"),
        (  # a required nested block left out
            'resource "google_compute_instance" "vm" {\n  name = "vm"\n  machine_type = "e2-small"\n'
            "  network_interface {}\n}\n",
            "required block google_compute_instance:boot_disk is missing",
        ),
    ],
)
def test_the_check_reports_mistakes(schema: dict[str, Any], tmp_path: Path, snippet: str, expected: str) -> None:
    (tmp_path / "broken.tf").write_text(snippet)
    problems, _ = tools.check_against_schema(tools.load_terraform(tmp_path), schema)
    assert any(expected in p for p in problems), json.dumps(problems, indent=1)


def test_meta_arguments_are_not_mistaken_for_arguments(schema: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "meta.tf").write_text(
        'resource "google_cloud_tasks_queue" "q" {\n  for_each = toset(["a"])\n  name = each.key\n'
        '  location = "x"\n  depends_on = []\n  provider = google\n'
        "  lifecycle {\n    prevent_destroy = true\n  }\n}\n"
    )
    problems, checked = tools.check_against_schema(tools.load_terraform(tmp_path), schema)
    assert problems == []
    assert checked == {
        "google_cloud_tasks_queue:",
        "google_cloud_tasks_queue:name",
        "google_cloud_tasks_queue:location",
    }


def _blocks(files: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [block for content in files.values() for block in content.get(kind, [])]
