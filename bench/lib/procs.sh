# Shared by the bench scripts that start `payorch broker` / `payorch run` (sourced).
#
#   stop_pids PID...        SIGCONT (a stopped broker), then SIGTERM each, last first, waiting
#                           up to 10 s for each before SIGKILL: never waits forever.
#   wait_for_api_port LOG   prints the merchant API's port once LOG names it (30 s at most),
#                           nothing if it never does.
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
