#!/usr/bin/env bash
# Whole-process comparison, in one run on one machine, of bgpsentry against
# bgpdump on the same MRT file: `bgpdump -m > /dev/null`, `bgpsentry dump
# --stats`, `bgpsentry dump > /dev/null` (the same text bgpdump writes), and
# `bgpsentry score` with and without a prefix-to-origin baseline (warm-up
# 2m, events to /dev/null). Runs are interleaved and repeated; the median
# wall time and the median peak RSS of each are printed with the ratios to
# bgpdump and to `dump --stats` (the issue's bar: score within 2x of it).
# Ratios, not absolute times, are what to compare: machines here are shared
# and noisy.
# Usage: scripts/bench-compare.sh [FILE] [RUNS]
# BASELINE (default: the 2026-07-30 IPv4 and IPv6 RouteViews pyasn tables
# in ../shared/data) is a space-separated list of baseline files.
# BEFORE=BINARY adds the two score rows of another build (e.g. of main:
# rows score@before, score-baseline@before), interleaved in the same runs,
# to compare a change.
set -euo pipefail
file=${1:-../shared/data/mrt/jwbensley-dnas/rrc01.updates.20241001.0055.gz}
runs=${2:-5}
bin=${BGPSENTRY:-dist/bgpsentry}
baseline=${BASELINE:-../shared/data/baseline/asinfo/ipasn_20260730.dat.gz ../shared/data/baseline/asinfo/ipasn6_20260730.dat.gz}
[ -f "$file" ] || { echo "bench-compare: $file not found" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench-compare: build $bin first (make build)" >&2; exit 1; }
command -v bgpdump >/dev/null || { echo "bench-compare: bgpdump not installed (scripts/deps.sh)" >&2; exit 1; }
[ -x /usr/bin/time ] || bash scripts/deps.sh time
baseflags=""
for b in $baseline; do
  [ -f "$b" ] || { echo "bench-compare: baseline $b not found" >&2; exit 1; }
  baseflags+=" --baseline $b"
done

elements=$("$bin" dump --stats "$file" | awk '/^elements/ {print $2}')
declare -A times mem
names=(bgpdump-m sentry-stats sentry-text score score-baseline)
before=${BEFORE:-}
if [ -n "$before" ]; then
  [ -x "$before" ] || { echo "bench-compare: BEFORE=$before is not executable" >&2; exit 1; }
  names+=(score@before score-baseline@before)
fi
# Commands are word-split: no blanks in the file names.
cmd_of() {
  case $1 in
    bgpdump-m) echo "bgpdump -m $file" ;;
    sentry-stats) echo "$bin dump --stats $file" ;;
    sentry-text) echo "$bin dump $file" ;;
    score) echo "$bin score --warmup 2m -o /dev/null $file" ;;
    score-baseline) echo "$bin score --warmup 2m -o /dev/null$baseflags $file" ;;
    score@before) echo "$before score --warmup 2m -o /dev/null $file" ;;
    score-baseline@before) echo "$before score --warmup 2m -o /dev/null$baseflags $file" ;;
  esac
}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# Wall time from the shell's clock in nanoseconds (GNU /usr/bin/time's %e
# has 10 ms steps, a twentieth of `dump --stats` on the default file);
# peak RSS from /usr/bin/time's %M.
for ((i = 0; i < runs; i++)); do
  for n in "${names[@]}"; do
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$tmp" $(cmd_of "$n") >/dev/null 2>/dev/null
    t1=$(date +%s%N)
    times[$n]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }') "
    mem[$n]+="$(tail -1 "$tmp") "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "file: $file ($elements elements), $runs interleaved runs, median wall time, peak RSS"
echo "baseline (score-baseline): $baseline"
[ -z "$before" ] || echo "before (score@before rows): $before"
base=$(echo "${times[bgpdump-m]}" | median)
stats=$(echo "${times[sentry-stats]}" | median)
for n in "${names[@]}"; do
  t=$(echo "${times[$n]}" | median)
  m=$(echo "${mem[$n]}" | median)
  awk -v n="$n" -v t="$t" -v m="$m" -v b="$base" -v s="$stats" -v e="$elements" \
    'BEGIN { r = (t > 0) ? b / t : 0; q = (s > 0) ? t / s : 0; printf "%-21s %8.4fs  %8.0f elements/s  %6.1f MiB  speed vs bgpdump %5.2fx  time / dump --stats %5.2f\n", n, t, (t > 0 ? e / t : 0), m / 1024, r, q }'
done
