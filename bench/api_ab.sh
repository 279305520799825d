#!/usr/bin/env bash
# A/B of two builds' merchant API throughput on this machine: alternates
# `bench/api_load.sh DIR SECONDS CONNECTIONS` between the two payorch binaries PAIRS times
# (A, B, A, B, ...) and prints each run, then the means of requests/s and of `payorch run`
# CPU per request. This VM's single runs vary by ±15 %; alternating runs and comparing
# means (and CPU per request, which varies less) is how docs/performance.md compares builds.
#
#   bench/api_ab.sh DIR_A DIR_B [PAIRS] [SECONDS] [CONNECTIONS]
#   RUN_ARGS=... and the other api_load.sh variables apply to both builds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[[ $# -ge 2 ]] || { echo "usage: api_ab.sh DIR_A DIR_B [PAIRS] [SECONDS] [CONNECTIONS]" >&2; exit 2; }
a="$1" b="$2" pairs="${3:-3}" seconds="${4:-15}" connections="${5:-64}"
for dir in "$a" "$b"; do
  [[ -x "$dir/payorch" ]] || { echo "api_ab.sh: $dir/payorch not built" >&2; exit 2; }
done
out="$(mktemp /tmp/payorch-api-ab.XXXXXX)"
trap 'rm -f "$out"' EXIT
for ((i = 1; i <= pairs; i++)); do
  for side in A B; do
    dir="$a"; [[ $side == B ]] && dir="$b"
    r="$("$here/api_load.sh" "$dir" "$seconds" "$connections" 2>&1 |
      awk '/^requests\/s/ {rps = $2} /^latency p50/ {p99 = $9} /^cpu per request/ {cpu = $6}
           END {print rps, p99, cpu}')"
    echo "$side $r" | tee -a "$out" | awk '{printf "%s %s requests/s, p99 %s ms, run %s us/request\n", $1, $2, $3, $4}'
  done
done
awk '{n[$1]++; r[$1] += $2; c[$1] += $4}
     END {for (s in n) printf "%s mean: %.0f requests/s, run %.0f us/request (%d runs)\n", s, r[s]/n[s], c[s]/n[s], n[s]}' \
  "$out" | sort
