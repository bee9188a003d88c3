#!/usr/bin/env bash
# Checks that two builds of bgpsentry write the same outputs, byte for
# byte, on real data: score's events (--events all), its vetoed verdicts
# and its summary (timings aside), and featurize's rows, on RIS rrc01
# 2024-10-01 00:55 with the 2026 pyasn baselines (warm-up 2m), and score
# on the 2008 YouTube route-views2 files with the 2008 pyasn baseline. For
# changes meant to change no result (speed work): run it with the build
# before the change and the one after.
# Usage: scripts/same-outputs.sh BEFORE AFTER
set -euo pipefail
[ $# -eq 2 ] && [ -x "$1" ] && [ -x "$2" ] || { echo "usage: $0 BEFORE-BINARY AFTER-BINARY" >&2; exit 2; }
data=${SHARED_DATA:-../shared/data}
rrc01=$data/mrt/jwbensley-dnas/rrc01.updates.20241001.0055.gz
youtube=$data/mrt/routeviews2-2008-youtube-hijack/
base26="--baseline $data/baseline/asinfo/ipasn_20260730.dat.gz --baseline $data/baseline/asinfo/ipasn6_20260730.dat.gz"
base08="--baseline $data/baseline/pyasn/ipasn_20080501_v12.dat.gz"
for f in "$rrc01" "$youtube"; do [ -e "$f" ] || { echo "same-outputs: $f not found" >&2; exit 1; }; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # run NAME BINARY
  local d=$tmp/$1 b=$2
  mkdir -p "$d"
  # shellcheck disable=SC2086
  "$b" score --warmup 2m --events all --vetoed "$d/rrc01.vetoed" -o "$d/rrc01.events" $base26 "$rrc01" 2>"$d/rrc01.summary"
  # shellcheck disable=SC2086
  "$b" featurize --warmup 2m -o "$d/rrc01.rows" $base26 "$rrc01" 2>/dev/null
  # shellcheck disable=SC2086
  "$b" score --events all --vetoed "$d/youtube.vetoed" -o "$d/youtube.events" $base08 "$youtube" 2>"$d/youtube.summary"
  # Events as canonical JSON: builds before marshalJSON wrote protojson's
  # blanks, which vary by build.
  for e in "$d"/*.events; do
    python3 -c 'import json, sys
for l in sys.stdin: print(json.dumps(json.loads(l), sort_keys=True))' < "$e" > "$e.json" && mv "$e.json" "$e"
  done
  # Timings and cache hit rates aside.
  sed -i -E 's/[0-9.]+ ?(µs|ms|s)\b/T/g; /relationships inferred/!{/^score:/!d}' "$d"/*.summary
}
run before "$1"
run after "$2"
status=0
for f in "$tmp"/before/*; do
  n=$(basename "$f")
  if cmp -s "$f" "$tmp/after/$n"; then
    echo "same       $n ($(wc -l < "$f") lines)"
  else
    echo "DIFFERENT  $n"
    status=1
  fi
done
exit $status
