#!/usr/bin/env bash
# Creates .venv and installs the Python packages, after the system packages they need.
#   scripts/bootstrap.sh runtime   -> requirements.txt (what `make run` needs)
#   scripts/bootstrap.sh dev       -> requirements-dev.txt (tests, lint, browser)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-runtime}
PY=${PY:-python3}

need=(pkg-config libmariadb-dev gcc python3-dev gettext)  # gettext: msgfmt, which compiles the language catalogs
[ "$mode" = dev ] && need+=(chromium fonts-dejavu-core fonts-wqy-microhei nginx nodejs systemd)  # systemd: systemd-analyze verify of deploy/systemd; fonts-wqy-microhei: Chinese text in the Chromium tests' screenshots
missing=()
for pkg in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# python3-dev is only needed when the interpreter has no headers of its own (pyenv builds do).
if [ -f "$($PY -c 'import sysconfig;print(sysconfig.get_paths()["include"])')/Python.h" ]; then
  missing=("${missing[@]/python3-dev}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing system packages: ${missing[*]}"
    echo "Install them with: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  if ! $PY -m venv .venv 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv && $PY -m venv .venv
    else
      echo "Python's venv module is missing. Install it with: sudo apt-get install -y python3-venv"; exit 1
    fi
  fi
fi
req=requirements.txt
[ "$mode" = dev ] && req=requirements-dev.txt
.venv/bin/pip install -q --disable-pip-version-check -r "$req" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import django, channels, MySQLdb" # fail loudly if the install did not take
touch ".venv/.$mode-installed"
