# Preamble of every integration test: skip checks, work dir, namespaces, cleanup trap, verdicts.
# Sourced by tests/integration/test-*.sh after setting TEST_NAME.
set -uo pipefail
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$LAB_ROOT/tests/integration/lib.sh"

lab_require
LAB_LIMIT=${LAB_LIMIT:-60}
P="ri$(( $$ % 10000 ))"
WORK=$(mktemp -d "/tmp/rustun-integ-${TEST_NAME}-XXXXXX")
FAILED=0
KEEP=${INTEG_KEEP:-0}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    lab_cleanup
    if [ "$FAILED" -ne 0 ] || [ "$rc" -ne 0 ]; then
        echo "---- dataplane.log (tail)"; tail -n 25 "$WORK/dataplane.log" 2>/dev/null
        echo "---- controlplane.log (tail)"; tail -n 25 "$WORK/controlplane.log" 2>/dev/null
        echo "FAIL: $TEST_NAME (logs kept in $WORK)"
        exit 1
    fi
    [ "$KEEP" = 1 ] && echo "work dir kept: $WORK" || rm -rf "$WORK"
    echo "PASS: $TEST_NAME"
    exit 0
}
trap finish EXIT
trap 'exit 130' INT TERM

check() {  # DESCRIPTION COMMAND... : records a failure, goes on
    local what=$1
    shift
    if "$@"; then
        echo "ok   - $what"
    else
        echo "FAIL - $what"
        FAILED=1
    fi
}
die() { echo "FAIL - $*"; FAILED=1; exit 1; }
ge() { [ "${1:-0}" != null ] && [ "${1:-0}" -ge "$2" ]; }
le() { [ "${1:-0}" != null ] && [ "${1:-0}" -le "$2" ]; }
eq() { [ "$1" = "$2" ]; }

lab_setup_net || die "namespace set-up"
lab_write_config "$WORK/gateway.yaml" "$P"
