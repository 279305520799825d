#!/usr/bin/env bash
# Runs every libFuzzer target of a PAYORCH_FUZZ=ON build for N seconds each (make fuzz).
# Each starts from its checked-in seeds (tests/fuzz/corpus/<target>/) and grows a scratch
# corpus under BUILD/fuzz-corpus/<target>/; crashes, leaks and timeouts are written to
# BUILD/fuzz-artifacts/<target>/ and fail the run. To keep a new interesting input as a
# regression test, copy it into tests/fuzz/corpus/<target>/ (keep the seeds small).
#
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [target...]
set -uo pipefail
build="$1"
seconds="$2"
shift 2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(command_decoder create_parser config_loader http_dispatch)
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  corpus="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  log="$build/fuzz-$t.log"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz_$t: OK, ${runs:-?} runs in ${seconds}s, ${cov:-cov: ?}"
  else
    echo "fuzz_$t: FAILED (exit $rc); see $log and $artifacts" >&2
    grep -E 'ERROR|SUMMARY|invariant broken|Test unit written' "$log" | head -5 >&2
    failed=1
  fi
done
exit $failed
