#!/usr/bin/env bash
# Runs every fuzz target in the module for a fixed number of executions
# (FUZZTIME, default 100000x each), starting from the committed seed corpora
# under testdata/fuzz.
#
# The budget is a count, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report a spurious "context deadline exceeded" failure when
# the deadline fires while a worker is mid-call on a loaded machine
# (golang/go#75804, fixed in Go 1.27). A count has no deadline to race. Each
# run is still bounded by FUZZLIMIT seconds so a pathologically slow target
# cannot hang CI.
set -euo pipefail
fuzztime="${FUZZTIME:-100000x}"
limit="${FUZZLIMIT:-300}"
cd "$(dirname "$0")/.."
status=0
for f in $(grep -rl --include='*_test.go' '^func Fuzz' .); do
  pkg="./$(dirname "${f#./}")"
  for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    budget="$fuzztime"
    extra=()
    case "$name" in
      # Each input logs in twice over TCP and waits for the target to go
      # quiet: about 40 executions a second, so a smaller count.
      # Minimizing a new input runs it up to 60 s by default; bound that too.
      FuzzFullFeatureStream) budget="${FUZZTIME_STREAM:-2000x}"; extra=(-fuzzminimizetime=10s) ;;
    esac
    echo "fuzz $pkg $name ($budget)"
    if ! timeout "$limit" go test -run='^$' -fuzz="^${name}\$" -fuzztime="$budget" "${extra[@]}" "$pkg" >/tmp/halun-fuzz.log 2>&1; then
      cat /tmp/halun-fuzz.log
      status=1
    fi
  done
done
exit $status
