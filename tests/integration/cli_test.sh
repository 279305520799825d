#!/usr/bin/env bash
# The payorch binary as a person uses it: a standalone broker, `run`, `send` (with a bad
# line), `tail`, `check`, and one-line errors with exit code 2 for bad flags and files.
# Usage: cli_test.sh PATH_TO_PAYORCH
set -uo pipefail
payorch=$1
source "$(dirname "$0")/../support/cli_lib.sh"

# Bad usage: one line on stderr naming the problem, exit 2.
"$payorch" run --bogus 2>"$dir/err"; rc=$?
check "unknown flag exits 2" test "$rc" -eq 2
check "unknown flag names the flag in one line" \
  bash -c "[ \$(wc -l <'$dir/err') -eq 1 ] && grep -q -- '--bogus' '$dir/err'"
"$payorch" run --config /nonexistent/merchants.yaml 2>"$dir/err"; rc=$?
check "missing config exits 2" test "$rc" -eq 2
check "missing config names the file" grep -q '/nonexistent/merchants.yaml' "$dir/err"
printf 'merchants:\n  - merchant_id: m\n    profiles: []\n    bogus_field: 1\n' >"$dir/bad.yaml"
"$payorch" demo --config "$dir/bad.yaml" 2>"$dir/err"; rc=$?
check "bad config exits 2" test "$rc" -eq 2
check "bad config names the field" grep -q 'bogus_field' "$dir/err"
"$payorch" keys create --data "$dir/keys" --merchant m_nobody 2>"$dir/err" >"$dir/out"; rc=$?
check "a key for an unconfigured merchant is refused with exit 2" test "$rc" -eq 2
check "the refusal is one line naming the merchant" \
  bash -c "[ \$(wc -l <'$dir/err') -eq 1 ] && grep -q m_nobody '$dir/err' && [ ! -s '$dir/out' ]"
"$payorch" keys create --data "$dir/keys" --merchant m_cobranded >"$dir/out" 2>/dev/null; rc=$?
check "a key for a configured merchant is created" bash -c "[ $rc -eq 0 ] && grep -q '^pk_' '$dir/out'"
"$payorch" nosuchcommand 2>/dev/null; rc=$?
check "unknown command exits 2" test "$rc" -eq 2
"$payorch" --help | grep -q 'check' || check "help lists commands" false

# A standalone broker and the orchestrator.
"$payorch" broker --partitions 2 --bootstrap-file "$dir/bootstrap" >"$dir/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
check "broker wrote its bootstrap file" test -s "$dir/bootstrap"
"$payorch" run --bootstrap-file "$dir/bootstrap" --data-dir "$dir/data" --assign all \
  --log-level warn >"$dir/run.log" 2>&1 &
run_pid=$!
pids+=($run_pid)

cat >"$dir/commands.jsonl" <<'JSON'
{"schemaVersion":1,"commandId":"c1","create":{"merchantId":"m_cobranded","idempotencyKey":"o-1","amount":{"amountMinor":"2500","currency":"usd"},"method":"PAYMENT_METHOD_CARD","confirm":true}}
{"this is": not json
{"schemaVersion":1,"commandId":"c2","create":{"merchantId":"m_jpy","idempotencyKey":"o-2","amount":{"amountMinor":"1200","currency":"JPY"},"confirm":true}}
JSON
"$payorch" send --bootstrap-file "$dir/bootstrap" --file "$dir/commands.jsonl" \
  >"$dir/send.out" 2>"$dir/send.err"; rc=$?
check "send exits 1 when a line is bad" test "$rc" -eq 1
check "send names the bad line" grep -q 'line 2' "$dir/send.err"

# Both payments complete: PaymentCompleted twice in the events topic.
completed=0
for _ in $(seq 150); do
  completed=$("$payorch" tail --bootstrap-file "$dir/bootstrap" --from-beginning 2>/dev/null |
    grep -c '"payment_completed"')
  [ "$completed" -ge 2 ] && break
  sleep 0.2
done
check "both payments completed (tail shows PaymentCompleted twice)" test "$completed" -ge 2

kill -TERM "$run_pid"
wait "$run_pid"; rc=$?
check "run drains and exits 0 on SIGTERM" test "$rc" -eq 0
"$payorch" check --bootstrap-file "$dir/bootstrap" --ledger-dir "$dir/data/ledgers" >"$dir/check.out"
rc=$?
check "check finds no violation" test "$rc" -eq 0
check "check says what it verified" grep -q 'no double charge' "$dir/check.out"
check "check reports settling" grep -q '^unsettled payments: 0' "$dir/check.out"
"$payorch" check --bootstrap-file "$dir/bootstrap" --ledger-dir "$dir/data/ledgers" \
  --settle-within 1ms >"$dir/check.out"; rc=$?
check "check --settle-within 1ms passes once every payment settled" test "$rc" -eq 0
"$payorch" check --bootstrap-file "$dir/bootstrap" --settle-within soon 2>"$dir/err"; rc=$?
check "check --settle-within with a bad duration exits 2" test "$rc" -eq 2
check "a bad duration is one line naming the flag" \
  bash -c "[ \$(wc -l <'$dir/err') -eq 1 ] && grep -q -- '--settle-within' '$dir/err'"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
