#!/usr/bin/env bash
# The merchant API while its log stalls: the embedded broker is stopped (SIGSTOP) while
# wrk keeps CONNECTIONS connections of POST /v1/payments waiting on it, and a client reads
# an existing payment (GET /v1/payments/{id}) every 100 ms. Prints the GETs' statuses and
# times, and the POSTs' answers. POSTs that append a command answer asynchronously, so the
# waiting POSTs hold no HTTP worker and the GETs keep being answered (docs/http.md,
# "Threads"; figures in docs/reliability.md, "A stalled log").
#
#   bench/stalled_log.sh [BUILD_DIR] [CONNECTIONS] [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
connections="${2:-200}"
seconds="${3:-6}"
payorch="$build/payorch"
# shellcheck source=lib/procs.sh
source "$here/lib/procs.sh"
bench_prepare stalled_log.sh "$payorch"
start_merchant_api "$payorch" "$dir" "wait_ms: 2000
append_timeout_ms: 5000
rate_limit: {per_second: 1000000, burst: 1000000}"
id="$(curl -s -m 10 -X POST -H "Authorization: Bearer $key" -H "Idempotency-Key: stall-0" \
  -H 'Content-Type: application/json' -d '{"amount":100,"currency":"USD","payment_method":"card"}' \
  "$api/v1/payments" | sed -n 's/.*"id":"\(pay_[^"]*\)".*/\1/p' | head -1)"
[[ -n "$id" ]] || { echo "stalled_log.sh: the first payment was not created" >&2; exit 1; }
kill -STOP "$broker_pid"
echo "broker stopped; $connections connections of POSTs for ${seconds}s; a GET every 100 ms"
PAYORCH_KEY="$key" wrk -t2 -c"$connections" -d"${seconds}s" --timeout 15s -s "$here/api_load.lua" \
  "$api" >"$dir/wrk.out" 2>&1 &
wrk_pid=$!
sleep 1
probe_gets "$api/v1/payments/$id" $((seconds - 2)) GET
wait "$wrk_pid" || true
kill -CONT "$broker_pid"
grep -E "requests/s|status|non-2xx" "$dir/wrk.out" || true
