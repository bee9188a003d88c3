#!/usr/bin/env bash
# Installs the BGP daemons the bgpfeed/speaker tests peer with, once:
# BIRD 2 (bird, birdc), ExaBGP, gobgpd (gobgpd, gobgp). Idempotent: does
# nothing when every tool is present. The tests install nothing themselves;
# without these daemons they fail unless BGPSENTRY_SKIP_PEERS=1.
# Usage: scripts/peers-deps.sh
set -euo pipefail

# Debian package -> a command it provides.
declare -A tool_of=(
  [bird2]=bird
  [exabgp]=exabgp
  [gobgpd]=gobgpd
)
pkgs=()
for pkg in "${!tool_of[@]}"; do
  tool=${tool_of[$pkg]}
  # Daemons live in /usr/sbin, which is not on every PATH.
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ] && ! dpkg -s "$pkg" >/dev/null 2>&1; then
    pkgs+=("$pkg")
  fi
done
[ ${#pkgs[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "peers-deps: need root or sudo to install: ${pkgs[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "peers-deps: installing Debian packages: ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
# The packages enable and start system services; the tests run their own
# instances on loopback, so stop the system ones (ignore failures: no
# systemd in a container).
for svc in bird bird6 exabgp gobgpd; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
