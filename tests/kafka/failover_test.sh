#!/usr/bin/env bash
# Failover of the single writer on a 3-broker Kafka (issue 18, docs/kafka.md#failover):
# three `payorch run --no-connectors` share the writers' group (6 partitions), a fourth
# runs the connectors (one simulated gateway, so one ledger). Under a steady load of RATE
# creates/s:
#
#   kill     at 3 s one writer (w2) is SIGKILLed and stays down: its partitions must be
#            claimed by a live writer and decide commands again. Failover = time from the
#            SIGKILL to the first event (not the claim) the new owner writes there.
#   restart  at 10 s another writer (w3) is SIGKILLed and started again at once with the
#            same data directory (and --instance-id, if the configuration uses it): the
#            time until its partitions decide again, and whether the other writer claimed
#            anything (a full rebalance) or not.
#
# Asserts correctness (every send acknowledged, every payment succeeded once, `payorch
# check` OK, every partition owned by a live writer at the end, the killed writer's
# partitions decided again within BOUND_S, default 60 s: a liveness bound, far above the
# figures, since three Kafka JVMs on 2 cores stall for tens of seconds at times, e.g.
# "Coordinator load in progress" for 24 s once) and prints the figures, which are
# measurements, not assertions. Times are Kafka record timestamps (CreateTime, set by the
# writer's producer, read with `payorch tail`) against the wall clock of the SIGKILL, on
# one machine.
#
#   failover_test.sh PAYORCH PORT [CONFIG] [RUNS]
#
# CONFIG (default: $FAILOVER_CONFIG or "static"):
#   default      payorch's defaults (eager range assignment, session.timeout.ms 6000)
#   fast         + -X session.timeout.ms=SESSION_MS -X heartbeat.interval.ms=HEARTBEAT_MS
#   cooperative  fast + -X partition.assignment.strategy=cooperative-sticky
#   static       cooperative + --instance-id wN (static membership)
#   static-eager fast + --instance-id wN
# SESSION_MS (default 2000), HEARTBEAT_MS (default 500), RATE (default 200), RUNS runs on
# one cluster (default 1); KEEP=1 keeps the logs. Prints "failover CONFIG: N passed, M failed" last.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PAYORCH=$1
PORT=${2:-20092}
CONFIG=${3:-${FAILOVER_CONFIG:-static}}
RUNS=${4:-1}
SESSION_MS=${SESSION_MS:-2000}
HEARTBEAT_MS=${HEARTBEAT_MS:-500}
RATE=${RATE:-200}
BOUND_S=${BOUND_S:-60}
PARTITIONS=6
KAFKA="$ROOT/scripts/kafka.sh"
dir="$(mktemp -d /tmp/payorch-failover-XXXXXX)"
kdir="$dir/kafka"
pids=()
passes=0
failures=0
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  "$KAFKA" clean --dir "$kdir" >/dev/null 2>&1
  if [[ $failures == 0 && -z ${KEEP:-} ]]; then rm -rf "$dir"; else echo "kept $dir"; fi
}
trap cleanup EXIT
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
now_ms() { date +%s%3N; }

group_flags=()
session_label=$SESSION_MS
case "$CONFIG" in
  default) session_label="6000(default)" ;;
  fast | static-eager)
    group_flags=(-X "session.timeout.ms=$SESSION_MS" -X "heartbeat.interval.ms=$HEARTBEAT_MS") ;;
  cooperative | static)
    group_flags=(-X "session.timeout.ms=$SESSION_MS" -X "heartbeat.interval.ms=$HEARTBEAT_MS"
                 -X partition.assignment.strategy=cooperative-sticky) ;;
  *) echo "unknown configuration '$CONFIG'" >&2; exit 2 ;;
esac
static=0
[[ $CONFIG == static* ]] && static=1

"$KAFKA" start --dir "$kdir" --brokers 3 --port "$PORT" >/dev/null || exit 1
bootstrap="$(cat "$kdir/bootstrap")"

