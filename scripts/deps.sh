#!/usr/bin/env bash
# Installs the Debian packages the tests need, once: bgpdump (parity
# reference). Idempotent: does nothing when every tool is present.
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail

declare -A tool_of=(
  [bgpdump]=bgpdump
)
pkgs=()
for pkg in "${!tool_of[@]}" "$@"; do
  tool=${tool_of[$pkg]:-$pkg}
  if ! command -v "$tool" >/dev/null 2>&1 && ! dpkg -s "$pkg" >/dev/null 2>&1; then
    pkgs+=("$pkg")
  fi
done
[ ${#pkgs[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: need root or sudo to install: ${pkgs[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "deps: installing Debian packages: ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
