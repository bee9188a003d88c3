#!/usr/bin/env bash
# venv.sh creates the training virtualenv .venv at the repository root and
# installs training/requirements.txt into it. It is idempotent: the install
# is skipped when a stamp file in .venv records the same requirements.txt
# hash and interpreter version as last time. Everything comes from PyPI
# through pip; nothing else is downloaded.
#
#   scripts/venv.sh            create or update .venv
#   PYTHON=python3.12 scripts/venv.sh   use another interpreter for a new venv
#   FORCE=1 scripts/venv.sh    reinstall even when the stamp matches
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/training/requirements.txt"
stamp="$venv/.requirements.stamp"
python="${PYTHON:-python3}"

if [[ ! -f "$req" ]]; then
	echo "venv: missing $req" >&2
	exit 1
fi

# A venv whose interpreter no longer runs (python upgraded or moved) is rebuilt.
if [[ -e "$venv" ]] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
	echo "venv: $venv is broken, recreating" >&2
	rm -rf "$venv"
fi
if [[ ! -x "$venv/bin/python" ]]; then
	echo "venv: creating $venv with $("$python" --version 2>&1)" >&2
	"$python" -m venv "$venv"
fi

want="$(
	{
		sha256sum <"$req"
		"$venv/bin/python" -c 'import sys; print(sys.version)'
	} | sha256sum | cut -d' ' -f1
)"
if [[ "${FORCE:-}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
	echo "venv: $venv is up to date" >&2
	exit 0
fi

rm -f "$stamp"
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$req"
echo "$want" >"$stamp"
echo "venv: installed $req into $venv" >&2
