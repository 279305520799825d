# Shared by the shell tests of the payorch binary (source it after setting `set -uo
# pipefail`): a scratch $dir removed at exit, background processes in pids[] sent SIGTERM
# at exit, and check NAME CONDITION... counting passes and failures.
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
failures=0
passes=0
check() {  # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then
    passes=$((passes + 1))
  else
    echo "FAIL: $name"
    failures=$((failures + 1))
  fi
}
