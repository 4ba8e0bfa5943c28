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
  libssl-dev libsqlite3-dev libsystemd-dev libphonenumber-dev libgmime-3.0-dev
  libgtest-dev libgmock-dev
)
test_pkgs=(kcat curl python3 procps)
bench_pkgs=(libbenchmark-dev wrk nginx-light)
fuzz_pkgs=(clang libclang-rt-14-dev)

want=("${build_pkgs[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}") ;;
    --bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
    --fuzz) want+=("${fuzz_pkgs[@]}") ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps.sh: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
