#!/usr/bin/env bash
# The systemd units, tmpfiles entry, hugepage pre-check and example configuration of
# packaging/ (installed by debian/): `systemd-analyze verify` on the units with their
# /usr/bin commands mapped to this build's binaries, the pre-check's pass and fail against a
# fake sysfs, the tmpfiles line applied under a scratch root, and the example /etc/rustun file
# passes --check-config. Skips (77) without systemd-analyze.
#   usage: systemd_units_test.sh SOURCE_ROOT DATAPLANE CONTROLPLANE RUSTUNCTL
set -euo pipefail
src=$1
dp=$(readlink -f "$2") cp=$(readlink -f "$3") ctl=$(readlink -f "$4")   # unit commands are absolute
pkg=$src/packaging/systemd
if ! command -v systemd-analyze > /dev/null; then
    echo "SKIP: no systemd-analyze"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. The units, with the installed paths replaced by this tree's (verify checks they exist).
for u in rustun-dataplane rustun-controlplane; do
    sed -e "s#/usr/bin/rustun-dataplane#$dp#; s#/usr/bin/rustun-controlplane#$cp#; s#/usr/bin/rustunctl#$ctl#" \
        -e "s#/usr/libexec/rustun/#$pkg/#" "$pkg/$u.service" > "$tmp/$u.service"
    if grep -n '/usr/' "$tmp/$u.service" | grep -v -e '^[0-9]*:#' -e 'Documentation='; then
        fail "$u.service: a /usr path this test does not map"
    fi
done
(cd "$tmp" && systemd-analyze verify --man=no ./rustun-dataplane.service ./rustun-controlplane.service) > "$tmp/verify.txt" 2>&1 ||
    { cat "$tmp/verify.txt"; fail "systemd-analyze verify"; }
# Warnings (unknown keys, bad values) do not change the exit code: any output is a failure.
if [ -s "$tmp/verify.txt" ]; then cat "$tmp/verify.txt"; fail "systemd-analyze verify printed warnings"; fi
echo "ok: systemd-analyze verify"
grep -q '^Type=notify$' "$pkg/rustun-dataplane.service" || fail "the dataplane unit is not Type=notify"
grep -q '^ExecReload=/usr/bin/rustunctl reload$' "$pkg/rustun-controlplane.service" || fail "ExecReload is not rustunctl reload"
grep -q '^After=.*rustun-dataplane.service' "$pkg/rustun-controlplane.service" || fail "the control plane does not start after the dataplane"

# 2. The hugepage pre-check against a fake /sys/kernel/mm/hugepages.
mkdir -p "$tmp/hp/hugepages-2048kB" "$tmp/hp/hugepages-1048576kB"
echo 100 > "$tmp/hp/hugepages-2048kB/free_hugepages"    # 200 MiB
echo 0 > "$tmp/hp/hugepages-1048576kB/free_hugepages"
check() { RUSTUN_HUGEPAGES_SYSFS=$tmp/hp "$pkg/rustun-hugepage-check" "$@"; }
check 128 > /dev/null || fail "hugepage check: 200 MiB free refused for 128 MiB"
if check 512 2> "$tmp/hp.err"; then fail "hugepage check: 200 MiB free accepted for 512 MiB"; fi
grep -q "only 200 MiB of hugepages free" "$tmp/hp.err" || { cat "$tmp/hp.err"; fail "hugepage check: message lacks the amount"; }
grep -q "nr_hugepages" "$tmp/hp.err" || fail "hugepage check: message lacks the fix"
echo 1 > "$tmp/hp/hugepages-1048576kB/free_hugepages"    # + 1 GiB
check 1224 > /dev/null || fail "hugepage check: 1 GiB pages not counted"
check 0 > /dev/null || fail "hugepage check: 0 does not disable it"
set +e; check 12x > /dev/null 2>&1; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "hugepage check: a bad argument exits $rc, expected 2"
mkdir -p "$tmp/none"
if RUSTUN_HUGEPAGES_SYSFS=$tmp/none "$pkg/rustun-hugepage-check" 1 2> /dev/null; then fail "hugepage check: no sizes accepted"; fi
echo "ok: hugepage pre-check"

# 3. The tmpfiles line, applied under a scratch root (needs root for the owner).
if [ "$(id -u)" -eq 0 ]; then
    systemd-tmpfiles --create --root="$tmp/root" "$pkg/rustun.tmpfiles" || fail "systemd-tmpfiles --create"
    [ "$(stat -c %a:%U "$tmp/root/run/rustun")" = "755:root" ] || fail "tmpfiles: /run/rustun is $(stat -c %a:%U "$tmp/root/run/rustun")"
    echo "ok: tmpfiles"
fi

# 4. The /etc/rustun example the package installs loads.
"$cp" --config "$src/examples/gateway-systemd.yaml" --check-config > "$tmp/check.txt" 2>&1 ||
    { cat "$tmp/check.txt"; fail "examples/gateway-systemd.yaml does not pass --check-config"; }
echo "ok: examples/gateway-systemd.yaml"
