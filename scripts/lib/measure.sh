# shellcheck shell=bash
# Measuring helpers shared by scripts/bench.sh and scripts/bench-ha.sh;
# source it after setting $work (the run's scratch directory).
: "${work:?scripts/lib/measure.sh needs work, the scratch directory of the run}"

# ticks PID: the CPU clock ticks (user + system) the process used so far.
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
export hz

# client CMD... runs the load generator and records the CPU seconds it (and
# its children) used in $work/client-cpu: the client shares the machine's
# cores with the targets, so its cost bounds what any target can reach.
client() {
  "$@"
  local rc=$?
  times > "$work/client-times"  # not in a pipeline: that would time a subshell
  tail -1 "$work/client-times" | awk '{ t=0; for (i=1; i<=2; i++) { split($i, p, /[ms]/); t += p[1]*60 + p[2] } printf "%.2f\n", t }' > "$work/client-cpu"
  return $rc
}
