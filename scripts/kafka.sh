#!/usr/bin/env bash
# A real Apache Kafka (KRaft, no ZooKeeper) on loopback, for tests and single-machine use.
# The server jars come from Maven Central (tests/kafka/pom.xml), resolved into .cache/kafka/lib
# by scripts/deps-kafka.sh; data, configuration, logs and pid files live under --dir.
#
#   scripts/kafka.sh start  [--brokers 1|3] [--dir build/kafka] [--port 9092]
#   scripts/kafka.sh status [--dir D]          # one line per node; exit 1 if none runs
#   scripts/kafka.sh stop   [--dir D] [--node N] [--signal TERM|KILL]
#   scripts/kafka.sh topics [--dir D] [--prefix P] [--partitions N]  # the four payorch topics
#   scripts/kafka.sh clean  [--dir D]          # stop, then delete the data
#
# Every node is a combined broker + controller (process.roles=broker,controller). Node i
# listens on PORT+i-1 for clients and PORT+100+i-1 for the controller quorum. With 3 nodes:
# replication factor 3, min.insync.replicas 2, unclean leader election off. `start` on a
# directory that already holds a cluster restarts the nodes not running, with their log:
# so `stop --node 2 --signal KILL; start` kills and restarts one broker. The bootstrap
# address is printed and written to DIR/bootstrap.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LIB="${PAYORCH_KAFKA_LIB:-$ROOT/.cache/kafka/lib}"
ACTION="${1:-}"
[[ -n "$ACTION" ]] && shift
BROKERS=""
DIR="$ROOT/build/kafka"
PORT=""
NODE=""
SIGNAL=TERM
PREFIX=""
PARTITIONS=4
HEAP="${PAYORCH_KAFKA_HEAP:-512m}"

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "kafka.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --brokers) BROKERS="${2:?}"; shift 2 ;;
    --dir) DIR="${2:?}"; shift 2 ;;
    --port) PORT="${2:?}"; shift 2 ;;
    --node) NODE="${2:?}"; shift 2 ;;
    --signal) SIGNAL="${2:?}"; shift 2 ;;
    --prefix) PREFIX="${2:?}"; shift 2 ;;
    --partitions) PARTITIONS="${2:?}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case "$ACTION" in start|stop|status|topics|clean) ;; -h|--help|"") usage; exit 0 ;;
  *) die "unknown action '$ACTION' (start|stop|status|topics|clean)" ;; esac
[[ "$SIGNAL" == TERM || "$SIGNAL" == KILL ]] || die "--signal must be TERM or KILL"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

# The cluster's shape is fixed when it is first formatted; later commands read it back.
if [[ -f "$DIR/cluster.env" ]]; then
  # shellcheck disable=SC1091
  source "$DIR/cluster.env"
  if [[ -n "$BROKERS" && "$BROKERS" != "$CLUSTER_BROKERS" ]]; then
    die "$DIR holds a $CLUSTER_BROKERS-broker cluster; 'clean' it first"
  fi
  if [[ -n "$PORT" && "$PORT" != "$CLUSTER_PORT" ]]; then
    die "$DIR listens on port $CLUSTER_PORT; 'clean' it first"
  fi
  BROKERS="$CLUSTER_BROKERS"
  PORT="$CLUSTER_PORT"
fi
BROKERS="${BROKERS:-1}"
PORT="${PORT:-9092}"
[[ "$BROKERS" == 1 || "$BROKERS" == 3 ]] || die "--brokers must be 1 or 3"

