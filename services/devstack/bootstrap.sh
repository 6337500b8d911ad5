#!/usr/bin/env bash
# Install the system packages a command needs, when missing and possible; else say what to install.
# Usage: bootstrap.sh redis-server [python3-venv] [docker-compose] [docker.io] [debootstrap] [chromium chromium-driver]
set -euo pipefail

have() {
  case "$1" in
    python3-venv) python3 -c 'import ensurepip, venv' >/dev/null 2>&1 ;;
    docker.io) command -v dockerd >/dev/null 2>&1 ;;
    chromium-driver) command -v chromedriver >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for pkg in "$@"; do have "$pkg" || missing+=("$pkg"); done
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    echo "installing ${missing[*]} with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    for pkg in "${missing[@]}"; do have "$pkg" || { echo "could not install $pkg"; exit 1; }; done
    exit 0
  fi
fi
echo "missing: ${missing[*]} — install with: sudo apt-get install ${missing[*]} (or your system's package manager)" >&2
exit 1
