#!/usr/bin/env bash
# Observability end to end, through the binary: `payorch run --metrics` on a standalone
# broker; an idempotency mismatch and a malformed command go through the real runtime;
# /metrics is scraped over HTTP and passes `promtool check metrics`; /health answers; the
# retrospective report is built from the real violations on payorch.contracts and exits 1
# only when external complaints diverge; every metric the alerts and the dashboard use exists.
# Usage: observability_cli_test.sh PATH_TO_PAYORCH DEPLOY_DIR
set -uo pipefail
payorch=$1
deploy=$2
source "$(dirname "$0")/../support/cli_lib.sh"

"$payorch" run --metrics nonsense 2>"$dir/err"; rc=$?
check "bad --metrics exits 2" test "$rc" -eq 2
check "bad --metrics names the flag" grep -q -- '--metrics' "$dir/err"
"$payorch" run --log-format xml 2>"$dir/err"; rc=$?
check "bad --log-format exits 2" test "$rc" -eq 2
"$payorch" retrospective --since yesterday --brokers 127.0.0.1:1 2>"$dir/err"; rc=$?
check "bad --since exits 2" test "$rc" -eq 2

"$payorch" broker --partitions 2 --bootstrap-file "$dir/bootstrap" >"$dir/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
"$payorch" run --bootstrap-file "$dir/bootstrap" --data-dir "$dir/data" --assign all \
  --metrics 127.0.0.1:0 --log-format json --log-level info >"$dir/run.out" 2>"$dir/run.log" &
run_pid=$!
pids+=($run_pid)
port=""
for _ in $(seq 100); do
  port=$(sed -n 's#^metrics at http://127.0.0.1:\([0-9]*\)/metrics$#\1#p' "$dir/run.out")
  [ -n "$port" ] && break
  sleep 0.1
done
check "run prints its metrics address" test -n "$port"
url="http://127.0.0.1:$port"
check "/health/live answers 200" curl -sf "$url/health/live" -o /dev/null
ready=0
for _ in $(seq 100); do
  curl -sf "$url/health/ready" -o "$dir/ready.json" && { ready=1; break; }
  sleep 0.1
done
check "/health/ready turns 200 once partitions are restored" test "$ready" -eq 1
check "readiness reports the broker and the writers" \
  bash -c "grep -q '\"broker\"' '$dir/ready.json' && grep -q '\"writers\"' '$dir/ready.json'"

# o-1 twice with different amounts: an idempotency mismatch; o-3 with a negative amount:
# a malformed request.
cat >"$dir/commands.jsonl" <<'JSON'
{"schemaVersion":1,"commandId":"c1","create":{"merchantId":"m_cobranded","idempotencyKey":"o-1","amount":{"amountMinor":"2500","currency":"usd"},"method":"PAYMENT_METHOD_CARD","confirm":true}}
{"schemaVersion":1,"commandId":"c2","create":{"merchantId":"m_cobranded","idempotencyKey":"o-1","amount":{"amountMinor":"9999","currency":"usd"},"method":"PAYMENT_METHOD_CARD","confirm":true}}
{"schemaVersion":1,"commandId":"c3","create":{"merchantId":"m_cobranded","idempotencyKey":"o-3","amount":{"amountMinor":"-5","currency":"usd"},"method":"PAYMENT_METHOD_CARD","confirm":true}}
JSON
"$payorch" send --bootstrap-file "$dir/bootstrap" --file "$dir/commands.jsonl" >/dev/null 2>&1
for _ in $(seq 100); do
  curl -sf "$url/metrics" -o "$dir/metrics.txt"
  grep -q 'payorch_payments_total{outcome="succeeded"' "$dir/metrics.txt" &&
    grep -q 'contract="request/malformed"' "$dir/metrics.txt" && break
  sleep 0.1
done
check "metrics pass promtool check metrics" bash -c "promtool check metrics <'$dir/metrics.txt'"
check "the completed payment is counted" \
  grep -q 'payorch_payments_total{outcome="succeeded",method="CARD",error_code="NONE"} 1' \
  "$dir/metrics.txt"
check "the idempotency mismatch is a violation metric" \
  grep -q 'payorch_contract_violations_total{contract="idempotency/mismatch"} 1' "$dir/metrics.txt"
check "the malformed command is a violation metric" \
  grep -q 'payorch_contract_violations_total{contract="request/malformed"} 1' "$dir/metrics.txt"
check "rejections are counted by reason" \
  grep -q 'payorch_rejected_commands_total{reason="IDEMPOTENCY_MISMATCH"} 1' "$dir/metrics.txt"
