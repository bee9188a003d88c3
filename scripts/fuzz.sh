#!/usr/bin/env bash
# Runs every Go fuzz target of the module (found by `go test -list`, so a
# new one is never left out) for FUZZTIME each (default 10m), one after
# the other; stops at the first failure, which go test reports with the
# failing input written under the package's testdata/fuzz.
# FUZZMINTIME (default 10s) bounds the minimisation of each new
# interesting input: Go's default of 60s costs slow targets most of their
# time (FuzzTableImage maps a file and checks 2 x 65,537 buckets per
# execution, ~600 a second).
# Usage: FUZZTIME=30s scripts/fuzz.sh [PACKAGE...]   (default ./...)
set -euo pipefail
fuzztime=${FUZZTIME:-10m}
fuzzmintime=${FUZZMINTIME:-10s}
go=${GO:-go}
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
n=0
while read -r pkg; do
  for target in $("$go" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $target ($fuzztime)"
    "$go" test "$pkg" -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -fuzzminimizetime "$fuzzmintime"
    n=$((n + 1))
  done
done < <("$go" list "${pkgs[@]}")
echo "fuzz: $n targets, $fuzztime each, no failure"
