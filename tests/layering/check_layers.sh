#!/usr/bin/env bash
# The dependency rules of docs/architecture.md, checked on the includes of the source tree:
#   core      includes nothing of ours but core/
#   config    includes core/ and config/ only
#   connectors never include routing/ or daemon/
#   routing/engine includes routing/engine/ and standard (or libstdc++ <ext/...>) headers only
#   routing/model  (the engine's keys of `routing:`) includes the engine, core and config only
#   routing/sim    includes the engine, core and config, never the router, desk, history or
#                  core/bus (Kafka); the ctest layering_links checks the same on its link
# Usage: check_layers.sh SOURCE_DIR. Prints every violation (file:line: include) and exits 1.
set -euo pipefail
src="${1:?usage: check_layers.sh SOURCE_DIR}"
cd "$src"
status=0
violations() {  # $1: rule name, $2: directory, $3: grep -E pattern of forbidden include lines
  local found
  found=$(grep -rnE --include='*.h' --include='*.cc' "$3" "$2" || true)
  if [[ -n "$found" ]]; then
    echo "layering: $1:"
    echo "$found" | sed 's/^/  /'
    status=1
  fi
}
violations "core includes only core/" core '^\s*#\s*include\s+"(config|connectors|routing|daemon)/'
violations "config includes only core/ and config/" config '^\s*#\s*include\s+"(connectors|routing|daemon)/'
violations "connectors never include routing/ or daemon/" connectors '^\s*#\s*include\s+"(routing|daemon)/'
violations "routing/engine includes only itself and the standard library" routing/engine \
  '^\s*#\s*include\s+("(core|config|connectors|daemon|routing/(service|desk|history|sim))/|<(boost|rdkafka|librdkafka|sqlite3|nlohmann|spdlog|fmt|yaml-cpp)[/.>])'
violations "routing/sim includes the engine, not the router, desk, history or Kafka" routing/sim \
  '^\s*#\s*include\s+"(routing/(service|desk|history)|connectors|daemon|core/bus)/'
violations "routing/model includes the engine, core and config only" routing/model \
  '^\s*#\s*include\s+"(routing/(service|desk|history|sim)|connectors|daemon|core/bus)/'
if [[ $status -eq 0 ]]; then echo "layering: every rule holds"; fi
exit $status
