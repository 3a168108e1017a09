"""The Qdrant VM's templates, rendered as Terraform renders them (same values, same escapes), then checked:
shellcheck and `bash -n` on the scripts, `nginx -t` on the site, the startup script's key handling run for
real against a stub `gcloud`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra import hcl_eval, tools
from tests.infra.tools import TEMPLATES_DIR, Configuration

DOMAIN = "qdrant.example.com"

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
        return tools.render_template(text, {**SAMPLE_VALUES, **(extra or {})})

    parts = {
        "qdrant_config": render("qdrant-config.yaml.tftpl"),
        "nginx_http": render("nginx-http.conf.tftpl"),
        "nginx_https": render("nginx-https.conf.tftpl"),
        "tls_script": render("qdrant-tls.sh.tftpl"),
    }
    return Rendered(startup=render("qdrant-startup.sh.tftpl", parts), **parts)


def test_templates_take_exactly_the_values_terraform_passes(tf: Configuration, monkeypatch: pytest.MonkeyPatch) -> None:
    # Evaluate the VM's startup script as Terraform would, recording every templatefile() call it makes.
    calls: dict[str, list[set[str]]] = {}

    def record(path: str, values: dict[str, Any]) -> str:
        assert Path(path).parent == TEMPLATES_DIR, f"{path} is not one of the module's templates"
        calls.setdefault(Path(path).name, []).append(set(values))
        return f"<rendered {Path(path).name}>"

    monkeypatch.setitem(hcl_eval.FUNCTIONS, "templatefile", record)
    vm = tf.instance("google_compute_instance", "qdrant", "0")
    assert vm["metadata"]["startup-script"] == "<rendered qdrant-startup.sh.tftpl>"
    assert set(calls) == {p.name for p in TEMPLATES_DIR.glob("*.tftpl")}, "a template is never rendered"
    for template, passed in calls.items():
        used = tools.template_variables((TEMPLATES_DIR / template).read_text())
        for keys in passed:
            assert used == keys, f"{template}: uses {sorted(used)}, Terraform passes {sorted(keys)}"
    # The sample values these tests render with cover every value Terraform passes.
    assert (
        set(SAMPLE_VALUES) | {"qdrant_config", "nginx_http", "nginx_https", "tls_script"}
        >= calls["qdrant-startup.sh.tftpl"][0]
    )
    # And where Terraform's values are known before apply, they are the ones the samples stand for.
    startup = tf.locals["qdrant_startup_vars"]
    assert (startup["data_dir"], startup["data_device"], startup["domain"]) == (
        SAMPLE_VALUES["data_dir"],
        SAMPLE_VALUES["data_device"],
        "qdrant.example.com",
    )


def test_the_renderer_refuses_what_it_cannot_render() -> None:
    assert tools.render_template("a $${b} %%{c} ${d}", {"d": "D"}) == "a ${b} %{c} D"
    with pytest.raises(ValueError):
        tools.render_template("%{ if x }y%{ endif }", {})
    with pytest.raises(ValueError):
        tools.render_template("${upper(x)}", {"x": "1"})
    with pytest.raises(KeyError):
        tools.render_template("${missing}", {})


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
        [str(tools.shellcheck()), "--shell=bash", "--severity=style", str(script)],
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
            tools.nginx(),
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