run_once() {  # run_once N: one measured run on its own topics; figures on stdout
  local run=$1 prefix="failover$1." rdir="$dir/run$1"
  mkdir -p "$rdir"
  local common=(--brokers "$bootstrap" --topic-prefix "$prefix" --partitions "$PARTITIONS"
                --replication-factor 3 -X fetch.wait.max.ms=100)
  declare -A wpid
  start_writer() {  # start_writer NAME
    local id=()
    ((static)) && id=(--instance-id "$1")
    "$PAYORCH" run "${common[@]}" "${group_flags[@]}" "${id[@]}" --no-connectors \
      --data-dir "$rdir/$1" --writer-id "$1" --log-level info >>"$rdir/$1.log" 2>&1 &
    wpid[$1]=$!
    pids+=("$!")
  }
  "$PAYORCH" run "${common[@]}" "${group_flags[@]}" --no-writers --gateways '*=mock' \
    --data-dir "$rdir/c" --writer-id c --log-level warn >>"$rdir/c.log" 2>&1 &
  local c_pid=$!
  pids+=("$c_pid")
  for w in w1 w2 w3; do start_writer "$w"; done

  # Stable: each writer claimed something and no new claim for 2 s.
  local last=-1 same_since=$SECONDS deadline=$((SECONDS + 90)) n all
  while ((SECONDS < deadline)); do
    n=$(cat "$rdir"/w?.log 2>/dev/null | grep -c "claimed the partition")
    all=1
    for w in w1 w2 w3; do grep -q "claimed the partition" "$rdir/$w.log" 2>/dev/null || all=0; done
    if [[ $n != "$last" ]]; then last=$n; same_since=$SECONDS; fi
    ((all && SECONDS - same_since >= 2)) && break
    sleep 0.2
  done

  # Load: RATE creates/s for 16 s through one `payorch send` reading stdin.
  local total=$((RATE * 16)) per_tick=$((RATE / 10)) kill_at=$((RATE * 3)) restart_at=$((RATE * 10))
  local t_kill=0 t_restart=0 t_load0 t_load1
  t_load0=$(now_ms)
  {
    for ((n = 0; n < total; n++)); do
      printf '{"schemaVersion":1,"commandId":"c-%d","create":{"merchantId":"m_cobranded","idempotencyKey":"k-%d","amount":{"amountMinor":"%d","currency":"USD"},"method":"PAYMENT_METHOD_CARD","confirm":true}}\n' \
        "$n" "$n" $((1000 + n))
      if (((n + 1) % per_tick == 0)); then
        sleep 0.1
        if ((n + 1 == kill_at)); then
          now_ms >"$rdir/t_kill"
          kill -KILL "${wpid[w2]}"
        elif ((n + 1 == restart_at)); then
          now_ms >"$rdir/t_restart"
          kill -KILL "${wpid[w3]}"
          # Exited (a zombie until the parent reaps it): its RocksDB lock is free.
          while [[ -e /proc/${wpid[w3]} && "$(cut -d' ' -f3 /proc/${wpid[w3]}/stat 2>/dev/null)" != Z ]]; do
            sleep 0.01
          done
          start_writer w3
          echo "${wpid[w3]}" >"$rdir/w3.pid"
        fi
      fi
    done
  } | "$PAYORCH" send "${common[@]}" --file - --timeout-ms 120000 >>"$rdir/send.log" 2>&1
  local send_rc=$?
  t_load1=$(now_ms)
  t_kill=$(cat "$rdir/t_kill")
  t_restart=$(cat "$rdir/t_restart")
  local w3_pid
  w3_pid=$(cat "$rdir/w3.pid")
  pids+=("$w3_pid")

  local report=""
  for _ in $(seq 1 60); do
    report="$("$PAYORCH" check "${common[@]}" --ledger-dir "$rdir/c/ledgers" 2>&1)"
    grep -q "succeeded=$total\b" <<<"$report" && grep -q "OK: no violations" <<<"$report" && break
    sleep 2
  done

  # The events log, with each record's timestamp and each claim's writer.
  "$PAYORCH" tail "${common[@]}" --from-beginning >"$rdir/events.jsonl" 2>/dev/null
  local figures
  figures="$(python3 - "$rdir" "$t_kill" "$t_restart" <<'EOF'
import json, sys
rdir, t_kill, t_restart = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
recs = {}
writer = {}
for line in open(f"{rdir}/events.jsonl"):
    j = json.loads(line)
    p, o, ts, k = int(j["partition"]), int(j["offset"]), int(j["timestamp_ms"]), j["key"]
    recs.setdefault(p, []).append((o, ts, k))
    if k == "claim":
        writer[(p, o)] = j.get("value", {}).get("writer_claimed", {}).get("writer_id", "?")
for p in recs:
    recs[p].sort()

def owner_before(p, t):
    last = None
    for o, ts, k in recs.get(p, []):
        if ts >= t: break
        if k == "claim": last = writer.get((p, o), "?")
    return last

def after(p, t, victim_restarted=None):
    """(claim ms, first decided event ms, claimer) after t, relative to t."""
    claim = None
    for o, ts, k in recs.get(p, []):
        if ts < t: continue
        if k == "claim" and claim is None:
            claim = (ts, writer.get((p, o), "?"))
        elif k != "claim" and claim is not None:
            return ts - t, claim[0] - t, claim[1]
    return None, (claim[0] - t if claim else None), (claim[1] if claim else None)

out = []
parts = sorted(recs)
for name, t, victim in (("kill", t_kill, "w2"), ("restart", t_restart, "w3")):
    owned = [p for p in parts if owner_before(p, t) == victim]
    worst = 0
    others = 0
    for p in parts:
        first, claim, by = after(p, t)
        if p in owned:
            if first is None:
                worst = None
                out.append(f"{name} p{p}: not decided again")
            elif worst is not None:
                worst = max(worst, first)
            out.append(f"{name} p{p}: claimed by {by} at +{claim} ms, first event at +{first} ms")
    # Claims by the writers that were not killed, between this kill and the next phase.
    end = t_restart if name == "kill" else 10**15
    survivors = {"w1", "w3"} if name == "kill" else {"w1"}
    for p in parts:
        for o, ts, k in recs.get(p, []):
            if t <= ts < end and k == "claim" and writer.get((p, o)) in survivors and p not in owned:
                others += 1
    out.append(f"{name}: partitions {owned} moved; slowest first event +{worst} ms; "
               f"{others} claims of partitions the killed writer did not own")
final = {p: owner_before(p, 10**15) for p in parts}
out.append("final owners: " + " ".join(f"p{p}={final[p]}" for p in parts))
print("\n".join(out))
EOF
)"
  echo "$figures" | sed "s/^/run $run: /"
  local kill_ms restart_ms
  kill_ms="$(grep -oE '^kill: .*slowest first event \+[0-9]+' <<<"$figures" | grep -oE '[0-9]+$')"
  restart_ms="$(grep -oE '^restart: .*slowest first event \+[0-9]+' <<<"$figures" | grep -oE '[0-9]+$')"
  echo "run $run: RESULT config=$CONFIG session_ms=$session_label failover_ms=${kill_ms:-none}" \
    "restart_ms=${restart_ms:-none} sent=$total in $((t_load1 - t_load0)) ms" \
    "load=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "$report" | grep -E "^checked|payments by status|^OK|VIOLATION" | head -4 | sed "s/^/run $run: /"

  check "run $run: every send acknowledged" test "$send_rc" -eq 0
  check "run $run: every payment succeeded, once" grep -q "succeeded=$total\b" <<<"$report"
  check "run $run: payorch check: no violations" grep -q "OK: no violations" <<<"$report"
  check "run $run: the killed writer's partitions decided again within ${BOUND_S} s" \
    test -n "$kill_ms" -a "${kill_ms:-999999}" -lt $((BOUND_S * 1000))
  check "run $run: the restarted writer's partitions decided again within ${BOUND_S} s" \
    test -n "$restart_ms" -a "${restart_ms:-999999}" -lt $((BOUND_S * 1000))
  check "run $run: every partition owned by a live writer at the end" \
    bash -c '! grep -q "^final owners:.*=w2\b\|^final owners:.*=None" <<<"$1"' _ "$figures"
  check "run $run: the writers and connectors still run" kill -0 "${wpid[w1]}" "$w3_pid" "$c_pid"
  if [[ $failures != 0 ]]; then
    echo "$report" | tail -20
    for f in "$rdir"/*.log; do echo "== $f"; tail -15 "$f"; done
  fi
  # End of the run: stop every instance; the next run uses new topics, and the groups
  # forget these members after their session (static members do not leave on close).
  for p in "${wpid[w1]}" "$w3_pid" "$c_pid"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${wpid[w1]}" "$w3_pid" "$c_pid"; do wait "$p" 2>/dev/null; done
  sleep $((SESSION_MS / 1000 + 7))
}

for ((r = 1; r <= RUNS; r++)); do run_once "$r"; done
echo "failover $CONFIG: $passes passed, $failures failed"
[[ $failures == 0 ]]
