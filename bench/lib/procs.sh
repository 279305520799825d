# Shared by the bench scripts that start `payorch broker` / `payorch run` (sourced).
#
#   stop_pids PID...        SIGCONT (a stopped broker), then SIGTERM each, last first, waiting
#                           up to 10 s for each before SIGKILL: never waits forever.
#   wait_for_api_port LOG   prints the merchant API's port once LOG names it (30 s at most),
#                           nothing if it never does.
#   bench_prepare NAME PAYORCH
#                           checks PAYORCH and wrk, makes the scratch directory `dir`, an
#                           empty `pids`, and on exit stops `pids` (the orchestrator first,
#                           it drains to the broker) and removes `dir`.
#   probe_gets URL SECONDS LABEL
#                           a keyed GET of URL every 100 ms for SECONDS (curl, 10 s
#                           client timeout: "000" if none), then LABEL's statuses and
#                           p50 / max time. Uses $key and $dir.
#   start_merchant_api PAYORCH DIR API_YAML [RUN_FLAGS...]
#                           `payorch broker` and `payorch run --merchant-api` on it (their
#                           pids appended to `pids`), API configuration API_YAML, data in
#                           DIR; sets broker_pid, port, api (the base URL) and key (an API
#                           key of m_cobranded). Exits 1 if the API does not start.
stop_pids() {
  local i p
  for ((i = $# ; i >= 1; i--)); do
    p="${!i}"
    kill -CONT "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}

wait_for_api_port() {
  local port=""
  for _ in $(seq 300); do
    port="$(sed -n 's#.*merchant API at http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$1" | head -1)"
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  printf '%s' "$port"
}

probe_gets() {
  local url="$1" seconds="$2" label="$3"
  : >"$dir/gets"
  for _ in $(seq $((seconds * 10))); do
    curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}\n' \
      -H "Authorization: Bearer $key" "$url" >>"$dir/gets" || echo "000 10" >>"$dir/gets"
    sleep 0.1
  done
  echo "$label statuses: $(cut -d' ' -f1 "$dir/gets" | sort | uniq -c | tr '\n' ' ')"
  sort -n -k2 "$dir/gets" | awk -v l="$label" '{t[NR]=$2} END {printf "%s time: p50 %.1f ms, max %.1f ms (%d GETs)\n", l, t[int(NR/2)+1]*1000, t[NR]*1000, NR}'
}

start_merchant_api() {
  local payorch="$1" dir="$2"
  "$payorch" broker --bootstrap-file "$dir/bootstrap" >"$dir/broker.log" 2>&1 &
  pids+=($!)
  broker_pid=$!
  for _ in $(seq 100); do [[ -s "$dir/bootstrap" ]] && break; sleep 0.1; done
  printf '%s\n' "$3" >"$dir/api.yaml"
  "$payorch" run --brokers "$(head -1 "$dir/bootstrap")" --data-dir "$dir/data" --assign all \
    --http 127.0.0.1:0 --merchant-api --api-config "$dir/api.yaml" --log-level warn "${@:4}" \
    >"$dir/run.log" 2>&1 &
  pids+=($!)
  port="$(wait_for_api_port "$dir/run.log")"
  [[ -n "$port" ]] || { echo "the API did not start" >&2; cat "$dir/run.log" >&2; exit 1; }
  api="http://127.0.0.1:$port"
  key="$("$payorch" keys create --data "$dir/data" --merchant m_cobranded 2>/dev/null)"
}

bench_prepare() {
  [[ -x "$2" ]] || { echo "$1: $2 not built" >&2; exit 2; }
  command -v wrk >/dev/null || { echo "$1: wrk not installed" >&2; exit 2; }
  dir="$(mktemp -d "/tmp/payorch-${1%.sh}.XXXXXX")"
  pids=()
  trap 'stop_pids "${pids[@]}"; rm -rf "$dir"' EXIT
}
