#!/usr/bin/env bash
# Builds the Debian package from the release preset and inspects it with dpkg-deb: name, Depends on
# the runtime libraries, the conffile, the unit and the files an operator needs. Then extracts it
# and runs `omniroute check-config` on the shipped configuration with the shipped binary.
set -euo pipefail
src=${1:?source dir}
cd "$src"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" >/dev/null
(cd build/release && cpack >/dev/null)
deb=$(ls build/release/omniroute_*_amd64.deb)
echo "package: $deb"
info=$(dpkg-deb -I "$deb")
contents=$(dpkg-deb -c "$deb")
fail=0
need() { if ! grep -q -- "$2" <<<"$1"; then echo "missing: $2"; fail=1; fi; }
need "$info" "Package: omniroute"
need "$info" "Architecture: amd64"
for lib in librdkafka1 libyaml-cpp0.7 libspdlog1.10 libsqlite3-0 libsystemd0 libphonenumber8 libssl3 libjemalloc2 systemd; do
  need "$info" "Depends:.*$lib"
done
for f in ./usr/bin/omniroute ./usr/lib/systemd/system/omniroute.service ./usr/lib/sysusers.d/omniroute.conf \
         ./usr/lib/tmpfiles.d/omniroute.conf ./etc/omniroute/omniroute.yaml ./usr/share/doc/omniroute/operations.md \
         ./usr/share/doc/omniroute/schemas/omni.contact.v1.json; do
  need "$contents" " $f\$"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -e "$deb" "$tmp/control"
need "$(cat "$tmp/control/conffiles")" "/etc/omniroute/omniroute.yaml"
dpkg-deb -x "$deb" "$tmp/root"
"$tmp/root/usr/bin/omniroute" check-config --production "$tmp/root/etc/omniroute/omniroute.yaml"
[ $fail -eq 0 ] && echo "package: OK"
exit $fail
