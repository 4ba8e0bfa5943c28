#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 60) each, seeded from the fixtures its
# seeds file names (<name>.seeds beside its source, in tests/fuzz/ or tests/connectors/<channel>/:
# one directory per line, relative to the repo root).
# Crashes are written to build/fuzz/artifacts/.
set -euo pipefail
build=${1:-build/fuzz}
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
mkdir -p "$build/artifacts"
status=0
for bin in "$build"/tests/fuzz/*_fuzz; do
  name=$(basename "$bin")
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  seeds=()
  for list in "$root"/tests/fuzz/"$name".seeds "$root"/tests/connectors/*/"$name".seeds; do
    [ -f "$list" ] || continue
    while read -r d; do [ -n "$d" ] && seeds+=("$root/$d"); done < "$list"
  done
  echo "== $name (${seconds}s, seeds: ${seeds[*]:-none})"
  if ! "$bin" -max_total_time="$seconds" -max_len=65536 -artifact_prefix="$build/artifacts/$name-" \
      "$corpus" "${seeds[@]}" 2>"$build/$name.log"; then
    echo "!! $name found a crash; see $build/$name.log and $build/artifacts/"
    status=1
  fi
  tail -n 1 "$build/$name.log"
done
exit $status
