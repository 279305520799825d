#!/usr/bin/env bash
# Cross-language interop on a real Apache Kafka: for each language, `payorch run` on its own
# topic prefix, then that language's client (its ecosystem's Kafka client and Protobuf
# library, code generated from proto/) checks the shared test vectors, sends payments and
# an undecodable record, and checks the events and dead-letter topics; then `payorch check`
# verifies the whole log. Needs scripts/deps-kafka.sh (run by `make interop`).
#
#   tests/interop/run.sh [--bootstrap host:port] [--payorch build/payorch] [java python js go]
#
# Without --bootstrap it starts a 1-broker Kafka under build/kafka-interop (port 19292) and
# stops it at the end. Prints "interop: N passed, M failed" last; exit 1 on any failure.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
C="$ROOT/.cache/interop"
PAYORCH="$ROOT/build/payorch"
BOOTSTRAP=""
LANGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bootstrap) BOOTSTRAP="$2"; shift 2 ;;
    --payorch) PAYORCH="$2"; shift 2 ;;
    java|python|js|go) LANGS+=("$1"); shift ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ ${#LANGS[@]} -eq 0 ]] && LANGS=(java python js go)
WORK="$(mktemp -d /tmp/payorch-interop-XXXXXX)"
KDIR="$ROOT/build/kafka-interop"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  [[ -n "${STARTED_KAFKA:-}" ]] && "$ROOT/scripts/kafka.sh" clean --dir "$KDIR" >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
if [[ -z "$BOOTSTRAP" ]]; then
  "$ROOT/scripts/kafka.sh" clean --dir "$KDIR" >/dev/null
  "$ROOT/scripts/kafka.sh" start --dir "$KDIR" --port 19292 >/dev/null || exit 1
  STARTED_KAFKA=1
  BOOTSTRAP="$(cat "$KDIR/bootstrap")"
fi

client() {  # client LANG ARGS...: runs the language's interop client
  local lang=$1; shift
  case "$lang" in
    java) java -cp "$C/java/classes:$C/java/lib/*" Interop "$@" ;;
    python) PAYORCH_PY_GEN="$C/venv/gen" "$C/venv/bin/python" "$ROOT/tests/interop/python/interop.py" "$@" ;;
    js) PAYORCH_JS_GEN="$C/js/gen" NODE_PATH="$C/js/node_modules" node "$ROOT/tests/interop/js/interop.js" "$@" ;;
    go) "$C/go/bin/interop" "$@" ;;
  esac
}

passed=0
failed=0
for lang in "${LANGS[@]}"; do
  prefix="interop-$lang-$$-$RANDOM."
  d="$WORK/$lang"
  mkdir -p "$d"
  start=$SECONDS
  "$PAYORCH" run --brokers "$BOOTSTRAP" --topic-prefix "$prefix" --partitions 4 --assign all \
    --gateways '*=mock' --data-dir "$d/data" --log-level warn -X fetch.wait.max.ms=50 \
    >"$d/run.log" 2>&1 &
  run_pid=$!
  pids+=("$run_pid")
  for _ in $(seq 1 100); do  # until payorch created the topics
    kcat -L -b "$BOOTSTRAP" -t "${prefix}payorch.deadletter" 2>/dev/null | grep -q 'partition 3' && break
    sleep 0.2
  done
  if client "$lang" --vectors "$ROOT/schemas/testdata" --bootstrap "$BOOTSTRAP" --prefix "$prefix" \
    --payments 16 >"$d/client.log" 2>&1; then ok=1; else ok=0; fi
  kill -TERM "$run_pid"; wait "$run_pid"; rc=$?
  "$PAYORCH" check --brokers "$BOOTSTRAP" --topic-prefix "$prefix" --ledger-dir "$d/data/ledgers" \
    >"$d/check.log" 2>&1; check_rc=$?
  grep -E "^$lang: " "$d/client.log" | grep -v passed
  if [[ $ok == 1 && $rc == 0 && $check_rc == 0 ]]; then
    passed=$((passed + 1))
    echo "PASS $lang ($((SECONDS - start)) s): $(tail -1 "$d/client.log"); payorch check OK"
  else
    failed=$((failed + 1))
    echo "FAIL $lang: client ok=$ok, payorch run exit $rc, payorch check exit $check_rc"
    sed 's/^/  client| /' "$d/client.log" | tail -30
    tail -20 "$d/check.log" | sed 's/^/  check| /'
    tail -20 "$d/run.log" | sed 's/^/  run| /'
  fi
done
echo "interop: $passed passed, $failed failed"
[[ $failed == 0 ]]
