#!/usr/bin/env bash
# Simulator speed: `omniroute simulate` on a 200-agent center (tests/bench/sim_center.*.yaml),
# about 1,000,000 contacts over 150 simulated hours. Goal: >= 1,000,000 contacts in < 10 s wall
# on one core. Run by tests/bench/run.sh:  sim_load.sh --build-dir BUILD_DIR --results DIR
# Writes DIR/sim_load.json (the simulation report) and prints one summary line.
set -euo pipefail
build_dir="" results=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    *) echo "usage: $0 --build-dir DIR --results DIR" >&2; exit 2 ;;
  esac
done
[ -n "$build_dir" ] && [ -n "$results" ] || { echo "usage: $0 --build-dir DIR --results DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
bin="$build_dir/daemon/omniroute"
[ -x "$bin" ] || { echo "sim_load: $bin not built" >&2; exit 1; }
mkdir -p "$results"
log="$results/sim_load.txt"
# One core: the simulator is single-threaded anyway; taskset keeps the figure honest.
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
start=$(date +%s.%N)
"${pin[@]}" "$bin" simulate --quiet --config "$here/sim_center.omniroute.yaml" \
  --scenario "$here/sim_center.scenario.yaml" --out "$results/sim_load.json" 2>"$log"
end=$(date +%s.%N)
contacts=$(sed -n 's/.*: \([0-9]*\) contacts, .*/\1/p' "$log" | head -1)
wall=$(echo "$end - $start" | bc -l)
rate=$(echo "$contacts / $wall" | bc -l)
goal="met"
if [ "$(echo "$contacts < 1000000 || $wall >= 10" | bc -l)" = 1 ]; then goal="MISSED"; fi
printf 'sim_load: %d contacts, 200 agents, %.2f s wall (process), %.0f contacts/s; goal >=1M contacts in <10 s: %s\n' \
  "$contacts" "$wall" "$rate" "$goal"
