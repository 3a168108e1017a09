#!/usr/bin/env bash
# Debian packages the tests need: Chromium + ChromeDriver (selenium), Node/npm (the Docusaurus fixture) and nginx
# (`nginx -t` on the rendered Qdrant VM config).
# Installs them when running as root and they are missing; otherwise says what is missing and carries on
# (the tests that need them then fail with a message naming the package).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)  # checks the Qdrant VM's nginx config
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "warning: missing ${missing[*]} (run scripts/system_deps.sh as root to install them)" >&2
fi
