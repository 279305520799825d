#!/usr/bin/env bash
# What only a real broker shows, under load, with `payorch run` and `payorch check`:
#
#   restart       a 1-broker Kafka stopped and restarted mid-load (its log on disk):
#                 every acknowledged command is decided, and the same `payorch run`
#                 reconnects by itself.
#   replica-kill  a 3-broker cluster (replication 3, min.insync.replicas 2): one broker is
#                 SIGKILLed mid-load; nothing is lost and no batch stalls beyond the leader
#                 election (STALL_LIMIT_S, default 30 s).
#   rebalance     two `payorch run --no-connectors` in the writers' consumer group (not
#                 --assign): the second joins mid-load and takes partitions over, then the
#                 first is SIGKILLed and the second takes the rest; each move is a new
#                 WriterClaimed (fencing) and `payorch check` holds. A third instance runs
#                 the connectors (one simulated gateway, so one ledger).
#
#   faults_test.sh PAYORCH MODE [PORT]
# Each mode runs its own cluster (under a temporary directory) and removes it at the end.
# Prints "faults MODE: N passed, M failed" last.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PAYORCH=$1
MODE=$2
PORT=${3:-19492}
KAFKA="$ROOT/scripts/kafka.sh"
dir="$(mktemp -d /tmp/payorch-faults-XXXXXX)"
kdir="$dir/kafka"
prefix="faults."
pids=()
passes=0
failures=0
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  "$KAFKA" clean --dir "$kdir" >/dev/null 2>&1
  [[ $failures == 0 ]] && rm -rf "$dir"
}
trap cleanup EXIT
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi
}

brokers=1
[[ $MODE == replica-kill ]] && brokers=3
"$KAFKA" start --dir "$kdir" --brokers "$brokers" --port "$PORT" >/dev/null || exit 1
bootstrap="$(cat "$kdir/bootstrap")"
rf=$((brokers == 3 ? 3 : 1))
common=(--brokers "$bootstrap" --topic-prefix "$prefix" --partitions 4 --replication-factor "$rf"
        -X fetch.wait.max.ms=100 -X session.timeout.ms=6000)

run() {  # run NAME [extra flags]: a `payorch run` in the background; its pid in $run_pid
  local name=$1; shift
  "$PAYORCH" run "${common[@]}" --gateways '*=mock' --data-dir "$dir/$name" --writer-id "$name" \
    --log-level warn "$@" >>"$dir/$name.log" 2>&1 &
  run_pid=$!
  pids+=("$run_pid")
}

ledgers=(--ledger-dir "$dir/a/ledgers")
if [[ $MODE == rebalance ]]; then
  # Writers move between a and b; the connectors stay in c, so one simulated gateway
  # (one ledger, one idempotency-key table) answers every attempt, as one real PSP would.
  run c --no-writers
  run a --no-connectors; a_pid=$run_pid
  ledgers=(--ledger-dir "$dir/c/ledgers")
else
  run a --assign all; a_pid=$run_pid
fi
for _ in $(seq 1 150); do
  kcat -L -b "$bootstrap" -t "${prefix}payorch.deadletter" 2>/dev/null | grep -q 'partition 3' && break
  sleep 0.2
done

batches=20
per_batch=50
sent=0
max_batch_s=0
fault_at=6
for ((b = 0; b < batches; b++)); do
  if ((b == fault_at)); then
    case "$MODE" in
      restart) ("$KAFKA" stop --dir "$kdir" && sleep 2 && "$KAFKA" start --dir "$kdir") \
                 >"$dir/fault.log" 2>&1 & ;;
      replica-kill) "$KAFKA" stop --dir "$kdir" --node 2 --signal KILL >"$dir/fault.log" 2>&1 ;;
      rebalance) run b --no-connectors; b_pid=$run_pid ;;
    esac
  fi
  if [[ $MODE == rebalance ]] && ((b == 14)); then kill -KILL "$a_pid"; fi
  for ((i = 0; i < per_batch; i++)); do
    n=$((b * per_batch + i))
    printf '{"schemaVersion":1,"commandId":"c-%d","create":{"merchantId":"m_cobranded","idempotencyKey":"k-%d","amount":{"amountMinor":"%d","currency":"USD"},"method":"PAYMENT_METHOD_CARD","confirm":true}}\n' \
      "$n" "$n" $((1000 + n))
  done >"$dir/batch.jsonl"
  t0=$(date +%s.%N)
  # A client whose batch is not acknowledged (the broker is down) sends it again, as an
  # upstream service would; the repeats de-duplicate by idempotency key.
  for ((try = 1; try <= 60; try++)); do
    if "$PAYORCH" send "${common[@]}" --file "$dir/batch.jsonl" --timeout-ms 120000 >>"$dir/send.log" 2>&1; then
      sent=$((sent + per_batch))
      break
    fi
    echo "batch $b: not acknowledged (try $try); sending it again"
    sleep 1
  done
  dt=$(echo "$(date +%s.%N) - $t0" | bc)
  max_batch_s=$(echo "if ($dt > $max_batch_s) $dt else $max_batch_s" | bc)
  sleep 0.2
done
[[ $MODE == restart ]] && wait "$(jobs -p | tail -1)" 2>/dev/null

# Every acknowledged create becomes a succeeded payment; the log passes every check.
report=""
for _ in $(seq 1 60); do
  report="$("$PAYORCH" check "${common[@]}" "${ledgers[@]}" 2>&1)"
  grep -q "succeeded=$sent\b" <<<"$report" && grep -q "OK: no violations" <<<"$report" && break
  sleep 2
done
echo "$MODE: $sent commands acknowledged; slowest batch of $per_batch: ${max_batch_s}s"
echo "$report" | grep -E "^checked|payments by status|^OK|VIOLATION" | head -5
check "all $batches batches acknowledged" test "$sent" -eq $((batches * per_batch))
check "every acknowledged payment succeeded, once" grep -q "succeeded=$sent\b" <<<"$report"
check "payorch check: no violations" grep -q "OK: no violations" <<<"$report"
claims="$(grep -E '^checked ' <<<"$report" | grep -oE '[0-9]+ writer claims' | grep -oE '^[0-9]+')"  # the payments log's line
case "$MODE" in
  restart)
    check "the same payorch run reconnected by itself" kill -0 "$a_pid"
    check "the broker came back" "$KAFKA" status --dir "$kdir" ;;
  replica-kill)
    check "payorch run survived the broker's death" kill -0 "$a_pid"
    check "no batch stalled beyond ${STALL_LIMIT_S:-30} s" \
      test "$(echo "$max_batch_s < ${STALL_LIMIT_S:-30}" | bc)" -eq 1 ;;
  rebalance)
    check "the second instance runs" kill -0 "$b_pid"
    check "writers moved with new claims (${claims:-0} claims for 4 partitions)" test "${claims:-0}" -gt 4 ;;
esac
if [[ $failures != 0 ]]; then
  echo "$report" | tail -20
  for f in "$dir"/*.log; do echo "== $f"; tail -15 "$f"; done
fi
echo "faults $MODE: $passes passed, $failures failed"
[[ $failures == 0 ]]
