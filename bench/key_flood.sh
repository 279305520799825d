#!/usr/bin/env bash
# The merchant API under a flood of unknown API keys: wrk keeps CONNECTIONS connections of
# GET /v1/payments with a fresh, well-formed but unknown key per request (each one an
# argon2id verification, ~30 ms of CPU), while a client with a verified (cached) key reads
# GET /v1/payments every 100 ms. Prints the cached key's statuses and times and the flood's
# answers. Verifications run on the key verifier's own threads behind a bounded queue, so
# the flood holds no HTTP worker (docs/http.md, "Threads"; figures in docs/reliability.md,
# "A flood of unknown keys").
#
#   bench/key_flood.sh [BUILD_DIR] [CONNECTIONS] [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
connections="${2:-150}"
seconds="${3:-8}"
payorch="$build/payorch"
# shellcheck source=lib/procs.sh
source "$here/lib/procs.sh"
bench_prepare key_flood.sh "$payorch"
start_merchant_api "$payorch" "$dir" "wait_ms: 2000
rate_limit: {per_second: 1000000, burst: 1000000}"
curl -s -o /dev/null -m 10 -H "Authorization: Bearer $key" "$api/v1/payments" || true  # verified, cached
echo "$connections connections of unknown keys for ${seconds}s; a cached key's GET every 100 ms"
wrk -t2 -c"$connections" -d"${seconds}s" --timeout 15s -s "$here/key_flood.lua" \
  "$api" >"$dir/wrk.out" 2>&1 &
wrk_pid=$!
sleep 1
probe_gets "$api/v1/payments" $((seconds - 2)) "cached key GET"
wait "$wrk_pid" || true
grep -E "flood status" "$dir/wrk.out" || true
