#!/usr/bin/env bash
# The whole test suite, from a fresh clone, as root on Debian 12:
#   scripts/setup.sh (packages, hugepages, build) -> meson unit/functional/integration tests
#   -> the unit and control-plane tests again in an ASan + UBSan build (build-asan/)
#   -> clang's thread-safety analysis of the control plane (build-tsa/, zero warnings)
#   -> libFuzzer targets (ASan + UBSan) for a bounded time -> the Debian packages, built and
#   checked (scripts/package.sh). Exits non-zero on any failure; the last lines recap what failed
#   (failing tests, GoogleTest cases and their assertion lines).
# Environment: FUZZ_SECONDS (default 40 per target; 0 skips fuzzing); SANITIZE=0 skips the
# sanitizer build; PACKAGE=0 skips the packages.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "test: set-up failed" >&2; exit 1; }

failed=0
echo "[test] meson test"
meson test -C build --print-errorlogs --num-processes 2 2>&1 | tee build/meson-test.log
[ "${PIPESTATUS[0]}" -eq 0 ] || failed=1

# The sanitizer pass: every test that needs neither DPDK at run time nor root networking (the
# library, dataplane-core, control-plane and client suites), built with -fsanitize=address,undefined.
# Any ASan report (including a leak at exit) or UBSan report fails the test that shows it.
san_status=skipped
if [ "${SANITIZE:-1}" != 0 ]; then
  echo "[test] sanitizers: ASan + UBSan build of the unit and control-plane tests (build-asan/)"
  # -Werror stays off here: GCC 12 warns falsely (-Wmaybe-uninitialized in <regex>) under ASan.
  # -O1 without debug info: the level ASan recommends; reports are symbolised without -g.
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1 -Ddebug=false \
      -Db_ndebug=false -Dwerror=false > build/asan-setup.log 2>&1 || { tail -n 20 build/asan-setup.log; san_status=FAILED; }
  fi
  if [ "$san_status" != FAILED ]; then
    san_tests=$(meson test -C build-asan --list 2>/dev/null | sed -n 's/^rustun[^/]* \/ //p' |
                grep -E '^(proto|crypto|config|routing|shm|vectors|controlplane|client)(-|$)|^dataplane-(packet|session-table|state|config)$' || true)
    # The test programs, and the two binaries the control-plane tests run (rustunctl, --check-config).
    san_targets="controlplane/rustun-controlplane controlplane/rustunctl $(ninja -C build-asan -t targets all 2>/dev/null |
                 grep -E '^tests/(unit|controlplane)/[^:/]+/?[^:]*: cpp_LINKER' | cut -d: -f1)"
    if ! ninja -C build-asan $san_targets > build/asan-build.log 2>&1; then
      tail -n 40 build/asan-build.log; san_status=FAILED
    else
      # halt_on_error: the first report ends the process (UBSan is recoverable by default).
      # shellcheck disable=SC2086
      ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:print_summary=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1 \
        meson test -C build-asan --no-rebuild --print-errorlogs --num-processes 2 $san_tests 2>&1 | tee build/asan-test.log
      if [ "${PIPESTATUS[0]}" -eq 0 ]; then san_status=ok; else san_status=FAILED; fi
    fi
  fi
  [ "$san_status" = ok ] || failed=1
fi

# The control plane's locking rules, checked by the compiler: clang++ -Wthread-safety over every
# control-plane source (scripts/thread-safety.sh); one warning fails the test command.
echo "[test] thread-safety analysis: clang -Wthread-safety over controlplane/ (build-tsa/)"
if bash scripts/thread-safety.sh; then tsa_status=ok; else tsa_status=FAILED; failed=1; fi

fuzz_secs=${FUZZ_SECONDS:-40}
fuzz_status=skipped
if [ "$fuzz_secs" -gt 0 ]; then
  echo "[test] fuzzing, ${fuzz_secs}s per target"
  if bash scripts/fuzz.sh "$fuzz_secs"; then fuzz_status=ok; else fuzz_status=FAILED; failed=1; fi
fi

# The Debian packages: a second full build (-j2) from a scratch copy of the tree, their contents
# and lintian (scripts/package.sh). PACKAGE=0 skips it.
pkg_status=skipped
if [ "${PACKAGE:-1}" != 0 ]; then
  echo "[test] Debian packages (scripts/package.sh -> build/packages/)"
  pkg_start=$(date +%s)
  if bash scripts/package.sh build/packages; then pkg_status=ok; else pkg_status=FAILED; failed=1; fi
  echo "[test] packages: $pkg_status in $(( $(date +%s) - pkg_start )) s"
fi

# One closing line that any CI reader understands: counts from meson's summary, plus fuzzing.
ok=$(grep -E '^Ok: ' build/meson-test.log | awk '{print $2}'); ok=${ok:-0}
bad=0
for k in Fail Timeout 'Unexpected Pass'; do
  n=$(grep -E "^$k: " build/meson-test.log | awk '{print $NF}'); bad=$((bad + ${n:-0}))
done
skip=$(grep -E '^Skipped: ' build/meson-test.log | awk '{print $2}'); skip=${skip:-0}
if [ -f build/asan-test.log ] && [ "$san_status" != skipped ]; then
  n=$(grep -E '^Ok: ' build/asan-test.log | awk '{print $2}'); ok=$((ok + ${n:-0}))
  for k in Fail Timeout 'Unexpected Pass'; do
    n=$(grep -E "^$k: " build/asan-test.log | awk '{print $NF}'); bad=$((bad + ${n:-0}))
  done
fi
echo "[test] sanitizers: $san_status"
[ "$san_status" = FAILED ] && ! grep -qE '^Fail: +[1-9]' build/asan-test.log 2>/dev/null && bad=$((bad + 1))
echo "[test] thread-safety: $tsa_status"
[ "$tsa_status" = ok ] && ok=$((ok + 1))
[ "$tsa_status" = FAILED ] && bad=$((bad + 1))
echo "[test] fuzzing: $fuzz_status"
[ "$fuzz_status" = ok ] && ok=$((ok + 1))
[ "$fuzz_status" = FAILED ] && bad=$((bad + 1))
echo "[test] packages: $pkg_status"
[ "$pkg_status" = ok ] && ok=$((ok + 1))
[ "$pkg_status" = FAILED ] && bad=$((bad + 1))
# A recap of what failed, here at the end where a truncated CI log still shows it: each failing
# meson test, and inside GoogleTest programs the failing cases with their assertion lines.
for log in build/meson-test.log build/asan-test.log; do
  [ -f "$log" ] || continue
  grep -qE '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ' "$log" || continue
  echo "[test] failures in $log:"
  grep -E '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ' "$log" | sort -u | sed 's/^/  /'
  grep -E '^\[  FAILED  \] [A-Za-z_0-9]+\.|: Failure$' "$log" | sort -u | head -n 20 | sed 's/^/  /'
  grep -A4 -E ': Failure$' "$log" | head -n 40 | sed 's/^/  | /'
done
echo "$ok passed, $bad failed, $skip skipped"
[ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]