check "create-to-final latency was observed" \
  grep -q '^payorch_create_to_final_event_seconds_count 1$' "$dir/metrics.txt"
check "consumer lag is reported per group and partition" \
  grep -q 'payorch_consumer_lag_records{group="payorch.writers",partition="0"}' "$dir/metrics.txt"

# Every metric the alert rules and the dashboard name is exposed.
for name in $(grep -oh 'payorch_[a-z_]*' "$deploy/prometheus/alerts.yml" \
  "$deploy/grafana/payorch.json" | sed -E 's/_(bucket|count|sum)$//' | sort -u); do
  check "exposed: $name (used by deploy/)" grep -q "^# TYPE $name " "$dir/metrics.txt"
done

# Logs: JSON lines carrying partition and epoch.
check "logs are JSON lines" bash -c "head -1 '$dir/run.log' | grep -q '^{\"ts\":'"
check "writer log lines carry partition and epoch" \
  grep -q '"partition":[0-9]*,"epoch":[0-9]*' "$dir/run.log"

# The retrospective, from the violations on payorch.contracts.
printf 'external_reports:\n  idempotency/mismatch: 1\n  request/malformed: 1\n' >"$dir/agree.yaml"
"$payorch" retrospective --bootstrap-file "$dir/bootstrap" --since 1h --external "$dir/agree.yaml" \
  --out "$dir/report.yaml" 2>"$dir/retro.err"; rc=$?
check "retrospective exits 0 when complaints match" test "$rc" -eq 0
check "report counts the idempotency mismatch" \
  bash -c "grep -A3 'id: idempotency/mismatch' '$dir/report.yaml' | grep -q 'count: 1'"
check "report counts the malformed request" \
  bash -c "grep -A3 'id: request/malformed' '$dir/report.yaml' | grep -q 'count: 1'"
printf 'complaints:\n  - {contract_id: plan/coverage, merchant_id: m1}\n' >"$dir/diverge.yaml"
"$payorch" retrospective --bootstrap-file "$dir/bootstrap" --since 1h \
  --external "$dir/diverge.yaml" >"$dir/report2.yaml" 2>"$dir/retro2.err"; rc=$?
check "retrospective exits 1 when they diverge" test "$rc" -eq 1
check "diverging contract is marked" \
  bash -c "grep -A4 'id: plan/coverage' '$dir/report2.yaml' | grep -q 'mismatch: true'"
"$payorch" retrospective --bootstrap-file "$dir/bootstrap" --since 2000-01-01T00:00:00Z \
  --until 2000-01-02T00:00:00Z >"$dir/report3.yaml" 2>&1; rc=$?
check "an empty window counts nothing" \
  bash -c "test $rc -eq 0 && grep -q 'total_violations: 0' '$dir/report3.yaml'"

# A second process given the same partitions claims them with a higher epoch: the first,
# fenced, decides nothing there any more and must say so on /health/ready.
"$payorch" run --bootstrap-file "$dir/bootstrap" --data-dir "$dir/data2" --assign all \
  --no-connectors --log-level warn >"$dir/run2.out" 2>"$dir/run2.log" &
run2_pid=$!
pids+=($run2_pid)
for _ in $(seq 100); do
  grep -q "claimed the partition" "$dir/run2.out" "$dir/run2.log" 2>/dev/null && break
  # The first writer learns of the newer claim when it next decides a command.
  printf '{"schemaVersion":1,"commandId":"f%s","create":{"merchantId":"m_cobranded","idempotencyKey":"f%s","amount":{"amountMinor":"100","currency":"usd"},"method":"PAYMENT_METHOD_CARD"}}\n' \
    "$RANDOM" "$RANDOM" >"$dir/fence.jsonl"
  "$payorch" send --bootstrap-file "$dir/bootstrap" --file "$dir/fence.jsonl" >/dev/null 2>&1
  curl -s "$url/health/ready" -o "$dir/ready2.json" -w '%{http_code}' | grep -q 503 && break
  sleep 0.2
done
for _ in $(seq 50); do
  curl -s "$url/health/ready" -o "$dir/ready2.json" -w '%{http_code}' | grep -q 503 && break
  "$payorch" send --bootstrap-file "$dir/bootstrap" --file "$dir/fence.jsonl" >/dev/null 2>&1
  sleep 0.2
done
check "a fenced writer's process is not ready" grep -q 'partitions fenced' "$dir/ready2.json"
kill -TERM "$run2_pid"
wait "$run2_pid"

kill -TERM "$run_pid"
wait "$run_pid"; rc=$?
check "run with --metrics drains and exits 0" test "$rc" -eq 0

echo "observability_cli_test: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
