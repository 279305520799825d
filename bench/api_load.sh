#!/usr/bin/env bash
# Load test of the merchant API: wrk drives POST /v1/payments (unique Idempotency-Keys,
# bench/api_load.lua) against `payorch run --http --merchant-api` on a `payorch broker`.
#
#   bench/api_load.sh [BUILD_DIR] [DURATION_S] [CONNECTIONS]
#   PAYORCH_CONFIRM=1 bench/api_load.sh     # confirm each payment (mock gateway) too
#   API_PRELOAD=/path/lib.so ...            # LD_PRELOAD for `payorch run` (experiments,
#                                           # e.g. a shim setting TCP_NODELAY on accept)
#   KEEP_LOG=/tmp/run.log ...               # keep the orchestrator's log
#   REPEAT=4 ...                            # 4 measured windows of DURATION_S in a row on
#                                           # the same broker and orchestrator (how the
#                                           # figures move as the log grows)
#   BROKER=kfake ...                        # franz-go's Kafka fake (bench/kfake) instead
#                                           # of `payorch broker`: its fetch cost does not
#                                           # grow with the log
#   BROKERS=127.0.0.1:9092 ...              # a running Kafka (e.g. `make kafka`) instead
#                                           # of `payorch broker` (fresh topics per run);
#                                           # BROKER_PID=... the process to measure if it
#                                           # is not the Kafka JVM
#   RUN_ARGS="-X k=v" ...                   # more flags for `payorch run`
#   PARTITIONS=2 ...                        # partitions of each topic on `payorch broker`
#                                           # (default 4)
#   SEND_COMPARE=50000 ...                  # then append that many creates with `payorch
#                                           # send` to the same run and print the creates
#                                           # decided per second (the API's yardstick), and
#                                           # per second until the projection read them all
#
# Prints wrk's figures (requests/s, p50/p90/p99), the load average, and the CPU time the
# orchestrator and the broker used per request during the run (user + system, from
# /proc: less sensitive than requests/s to other work on the machine). Results and method:
# docs/performance.md ("Merchant API").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
duration="${2:-20}"
connections="${3:-32}"
payorch="$build/payorch"
[[ -x "$payorch" ]] || { echo "api_load.sh: $payorch not built" >&2; exit 2; }
command -v wrk >/dev/null || { echo "api_load.sh: wrk not installed" >&2; exit 2; }
dir="$(mktemp -d /tmp/payorch-api-load.XXXXXX)"
pids=()
# shellcheck source=lib/procs.sh
source "$here/lib/procs.sh"
cleanup() {
  # The orchestrator first (it drains to the broker), then the broker.
  stop_pids "${pids[@]}"
  rm -rf "$dir"
}
trap cleanup EXIT
[[ -n "${KEEP_LOG:-}" ]] && trap "cp $dir/run.log $KEEP_LOG; cleanup" EXIT

run_flags=()
send_flags=()
if [[ "${BROKER:-}" == kfake ]]; then
  # franz-go's Kafka fake (bench/kfake), built once into .cache/ from the Go module proxy.
  kfake="$here/../.cache/bench/kfake/kfake"
  if [[ ! -x "$kfake" ]]; then
    gocache="$here/../.cache/bench/go"
    (cd "$here/kfake" && GOPATH="$gocache" GOMODCACHE="$gocache/mod" GOFLAGS=-modcacherw \
      GOTOOLCHAIN=local go build -o "$kfake" .) || { echo "api_load.sh: kfake build failed" >&2; exit 2; }
  fi
  "$kfake" >"$dir/kfake.addr" 2>"$dir/kfake.log" &
  pids+=($!)
  BROKER_PID=$!
  for _ in $(seq 100); do [[ -s "$dir/kfake.addr" ]] && break; sleep 0.1; done
  BROKERS="$(head -1 "$dir/kfake.addr")"
fi
if [[ -n "${BROKERS:-}" ]]; then
  # A real cluster: fresh topics for this run; its broker wakes long polls.
  bootstrap="$BROKERS"
  send_flags=(--topic-prefix "apiload$(date +%s%N).")
  run_flags=("${send_flags[@]}" -X fetch.wait.max.ms=100)
  printf '%s\n' "$bootstrap" >"$dir/bootstrap"
  broker_pid="${BROKER_PID:-$(pgrep -f 'kafka.Kafka' | head -1)}"
else
  "$payorch" broker --partitions "${PARTITIONS:-4}" --bootstrap-file "$dir/bootstrap" >"$dir/broker.log" 2>&1 &
  pids+=($!)
  broker_pid=$!
  for _ in $(seq 100); do [[ -s "$dir/bootstrap" ]] && break; sleep 0.1; done
  bootstrap="$(head -1 "$dir/bootstrap")"
fi
cat >"$dir/api.yaml" <<YAML
wait_ms: 2000
rate_limit: {per_second: 1000000, burst: 1000000}
YAML
LD_PRELOAD=${API_PRELOAD:-} "$payorch" run --brokers "$bootstrap" --data-dir "$dir/data" --assign all \
  --http 127.0.0.1:0 --merchant-api --api-config "$dir/api.yaml" --log-level warn \
  --metrics 127.0.0.1:0 "${run_flags[@]}" ${RUN_ARGS:-} \
  >"$dir/run.log" 2>&1 &
