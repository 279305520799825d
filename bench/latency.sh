#!/usr/bin/env bash
# The latency and efficiency figures of issue 18, side by side on both brokers: `payorch
# bench` (mock gateway, the built-in mix, 8 partitions) at each arrival rate, on the
# embedded broker and on the Apache Kafka of `make kafka` when it is running, then each
# broker's raw rate for the efficiency. Results and method: docs/performance.md.
#
#   bench/latency.sh [BUILD_DIR] [PAYMENTS_PER_RUN] [RATES]
#   KAFKA_DIR=build/kafka ...   # where `make kafka` keeps its cluster (the default)
#   MAX_PAYMENTS=50000 ...      # payments of the as-fast-as-possible run (the default; the
#                               # broker-alone measurement needs a volume that dwarfs start-up)
#
# Prints, per broker and rate: p50/p90/p99/max, the per-flow p99s and the hop table of
# `payorch bench`; then one run as fast as possible with the broker alone measured
# (efficiency). Every run is bounded (payments, --timeout).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
payments="${2:-15000}"
rates="${3:-1000 3000}"
payorch="$build/payorch"
[[ -x "$payorch" ]] || { echo "latency.sh: $payorch not built" >&2; exit 2; }
kafka_dir="${KAFKA_DIR:-$here/../build/kafka}"

brokers=("embedded")
if "$here/../scripts/kafka.sh" status --dir "$kafka_dir" >/dev/null 2>&1; then
  brokers+=("kafka:$(head -1 "$kafka_dir/bootstrap")")
else
  echo "latency.sh: no Kafka running in $kafka_dir (make kafka): embedded broker only"
fi

run() {  # broker label, then payorch bench flags
  local label="$1"
  shift
  echo "== $label, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  "$payorch" bench --timeout 300 "$@" 2>&1 | grep -v 'rdkafka' | sed -n '/^pipeline/,$p'
}

stamp="$(date +%s)"
for b in "${brokers[@]}"; do
  flags=()
  if [[ $b == kafka:* ]]; then
    # A real broker wakes long polls, so fetches may wait longer than the embedded default.
    flags=(--brokers "${b#kafka:}" -X fetch.wait.max.ms=100)
  fi
  for rate in $rates; do
    run "${b%%:*} at $rate/s" "${flags[@]}" --payments "$payments" --rate "$rate" --skip-raw \
      --topic-prefix "lat$stamp.$rate."
  done
  run "${b%%:*} as fast as possible, with the broker alone" "${flags[@]}" \
    --payments "${MAX_PAYMENTS:-50000}" --rate 0 --topic-prefix "lat$stamp.max."
done
