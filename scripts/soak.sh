#!/usr/bin/env bash
# Soak test (docs/reliability.md): steady load for MINUTES minutes against separate
# processes, as in production: `payorch broker`, `payorch run` and a steady sender (a
# generator writing RATE creates a second into one long-lived `payorch send`).
# Every minute it prints the payments finished, the commands decided and the resident
# memory (VmRSS) of the `payorch run` process; at the end it waits for the load to drain,
# runs `payorch check` over the whole log and the gateway ledgers, and exits 1 on any
# violation, on a dead process, or when RSS grew more than MAX_GROWTH_PCT from minute
# WARM to the end (memory must stay flat once the state cache is full).
#
#   scripts/soak.sh [--payorch build/payorch] [--minutes 10] [--rate 200] [--dir DIR]
#                   [--partitions 4] [--gateway-sim]
#
# The embedded broker (librdkafka's mock cluster) keeps only the newest ~5 MB of each
# partition, so `payorch check` can judge the whole run only while the log fits: about
# 60,000 payments on 4 partitions. For longer runs pass more partitions (30 min at 200/s:
# --partitions 64); the script refuses a check over a trimmed log instead of reporting it.
#   make soak MINUTES=30 RATE=200
set -euo pipefail

PAYORCH=${PAYORCH:-build/payorch}
MINUTES=${MINUTES:-10}
RATE=${RATE:-200}
DIR=${DIR:-}
PARTITIONS=${PARTITIONS:-4}
# Payment states the writers keep in memory (all partitions together): small enough that
# the cache is full after the first minutes, so the rest shows whether anything else grows.
CACHE=${CACHE:-10000}
# Minutes of warm-up before growth is judged. At 200/s RSS rises until about minute 10, as
# bounded structures fill (RocksDB's memtables and block cache, the connectors' sequence
# window, glibc's arenas), and is level after it: +8% from minute 3 to 10 and +2-4% from
# minute 10 to 30 in session 4's 30-minute runs (docs/reliability.md, Soak).
WARM=${WARM:-10}
MAX_GROWTH_PCT=${MAX_GROWTH_PCT:-10}
GATEWAYS=${GATEWAYS:-"flaky_psp=flaky:seed=7,decline=0.1;*=mock"}
# --gateway-sim: the processors are a separate `payorch gateway-sim` over HTTP instead of
# in-process simulated gateways, whose idempotency records (like a real processor's
# database) grow with every payment and would hide the orchestrator's own memory.
GATEWAY_SIM=${GATEWAY_SIM:-0}
# Worker threads of that `payorch gateway-sim` (its default is 4: idle connections and held
# answers hold none). 64 was needed with cpp-httplib, which held a thread per kept-alive
# connection; kept so that soak figures stay comparable with earlier runs.
SIM_THREADS=${SIM_THREADS:-64}

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --payorch) PAYORCH=$2; shift 2 ;;
    --minutes) MINUTES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --partitions) PARTITIONS=$2; shift 2 ;;
    --gateway-sim) GATEWAY_SIM=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "soak.sh: unknown flag '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$MINUTES" =~ ^[0-9]+$ && "$MINUTES" -ge 1 ]] || { echo "soak.sh: --minutes must be >= 1" >&2; exit 2; }
[[ "$RATE" =~ ^[0-9]+$ && "$RATE" -ge 1 ]] || { echo "soak.sh: --rate must be >= 1" >&2; exit 2; }
[[ -x "$PAYORCH" ]] || { echo "soak.sh: no payorch binary at '$PAYORCH'" >&2; exit 2; }
(( WARM < MINUTES )) || WARM=0  # too short to judge growth
[[ -n "$DIR" ]] || DIR=$(mktemp -d /tmp/payorch-soak.XXXXXX)
mkdir -p "$DIR"
rm -rf "$DIR/data" "$DIR/sim" "$DIR/bootstrap" "$DIR/sim.port" "$DIR/sent"

