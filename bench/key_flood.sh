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
: >"$dir/gets"
for _ in $(seq $(((seconds - 2) * 10))); do
  curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}\n' \
    -H "Authorization: Bearer $key" "$api/v1/payments" >>"$dir/gets" || echo "000 10" >>"$dir/gets"
  sleep 0.1
done
wait "$wrk_pid" || true
echo "cached key GET statuses: $(cut -d' ' -f1 "$dir/gets" | sort | uniq -c | tr '\n' ' ')"
sort -n -k2 "$dir/gets" | awk '{t[NR]=$2} END {printf "cached key GET time: p50 %.1f ms, max %.1f ms (%d GETs)\n", t[int(NR/2)+1]*1000, t[NR]*1000, NR}'
grep -E "flood status" "$dir/wrk.out" || true