pids+=($!)
port="$(wait_for_api_port "$dir/run.log")"
[[ -n "$port" ]] || { echo "api_load.sh: the API did not start" >&2; cat "$dir/run.log" >&2; exit 1; }
key="$("$payorch" keys create --data "$dir/data" --merchant m_cobranded 2>/dev/null)"
# Warm-up: the key's first use pays for argon2id; the writers claim their partitions.
curl -s -o /dev/null -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/payments"
PAYORCH_KEY="$key" wrk -t2 -c"$connections" -d2s -s "$here/api_load.lua" \
  "http://127.0.0.1:$port" >/dev/null
# The warm-up's last requests (wrk leaves them unanswered when it stops) are answered within
# wait_ms; the measured run starts after them.
sleep 2.5
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, clock ticks
run_pid="${pids[${#pids[@]}-1]}"
for ((window = 1; window <= ${REPEAT:-1}; window++)); do
  [[ ${REPEAT:-1} -gt 1 ]] && echo "== window $window of ${REPEAT} (same broker and orchestrator)"
  run_cpu0="$(cpu_ticks "$run_pid")"
  broker_cpu0="$(cpu_ticks "$broker_pid")"
  PAYORCH_KEY="$key" wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$here/api_load.lua" \
    "http://127.0.0.1:$port" | tee "$dir/wrk.out"
  run_cpu1="$(cpu_ticks "$run_pid")"
  broker_cpu1="$(cpu_ticks "$broker_pid")"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  requests="$(awk '/requests in/{print $1}' "$dir/wrk.out")"
  awk -v r="$requests" -v a="$((run_cpu1 - run_cpu0))" -v b="$((broker_cpu1 - broker_cpu0))" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "cpu per request: payorch run %.0f us, broker %.0f us\n", 1e6 * a / hz / r, 1e6 * b / hz / r}'
done

# The same creates without HTTP: `payorch send` appends them to the commands topic, and the
# writers' payorch_commands_total says when all are decided.
if [[ -n "${SEND_COMPARE:-}" ]]; then
  n="$SEND_COMPARE"
  mport="$(sed -n 's#.*metrics at http://127.0.0.1:\([0-9]*\).*#\1#p' "$dir/run.log" | head -1)"
  decided() {
    curl -s "http://127.0.0.1:$mport/metrics" | awk '/^payorch_commands_total /{print $2}'
  }
  run_id="$(date +%s%N)"
  for ((i = 0; i < n; i++)); do
    printf '{"schemaVersion":1,"commandId":"send-%s-%d","create":{"merchantId":"m_cobranded","idempotencyKey":"send-%s-%d","amount":{"amountMinor":"%d","currency":"USD"},"method":"PAYMENT_METHOD_CARD"}}\n' \
      "$run_id" "$i" "$run_id" "$i" $((100 + i % 5000))
  done >"$dir/creates.jsonl"
  before="$(decided)"
  send_cpu0="$(cpu_ticks "$run_pid")"
  start="$(date +%s.%N)"
  "$payorch" send --bootstrap-file "$dir/bootstrap" "${send_flags[@]}" --file "$dir/creates.jsonl" >/dev/null
  target=$(awk -v b="$before" -v n="$n" 'BEGIN{printf "%d", b + n}')
  for _ in $(seq 1200); do
    [[ "$(awk -v d="$(decided)" -v t="$target" 'BEGIN{print (d >= t)}')" == 1 ]] && break
    sleep 0.05
  done
  end="$(date +%s.%N)"
  awk -v n="$n" -v s="$start" -v e="$end" -v d="$(decided)" -v t="$target" \
    'BEGIN{printf "payorch send: %d creates decided in %.2f s: %.0f creates/s%s\n", n, e - s, n / (e - s), (d >= t ? "" : " (NOT all decided)")}'
  # The same creates through the rest of the pipeline an API answer waits for: the
  # projection (which the API's follower observes) has read every event. Its lag is
  # refreshed every 200 ms, so it must read 0 twice, 300 ms apart.
  projection_lag() {
    curl -s "http://127.0.0.1:$mport/metrics" |
      awk '/^payorch_consumer_lag_records\{group="payorch.projection"/{s += $2} END {print s + 0}'
  }
  zeros=0
  for _ in $(seq 1200); do
    if [[ "$(projection_lag)" == 0 ]]; then zeros=$((zeros + 1)); else zeros=0; fi
    [[ $zeros -ge 2 ]] && break
    sleep 0.3
  done
  projected="$(date +%s.%N)"
  send_cpu1="$(cpu_ticks "$run_pid")"
  awk -v n="$n" -v s="$start" -v e="$projected" -v ok="$zeros" \
    'BEGIN{printf "payorch send: the same %d creates projected in %.2f s (less ~0.3 s of polling): %.0f creates/s%s\n", n, e - s, n / (e - s), (ok >= 2 ? "" : " (NOT all projected)")}'
  # What the orchestrator spends on a create without HTTP, to set against its CPU per API
  # request above (includes the ~0.3-0.6 s of polling at the end, idle work).
  awk -v n="$n" -v c="$((send_cpu1 - send_cpu0))" -v hz="$(getconf CLK_TCK)" \
    'BEGIN{printf "payorch send: payorch run %.0f us of CPU per create (write, project, feed webhooks)\n", 1e6 * c / hz / n}'
fi
