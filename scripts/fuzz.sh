#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time (FUZZTIME, default
# 10s each), starting from the committed seed corpora under testdata/fuzz.
set -euo pipefail
fuzztime="${FUZZTIME:-10s}"
cd "$(dirname "$0")/.."
status=0
for f in $(grep -rl --include='*_test.go' '^func Fuzz' .); do
  pkg="./$(dirname "${f#./}")"
  for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $pkg $name ($fuzztime)"
    if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/halun-fuzz.log 2>&1; then
      cat /tmp/halun-fuzz.log
      status=1
    fi
  done
done
exit $status
