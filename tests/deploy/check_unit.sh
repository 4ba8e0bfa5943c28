#!/usr/bin/env bash
# The systemd unit passes `systemd-analyze verify` and its exposure score stays <= 2.0.
# The unit names /usr/bin/omniroute; verify needs the binary to exist, so a copy of the unit
# pointing at the freshly built binary is checked.
set -euo pipefail
src=${1:?source dir}
bin=${2:?omniroute binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/bin/omniroute|$bin|g" "$src/deploy/systemd/omniroute.service" > "$tmp/omniroute.service"
out=$(systemd-analyze verify "$tmp/omniroute.service" 2>&1 || true)
# A container without a running systemd may print environment warnings; anything naming the unit fails.
if echo "$out" | grep -q 'omniroute.service'; then
  echo "systemd-analyze verify found problems:"; echo "$out"; exit 1
fi
echo "verify: clean"
score=$(systemd-analyze security --offline=yes "$tmp/omniroute.service" 2>/dev/null |
        sed -n 's/.*Overall exposure level for omniroute.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "no exposure score found"; exit 1; }
echo "exposure: $score (goal <= 2.0)"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
