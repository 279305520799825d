#!/usr/bin/env bash
# Installs everything payorch needs to build, test and run its demo on Debian 12.
# Idempotent: installs only what is missing, so make targets can call it every time.
# Usage: scripts/deps.sh [--check]   (--check: exit 1 if anything is missing, install nothing)
set -euo pipefail

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libprotobuf-dev protobuf-compiler
  librocksdb-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  libyaml-cpp-dev nlohmann-json3-dev libcpp-httplib-dev libboost-dev libcurl4-openssl-dev libargon2-dev
  libssl-dev python3 python3-yaml
  kcat clang-format clang-tidy clang libclang-rt-14-dev ccache prometheus wrk valgrind heaptrack
  nodejs npm
)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from outside Debian's packages (e.g. a preinstalled Node 20).
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

buf_ok=0
[ -x "$here/node_modules/.bin/buf" ] && buf_ok=1

if [[ ${1:-} == --check ]]; then
  [[ ${#missing[@]} -eq 0 && $buf_ok -eq 1 ]] && exit 0
  echo "missing: ${missing[*]-} $([ $buf_ok -eq 1 ] || echo buf)"
  exit 1
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "deps: installing Debian packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ $buf_ok -eq 0 ]]; then
  echo "deps: installing buf from the npm registry (pinned by package-lock.json)"
  # npm ci rejects this lockfile (npm 11 drops the other platforms' optional packages from it);
  # npm install still installs exactly the locked versions.
  (cd "$here" && npm install --no-audit --no-fund --loglevel=error)
fi
