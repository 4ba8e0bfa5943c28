#!/usr/bin/env bash
# Runs every benchmark of an optimized build and writes the results under BUILD_DIR/results/:
#   1. each Google Benchmark program BUILD_DIR/tests/bench/*_bench -> <name>.json (+ console .txt)
#   2. each load benchmark tests/bench/*_load.{sh,py} (started with --build-dir and --results)
# then prints a summary. `make bench` calls it as `tests/bench/run.sh build/bench`.
#   tests/bench/run.sh BUILD_DIR [FILTER]    FILTER: only benchmarks whose name contains it
# Environment: OMNI_BENCH_MIN_TIME (Google Benchmark --benchmark_min_time, seconds; default 0.2),
#              OMNI_BENCH_DURATION (seconds per wrk run in load benchmarks; default 20).
# Exit status: 0 when every benchmark ran, 1 when one failed to run (a missed performance goal is
# reported in the summary, not as a failure).
set -uo pipefail

build_dir=${1:?usage: tests/bench/run.sh BUILD_DIR [FILTER]}
filter=${2:-}
src_dir=$(cd "$(dirname "$0")" && pwd)
build_dir=$(cd "$build_dir" && pwd) || exit 2
results="$build_dir/results"
min_time=${OMNI_BENCH_MIN_TIME:-0.2}
mkdir -p "$results"

declare -a summary=()
failed=0
note() { printf '[bench] %s\n' "$*" >&2; }

note "$(nproc) CPU(s), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load avg $(cut -d' ' -f1-3 /proc/loadavg)"
note "results in $results"

# ---- 1. Google Benchmark programs ----
shopt -s nullglob
for bin in "$build_dir"/tests/bench/*_bench; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  [[ -n "$filter" && "$name" != *"$filter"* ]] && continue
  note "running $name (--benchmark_min_time=$min_time)"
  start=$SECONDS
  if "$bin" --benchmark_min_time="$min_time" \
      --benchmark_out="$results/$name.json" --benchmark_out_format=json \
      | tee "$results/$name.txt"; then
    count=$(grep -c '"run_type"' "$results/$name.json" 2>/dev/null || echo 0)
    summary+=("$(printf '%-24s ok      %4ds  %s results -> results/%s.json' "$name" $((SECONDS - start)) "$count" "$name")")
  else
    failed=1
    summary+=("$(printf '%-24s FAILED  %4ds  see results/%s.txt' "$name" $((SECONDS - start)) "$name")")
  fi
done

# ---- 2. load benchmarks ----
for script in "$src_dir"/*_load.sh "$src_dir"/*_load.py; do
  [ -x "$script" ] || continue
  name=$(basename "${script%.*}")
  [[ -n "$filter" && "$name" != *"$filter"* ]] && continue
  note "running $name"
  start=$SECONDS
  if "$script" --build-dir "$build_dir" --results "$results" | tee "$results/$name.summary.txt"; then
    summary+=("$(printf '%-24s ok      %4ds  results/%s.{json,txt}' "$name" $((SECONDS - start)) "$name")")
    while IFS= read -r line; do summary+=("    $line"); done < "$results/$name.summary.txt"
  else
    failed=1
    summary+=("$(printf '%-24s FAILED  %4ds' "$name" $((SECONDS - start)))")
  fi
done

{
  echo
  echo "==== benchmark summary ($(date -u +%FT%TZ), $(nproc) CPU(s), git $(git -C "$src_dir" rev-parse --short HEAD 2>/dev/null || echo '?')) ===="
  [ ${#summary[@]} -eq 0 ] && echo "no benchmarks found under $build_dir/tests/bench or $src_dir"
  printf '%s\n' "${summary[@]}"
} | tee "$results/summary.txt"
exit $failed
