#!/usr/bin/env bash
# Hostile HTTP clients against every HTTP port of `payorch run --merchant-api --webhooks
# --metrics` and of `payorch gateway-sim` (bench/http_attack.py: silent and slowloris
# connections, a 100 MB chunked body, 1,000 and 1,000,000 headers, a gzip bomb; RSS after
# each), then the merchant API under wrk load (64 connections of POST /v1/payments) while
# half silent, half slowloris connections are held on the same port and /health/ready is
# probed on the API and metrics ports. Loopback only; every loop bounded. Figures:
# docs/reliability.md, "HTTP attacks".
#
#   bench/http_attack.sh [BUILD_DIR] [CONNECTIONS] [LOAD_SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
connections="${2:-500}"
seconds="${3:-20}"
payorch="$build/payorch"
# shellcheck source=lib/procs.sh
source "$here/lib/procs.sh"
bench_prepare http_attack.sh "$payorch"
export PAYORCH_ATTACK_WHSEC=whsec_attack
start_merchant_api "$payorch" "$dir" "wait_ms: 2000
rate_limit: {per_second: 1000000, burst: 1000000}" --metrics 127.0.0.1:0 \
  --webhooks 127.0.0.1:0 --webhook-secrets stripe=PAYORCH_ATTACK_WHSEC
run_pid="${pids[${#pids[@]}-1]}"
mport="$(sed -n 's#.*metrics at http://127.0.0.1:\([0-9]*\).*#\1#p' "$dir/run.log" | head -1)"
wport="$(sed -n 's#.*webhooks at http://127.0.0.1:\([0-9]*\).*#\1#p' "$dir/run.log" | head -1)"
"$payorch" gateway-sim --listen 127.0.0.1:0 --port-file "$dir/sim.port" >"$dir/sim.log" 2>&1 &
pids+=($!)
sim_pid=$!
for _ in $(seq 100); do [[ -s "$dir/sim.port" ]] && break; sleep 0.1; done
curl -s -o /dev/null -m 10 -H "Authorization: Bearer $key" "$api/v1/payments" || true
attack=(python3 "$here/http_attack.py" --connections "$connections")
echo "== merchant API port (probe: a keyed GET /v1/payments; /health/ready on --metrics)"
"${attack[@]}" --port "$port" --pid "$run_pid" --metrics "$mport" --probe "GET /v1/payments" \
  --header "Authorization: Bearer $key"
echo "== inbound webhook port (probe: an unsigned POST, answered 401)"
"${attack[@]}" --port "$wport" --pid "$run_pid" --metrics "$mport" \
  --probe "POST /v1/webhooks/stripe" --header "Content-Length: 0" --path /v1/webhooks/stripe
echo "== gateway-sim (probe: GET /v1/audit)"
"${attack[@]}" --port "$(head -1 "$dir/sim.port")" --pid "$sim_pid" --probe "GET /v1/audit" \
  --path /v1/charges
echo "== merchant API under load: wrk 64 connections for ${seconds}s, and on the same port"
PAYORCH_KEY="$key" wrk -t2 -c64 -d"${seconds}s" --latency -s "$here/api_load.lua" "$api" \
  >"$dir/wrk.out" 2>&1 &
wrk_pid=$!
sleep 1
"${attack[@]}" --under-load --hold "$((seconds - 3))" --port "$port" --pid "$run_pid" \
  --metrics "$mport" --probe "GET /health/ready"
wait "$wrk_pid" || true
grep -E "^requests/s|^latency|^status|non-2xx" "$dir/wrk.out"
