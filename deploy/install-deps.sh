#!/usr/bin/env bash
# Installs the Debian 12 packages omniroute needs to build, run and test. Idempotent: it asks apt only
# for what is missing, and runs `apt-get update` first when something is.
#   deploy/install-deps.sh            build + run
#   deploy/install-deps.sh --test     also what the test suite starts (kcat, Chromium, Dovecot, ...)
#   deploy/install-deps.sh --bench    also the load tools and peers the benchmarks compare against
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost-dev librdkafka-dev libyaml-cpp-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libssl-dev libsqlite3-dev libsystemd-dev libphonenumber-dev libgmime-3.0-dev libxml2-dev
  libgtest-dev libgmock-dev libjwt-dev libjemalloc-dev libsimdjson-dev
)
# chromium + fonts: the desk page's browser test (Cyrillic needs a font that covers it).
# dovecot-imapd + openssl: the IMAP connector's tests run a real Dovecot (TLS with a generated cert).
# python3-aiosmtpd: the SMTP sink the email connector's outbound test sends to.
# python3-websockets: the web-chat protocol tests' WebSocket client.
test_pkgs=(kcat curl python3 python3-yaml python3-websockets procps chromium fonts-dejavu-core dovecot-imapd openssl python3-aiosmtpd)
bench_pkgs=(libbenchmark-dev wrk nginx)  # nginx-light is a transitional package on bookworm (nginx + echo module)
fuzz_pkgs=(clang libclang-rt-14-dev)

want=("${build_pkgs[@]}")
node_deps=0
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}"); node_deps=1 ;;
    --bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}"); node_deps=1 ;;
    --fuzz) want+=("${fuzz_pkgs[@]}") ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js runs the browser test's Playwright driver; any installed node (Debian's or another
# vendor's, which bundles npm) will do, so ask apt only when the commands are missing.
if [ $node_deps -eq 1 ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps.sh: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# playwright-core for the browser test, exactly as pinned in tests/e2e/package-lock.json (it drives
# /usr/bin/chromium; no browser is downloaded). Re-run only when the lock file changed.
if [ $node_deps -eq 1 ]; then
  e2e="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
  if ! cmp -s "$e2e/package-lock.json" "$e2e/node_modules/.omni-package-lock.json" 2>/dev/null; then
    echo "install-deps.sh: npm ci in tests/e2e" >&2
    (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$e2e/package-lock.json" "$e2e/node_modules/.omni-package-lock.json"
  fi
fi
