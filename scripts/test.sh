#!/usr/bin/env bash
# The whole test suite, from a fresh clone, as root on Debian 12:
#   scripts/setup.sh (packages, hugepages, build) -> meson unit/functional/integration tests
#   -> libFuzzer targets for a bounded time. Exits non-zero on any failure.
# Environment: FUZZ_SECONDS (default 60 per target; 0 skips fuzzing).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "test: set-up failed" >&2; exit 1; }

failed=0
echo "[test] meson test"
meson test -C build --print-errorlogs --num-processes 2 2>&1 | tee build/meson-test.log
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1

fuzz_secs=${FUZZ_SECONDS:-60}
fuzz_status=skipped
if [ "$fuzz_secs" -gt 0 ]; then
  echo "[test] fuzzing, ${fuzz_secs}s per target"
  if bash scripts/fuzz.sh "$fuzz_secs"; then fuzz_status=ok; else fuzz_status=FAILED; failed=1; fi
fi

# One closing line that any CI reader understands: counts from meson's summary, plus fuzzing.
ok=$(grep -E '^Ok: ' build/meson-test.log | awk '{print $2}'); ok=${ok:-0}
bad=0
for k in Fail Timeout 'Unexpected Pass'; do
  n=$(grep -E "^$k: " build/meson-test.log | awk '{print $NF}'); bad=$((bad + ${n:-0}))
done
skip=$(grep -E '^Skipped: ' build/meson-test.log | awk '{print $2}'); skip=${skip:-0}
echo "[test] fuzzing: $fuzz_status"
[ "$fuzz_status" = ok ] && ok=$((ok + 1))
[ "$fuzz_status" = FAILED ] && bad=$((bad + 1))
echo "$ok passed, $bad failed, $skip skipped"
[ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]