bootstrap() {
  local out="" i
  for ((i = 1; i <= BROKERS; i++)); do out+="${out:+,}127.0.0.1:$((PORT + i - 1))"; done
  echo "$out"
}
pid_of() { cat "$DIR/node-$1/pid" 2>/dev/null || true; }
alive() { local p; p="$(pid_of "$1")"; [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }
java_cp() { java -Xmx256m -cp "$LIB/*" -Dlog4j2.configurationFile="$DIR/log4j2.properties" "$@"; }

need_lib() {
  [[ -f "$(ls "$LIB"/kafka_2.13-*.jar 2>/dev/null | head -1)" ]] ||
    die "no Kafka jars in $LIB: run scripts/deps-kafka.sh first"
}

write_config() {
  local i="$1" voters="" j rf=$((BROKERS < 3 ? BROKERS : 3)) isr=$((BROKERS >= 3 ? 2 : 1))
  for ((j = 1; j <= BROKERS; j++)); do voters+="${voters:+,}$j@127.0.0.1:$((PORT + 100 + j - 1))"; done
  mkdir -p "$DIR/node-$i/data"
  cat >"$DIR/node-$i/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$((PORT + i - 1)),CONTROLLER://127.0.0.1:$((PORT + 100 + i - 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$((PORT + i - 1))
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/node-$i/data
num.partitions=4
default.replication.factor=$rf
min.insync.replicas=$isr
unclean.leader.election.enable=false
auto.create.topics.enable=false
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
# Consumers may ask for sessions down to 1 s (Kafka's default floor is 6 s), so that a
# SIGKILLed payorch's partitions can move within the 3 s failover target (docs/kafka.md).
group.min.session.timeout.ms=1000
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
log.retention.hours=-1
log.segment.bytes=16777216
EOF
}

write_log_config() {
  cat >"$DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = info
EOF
}

# Waits until every running node answers a metadata request and sees all the brokers.
wait_ready() {
  local deadline=$((SECONDS + ${PAYORCH_KAFKA_START_TIMEOUT:-90})) n
  while ((SECONDS < deadline)); do
    n="$(kcat -L -b "$(bootstrap)" -m 2 2>/dev/null | grep -c '^  broker [0-9]* at' || true)"
    if [[ "$n" == "$BROKERS" ]]; then return 0; fi
    for ((i = 1; i <= BROKERS; i++)); do
      alive "$i" || { echo "kafka.sh: node $i exited; its log:" >&2; tail -20 "$DIR/node-$i/out.log" >&2; return 1; }
    done
    sleep 0.3
  done
  echo "kafka.sh: the cluster did not get ready in time (saw $n of $BROKERS brokers)" >&2
  return 1
}

start() {
  need_lib
  if [[ ! -f "$DIR/cluster.env" ]]; then
    local id
    write_log_config
    id="$(java_cp kafka.tools.StorageTool random-uuid)"
    for ((i = 1; i <= BROKERS; i++)); do
      write_config "$i"
      java_cp kafka.tools.StorageTool format -t "$id" -c "$DIR/node-$i/server.properties" \
        >"$DIR/node-$i/format.log" 2>&1 || { cat "$DIR/node-$i/format.log" >&2; exit 1; }
    done
    printf 'CLUSTER_BROKERS=%s\nCLUSTER_PORT=%s\nCLUSTER_ID=%s\n' "$BROKERS" "$PORT" "$id" \
      >"$DIR/cluster.env"
  fi
  for ((i = 1; i <= BROKERS; i++)); do
    alive "$i" && continue
    # setsid: the broker outlives the shell that started it and gets no terminal signals.
    setsid java -Xmx"$HEAP" -Xms128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIB/*" \
      kafka.Kafka "$DIR/node-$i/server.properties" >>"$DIR/node-$i/out.log" 2>&1 </dev/null &
    echo $! >"$DIR/node-$i/pid"
  done
  wait_ready
  bootstrap >"$DIR/bootstrap"
  echo "bootstrap: $(bootstrap)"
}

stop() {
  local nodes=() i p
  if [[ -n "$NODE" ]]; then nodes=("$NODE"); else for ((i = 1; i <= BROKERS; i++)); do nodes+=("$i"); done; fi
  for i in "${nodes[@]}"; do alive "$i" && kill -"$SIGNAL" "$(pid_of "$i")"; done
  for i in "${nodes[@]}"; do
    p="$(pid_of "$i")"
    [[ -z "$p" ]] && continue
    for ((t = 0; t < 300; t++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      echo "kafka.sh: node $i did not stop in 30 s; killing it" >&2
      kill -KILL "$p" 2>/dev/null || true
    fi
    rm -f "$DIR/node-$i/pid"
  done
}

status() {
  local up=0
  for ((i = 1; i <= BROKERS; i++)); do
    if alive "$i"; then
      echo "node $i: running (pid $(pid_of "$i"), 127.0.0.1:$((PORT + i - 1)))"; up=$((up + 1))
    else
      echo "node $i: stopped"
    fi
  done
  [[ $up -gt 0 ]] && echo "bootstrap: $(bootstrap)"
  [[ $up -gt 0 ]]
}

# The four payorch topics, as `payorch run` would create them, plus the settings a real
# cluster wants on the events topic (unlimited retention: it is the source of truth).
topics() {
  need_lib
  local rf=$((BROKERS < 3 ? BROKERS : 3)) t
  for t in commands events contracts deadletter; do
    java_cp org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap)" --create \
      --if-not-exists --topic "${PREFIX}payorch.$t" --partitions "$PARTITIONS" \
      --replication-factor "$rf" --config retention.ms=-1
  done
}

case "$ACTION" in
  start) start ;;
  stop) [[ -f "$DIR/cluster.env" ]] && stop; true ;;
  status) [[ -f "$DIR/cluster.env" ]] || { echo "no cluster in $DIR"; exit 1; }; status ;;
  topics) topics ;;
  clean) [[ -f "$DIR/cluster.env" ]] && stop; rm -rf "$DIR" ;;
esac