pids=()
cleanup() {  # TERM everything started here; KILL what is still there 10 s later
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local left=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
    (( left )) || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
alive() { kill -0 "$1" 2>/dev/null; }
# Sum of every sample of one metric family on /metrics (all label sets).
metric() {
  curl -sf "$METRICS/metrics" | awk -v m="$1" \
    '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.0f\n", s}'
}

"$PAYORCH" broker --partitions "$PARTITIONS" --bootstrap-file "$DIR/bootstrap" \
  >"$DIR/broker.log" 2>&1 &
BROKER=$!; pids+=("$BROKER")
for _ in $(seq 100); do [[ -s "$DIR/bootstrap" ]] && break; sleep 0.1; done
[[ -s "$DIR/bootstrap" ]] || { echo "soak: broker did not start ($DIR/broker.log)" >&2; exit 1; }

LEDGERS="$DIR/data/ledgers"
SIM=""
if [[ "$GATEWAY_SIM" == 1 ]]; then
  LEDGERS="$DIR/sim"; mkdir -p "$LEDGERS"
  "$PAYORCH" gateway-sim --listen 127.0.0.1:0 --port-file "$DIR/sim.port" --spec mock \
    --threads "$SIM_THREADS" --ledger "$LEDGERS/sim.ledger" >"$DIR/sim.log" 2>&1 &
  SIM=$!; pids+=("$SIM")
  for _ in $(seq 100); do [[ -s "$DIR/sim.port" ]] && break; sleep 0.1; done
  [[ -s "$DIR/sim.port" ]] || { echo "soak: gateway-sim did not start ($DIR/sim.log)" >&2; exit 1; }
  url="http://127.0.0.1:$(cat "$DIR/sim.port")"  # every processor of the demo merchants
  GATEWAYS="cobranded_card=$url;stripe=$url;applepay=$url;adyen=$url;flaky_psp=$url"
fi

"$PAYORCH" run --bootstrap-file "$DIR/bootstrap" --partitions "$PARTITIONS" \
  --data-dir "$DIR/data" --max-cached-payments "$CACHE" --gateways "$GATEWAYS" \
  --metrics 127.0.0.1:0 --log-level warn >"$DIR/run.log" 2>&1 &
RUN=$!; pids+=("$RUN")
METRICS=""
for _ in $(seq 300); do
  METRICS=$(grep -o 'metrics at http://[0-9.:]*' "$DIR/run.log" | head -1 | cut -d' ' -f3 || true)
  [[ -n "$METRICS" ]] && break
  alive "$RUN" || break
  sleep 0.1
done
[[ -n "$METRICS" ]] || { echo "soak: payorch run did not start ($DIR/run.log)" >&2; exit 1; }
for _ in $(seq 300); do
  [[ "$(metric payorch_writer_partitions)" -ge "$PARTITIONS" ]] && break
  sleep 0.1
done

# The sender: RATE creates a second (open loop, paced by the wall clock) over the demo
# merchants; 2% repeat an earlier idempotency key (de-duplicated, no second payment).
python3 - "$RATE" "$MINUTES" "$DIR/sent" <<'EOF' | "$PAYORCH" send --bootstrap-file "$DIR/bootstrap" \
  --partitions "$PARTITIONS" >"$DIR/send.log" 2>&1 &
import json, os, random, sys, time
rate, minutes, counter = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def publish(n):  # the count sent so far, replaced atomically for the reporting loop
    with open(counter + ".tmp", "w") as f:
        f.write("%d\n" % n)
    os.replace(counter + ".tmp", counter)


mix = [("m_cobranded", "USD", "PAYMENT_METHOD_CARD", 2500),
       ("m_wallet", "USD", "PAYMENT_METHOD_APPLE_PAY", 7500),
       ("m_wallet", "EUR", "PAYMENT_METHOD_CARD", 1999),
       ("m_flaky", "USD", "PAYMENT_METHOD_CARD", 4200),
       ("m_jpy", "JPY", "PAYMENT_METHOD_CARD", 1200)]
rng = random.Random(1)
start, sent, end = time.monotonic(), 0, time.monotonic() + 60 * minutes
while True:
    now = time.monotonic()
    if now >= end:
        break
    due = int((now - start) * rate)
    while sent < due:
        n = rng.randrange(sent) if sent > 100 and rng.random() < 0.02 else sent
        merchant, currency, method, amount = mix[n % len(mix)]
        cmd = {"schemaVersion": 1, "create": {
            "merchantId": merchant, "idempotencyKey": "soak-%d" % n,
            "amount": {"amountMinor": str(amount), "currency": currency},
            "method": method, "confirm": True}}
        sys.stdout.write(json.dumps(cmd, separators=(",", ":")) + "\n")
        sent += 1
    sys.stdout.flush()
    publish(sent)
    time.sleep(0.02)
publish(sent)
EOF
SENDER=$!; pids+=("$SENDER")

rss_start=$(rss_kb "$RUN")
echo "soak: $MINUTES min at $RATE creates/s, $PARTITIONS partitions, cache $CACHE payments," \
  "gateways $GATEWAYS; dir $DIR"
echo "soak: payorch run pid $RUN, RSS at start ${rss_start} kB"
# The simulated processors' memory is theirs (every operation ever seen, like a
# processor's database): with --gateway-sim it is reported apart, in "sim RSS".
printf '%6s %10s %12s %10s %12s %10s %12s %12s\n' minute sent payments/s commands/s "run RSS kB" lag \
  "broker RSS" "sim RSS"
prev_pay=0; prev_cmd=0; rss_warm=$rss_start; t0=$(date +%s)
declare -a rss_series
for ((m = 1; m <= MINUTES; m++)); do
  while (( $(date +%s) < t0 + 60 * m )); do
    alive "$RUN" || { echo "soak: payorch run died (see $DIR/run.log)" >&2; exit 1; }
    sleep 1
  done
  pay=$(metric payorch_payments_total); cmd=$(metric payorch_commands_total)
  lag=$(metric payorch_consumer_lag_records); rss=$(rss_kb "$RUN")
  rss_series+=("$rss")
  (( m == WARM )) && rss_warm=$rss
  printf '%6d %10s %12.1f %10.1f %12s %10s %12s %12s\n' "$m" "$(cat "$DIR/sent" 2>/dev/null || echo 0)" \
    "$(awk -v a="$pay" -v b="$prev_pay" 'BEGIN {print (a - b) / 60}')" \
    "$(awk -v a="$cmd" -v b="$prev_cmd" 'BEGIN {print (a - b) / 60}')" \
    "$rss" "$lag" "$(rss_kb "$BROKER")" "$([[ -n "$SIM" ]] && rss_kb "$SIM" || echo -)"
  prev_pay=$pay; prev_cmd=$cmd
done

wait "$SENDER" || { echo "soak: payorch send failed (see $DIR/send.log)" >&2; exit 1; }
sent=$(cat "$DIR/sent")
# Drain: nothing lagging, nothing in the outbox, nothing processing, for 3 s in a row.
quiet=0
for _ in $(seq 180); do
  if [[ "$(metric payorch_consumer_lag_records)" == 0 && "$(metric payorch_outbox_depth)" == 0 &&
        "$(metric payorch_processing_payments)" == 0 ]]; then
    quiet=$((quiet + 1)); (( quiet >= 3 )) && break
  else
    quiet=0
  fi
  sleep 1
done
rss_end=$(rss_kb "$RUN")
pay=$(metric payorch_payments_total)
echo "soak: sent $sent creates; $pay payments finished; RSS start ${rss_start} kB," \
  "minute $WARM ${rss_warm} kB, end ${rss_end} kB"
kill -TERM "$RUN"; wait "$RUN" || true
status=0
if "$PAYORCH" check --bootstrap-file "$DIR/bootstrap" --partitions "$PARTITIONS" \
     --ledger-dir "$LEDGERS" >"$DIR/check.log" 2>&1; then
  echo "soak: payorch check OK"
elif grep -q ', 0 writer claims)' "$DIR/check.log"; then
  echo "soak: the embedded broker trimmed the start of the log (no WriterClaimed left):" \
    "payorch check cannot judge this run; rerun with more --partitions" >&2
  head -1 "$DIR/check.log" >&2; status=1
else
  echo "soak: payorch check found violations:" >&2; tail -20 "$DIR/check.log" >&2; status=1
fi
tail -5 "$DIR/check.log"
# In tenths of a percent, so 10.6% is over a 10% limit.
growth=$(( (rss_end - rss_warm) * 1000 / (rss_warm > 0 ? rss_warm : 1) ))
abs=$(( growth < 0 ? -growth : growth )); sign=""
if (( growth < 0 )); then sign="-"; fi
shown="${sign}$(( abs / 10 )).$(( abs % 10 ))%"
if (( WARM == 0 )); then
  echo "soak: run not longer than the warm-up: RSS growth not judged"
elif (( growth > MAX_GROWTH_PCT * 10 )); then
  echo "soak: RSS grew ${shown} after minute $WARM (limit ${MAX_GROWTH_PCT}%)" >&2; status=1
else
  echo "soak: RSS grew ${shown} after minute $WARM (limit ${MAX_GROWTH_PCT}%)"
fi
exit $status
