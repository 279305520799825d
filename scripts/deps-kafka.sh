#!/usr/bin/env bash
# Resolves what the real-Kafka tier and the interop clients need into the git-ignored
# .cache/ folder, from the registries' ordinary clients; nothing is vendored. Idempotent: a
# part whose inputs (the pom, requirements, package.json, go.mod, proto/) did not change
# since its last success is skipped, so a second run takes about a second.
#
#   scripts/deps-kafka.sh [kafka] [java] [python] [js] [go]   # default: all of them
#
#   .cache/m2                 Maven's local repository
#   .cache/kafka/lib          the Apache Kafka server (tests/kafka/pom.xml)
#   .cache/interop/java       kafka-clients + protobuf-java, generated code, classes
#   .cache/interop/venv       confluent-kafka + protobuf, generated code in gen/
#   .cache/interop/js         kafkajs + @bufbuild/protobuf, generated code in gen/
#   .cache/interop/go         module cache, protoc-gen-go, the built client
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.cache"
I="$CACHE/interop"
PARTS=("$@")
[[ ${#PARTS[@]} -eq 0 ]] && PARTS=(kafka java python js go)
mkdir -p "$CACHE/m2" "$I"

# The toolchains come from Debian when the machine lacks them (this machine type has a JDK,
# Maven, Go and Node preinstalled; a bare Debian 12 gets them here).
need=()
command -v java >/dev/null || need+=(default-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
command -v go >/dev/null || need+=(golang-go)
command -v node >/dev/null || need+=(nodejs npm)
command -v python3 >/dev/null && python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
if [[ ${#need[@]} -gt 0 ]]; then
  echo "deps-kafka: installing Debian packages: ${need[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
MVN=(mvn -q -B -Dmaven.repo.local="$CACHE/m2")
PROTOS=$(cd "$ROOT/proto" && find payments -name '*.proto' | sort)

# up_to_date NAME FILES...: true if FILES hash as at NAME's last success.
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
up_to_date() {
  local name=$1; shift
  [[ -f "$CACHE/.stamp-$name" && "$(cat "$CACHE/.stamp-$name")" == "$(stamp_of "$@")" ]]
}
mark() { local name=$1; shift; stamp_of "$@" >"$CACHE/.stamp-$name"; }
say() { echo "deps-kafka: $*"; }
proto_files() { for p in $PROTOS; do echo "$ROOT/proto/$p"; done; }

kafka() {
  local in=("$ROOT/tests/kafka/pom.xml")
  up_to_date kafka "${in[@]}" && return 0
  say "resolving the Kafka server from Maven Central"
  rm -rf "$CACHE/kafka/lib"
  "${MVN[@]}" -f "$ROOT/tests/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$CACHE/kafka/lib" -DincludeScope=runtime
  mark kafka "${in[@]}"
}

java_part() {
  local d="$I/java" in=("$ROOT/tests/interop/java/pom.xml" "$ROOT"/tests/interop/java/src/*.java $(proto_files))
  up_to_date java "${in[@]}" && return 0
  say "java: kafka-clients + protobuf-java, protoc --java_out, javac"
  rm -rf "$d/lib" "$d/gen" "$d/classes"
  mkdir -p "$d/gen" "$d/classes"
  "${MVN[@]}" -f "$ROOT/tests/interop/java/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$d/lib" -DincludeScope=runtime
  (cd "$ROOT/proto" && protoc --java_out="$d/gen" $PROTOS)
  javac -nowarn -encoding UTF-8 -cp "$d/lib/*" -d "$d/classes" \
    $(find "$d/gen" -name '*.java') "$ROOT"/tests/interop/java/src/*.java 2>&1 | grep -v '^Note:' || true
  [[ -f "$d/classes/Interop.class" ]]
  mark java "${in[@]}"
}

python_part() {
  local v="$I/venv" in=("$ROOT/tests/interop/python/requirements.txt" $(proto_files))
  up_to_date python "${in[@]}" && return 0
  say "python: venv with confluent-kafka + protobuf, protoc --python_out"
  [[ -x "$v/bin/python" ]] || python3 -m venv "$v"
  "$v/bin/pip" install -q --disable-pip-version-check -r "$ROOT/tests/interop/python/requirements.txt"
  rm -rf "$v/gen" && mkdir -p "$v/gen"
  (cd "$ROOT/proto" && protoc --python_out="$v/gen" $PROTOS)
  mark python "${in[@]}"
}

js_part() {
  local d="$I/js" in=("$ROOT/tests/interop/js/package.json" "$ROOT/tests/interop/js/package-lock.json" $(proto_files))
  up_to_date js "${in[@]}" && return 0
  say "js: kafkajs + @bufbuild/protobuf (npm ci), protoc-gen-es"
  mkdir -p "$d"
  cp "$ROOT/tests/interop/js/package.json" "$ROOT/tests/interop/js/package-lock.json" "$d/"
  (cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
  rm -rf "$d/gen" && mkdir -p "$d/gen"
  (cd "$ROOT/proto" && protoc --plugin=protoc-gen-es="$d/node_modules/.bin/protoc-gen-es" \
    --es_out="$d/gen" --es_opt=target=js,js_import_style=legacy_commonjs $PROTOS)
  mark js "${in[@]}"
}

go_part() {
  local d="$I/go" src="$ROOT/tests/interop/go"
  local in=("$src/go.mod" "$src/go.sum" "$src/main.go" $(proto_files))
  up_to_date go "${in[@]}" && return 0
  say "go: franz-go + google.golang.org/protobuf, protoc-gen-go, go build"
  export GOPATH="$d" GOMODCACHE="$d/mod" GOBIN="$d/bin" GOFLAGS=-modcacherw GOTOOLCHAIN=local
  local ver
  ver="$(awk '$1=="google.golang.org/protobuf"{print $2}' "$src/go.mod")"
  go install "google.golang.org/protobuf/cmd/protoc-gen-go@$ver"
  # Generated code lives in the cache; the module sees it through a go.work-free copy.
  rm -rf "$d/src" && mkdir -p "$d/src/gen"
  cp "$src/go.mod" "$src/go.sum" "$src/main.go" "$d/src/"
  local m=()
  for p in $PROTOS; do m+=("--go_opt=M$p=payorch.dev/interop/gen/$(dirname "$p");$(basename "$(dirname "$(dirname "$p")")")v1"); done
  (cd "$ROOT/proto" && protoc --plugin=protoc-gen-go="$d/bin/protoc-gen-go" \
    --go_out="$d/src/gen" --go_opt=paths=source_relative "${m[@]}" $PROTOS)
  (cd "$d/src" && go build -o "$d/bin/interop" .)
  mark go "${in[@]}"
}

for part in "${PARTS[@]}"; do
  case "$part" in
    kafka) kafka ;;
    java) java_part ;;
    python) python_part ;;
    js) js_part ;;
    go) go_part ;;
    *) echo "deps-kafka.sh: unknown part '$part' (kafka java python js go)" >&2; exit 2 ;;
  esac
done
