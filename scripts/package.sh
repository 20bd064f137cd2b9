#!/usr/bin/env bash
# Builds the Debian packages (debian/) from a scratch copy of this tree and checks them:
#   dpkg-buildpackage -us -uc -b  ->  rustun-gateway, rustun-client, rustun-tools (.deb);
#   each holds its binaries, man pages, and (gateway) the systemd units and tmpfiles entry as in
#   packaging/systemd/ (the meson test packaging-systemd-units verifies those), the hugepage
#   pre-check and the /etc/rustun examples; only the gateway and tools depend on DPDK;
#   lintian reports no error (its warnings and infos are printed and kept in OUTDIR/lintian.txt).
# The copy holds the files git knows (tracked and new, not ignored): build directories and
# editor files never reach the package. Nothing is installed on this machine.
#   usage: scripts/package.sh [OUTDIR]      (default build/packages; the .deb files land there)
# Environment: PACKAGE_JOBS (default 2) parallel compile jobs; PACKAGE_CHECK_ONLY=1 skips the
# build and checks the .deb files already in OUTDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-build/packages}
jobs=${PACKAGE_JOBS:-2}
log() { printf '[package] %s\n' "$*"; }
problem() { echo "package: $*" >&2; failed=1; }

for c in dpkg-buildpackage dh help2man lintian; do
    command -v "$c" > /dev/null || { echo "package: $c missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
tmp=$(mktemp -d /tmp/rustun-package.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
start=$(date +%s)

if [ "${PACKAGE_CHECK_ONLY:-0}" = 1 ]; then
    log "checking the packages already in $out"
else
    mkdir "$tmp/src"
    if git -C "$root" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
        git -C "$root" ls-files -z --cached --others --exclude-standard |
            grep -zv -e '^build' -e '^debian/build/' | xargs -0 tar -C "$root" -cf - | tar -C "$tmp/src" -xf -
    else
        tar -C "$root" --exclude='./build*' --exclude=./debian/build -cf - . | tar -C "$tmp/src" -xf -
    fi
    log "dpkg-buildpackage -us -uc -b -j$jobs (log: $out/dpkg-buildpackage.log)"
    if ! (cd "$tmp/src" && nice -n 10 dpkg-buildpackage -us -uc -b -j"$jobs") > "$out/dpkg-buildpackage.log" 2>&1; then
        tail -n 40 "$out/dpkg-buildpackage.log" >&2
        echo "package: dpkg-buildpackage failed" >&2
        exit 1
    fi
    log "built in $(( $(date +%s) - start )) s"
    for p in rustun-gateway rustun-client rustun-tools; do
        rm -f "$out/${p}_"*.deb
        [ -f "$tmp/${p}_${version}_${arch}.deb" ] && cp "$tmp/${p}_${version}_${arch}.deb" "$out/"
    done
fi
failed=0

# Contents: each package holds what it must (paths as dpkg -c prints them, without "./").
declare -A want
want[rustun-gateway]="usr/bin/rustun-dataplane usr/bin/rustun-controlplane usr/bin/rustunctl
  lib/systemd/system/rustun-dataplane.service lib/systemd/system/rustun-controlplane.service
  usr/lib/tmpfiles.d/rustun.conf usr/libexec/rustun/rustun-hugepage-check
  etc/rustun/gateway.yaml.example etc/rustun/routes.json.example
  usr/share/man/man1/rustun-dataplane.1.gz usr/share/man/man1/rustun-controlplane.1.gz
  usr/share/man/man1/rustunctl.1.gz usr/share/doc/rustun-gateway/operations.md.gz"
want[rustun-client]="usr/bin/rustun-client usr/share/man/man1/rustun-client.1.gz"
want[rustun-tools]=""
for t in rustun-loadgen rustun-memif-fwd rustun-pcapgen rustun-crypto-bench rustun-cp-bench rustun-udp-relay-baseline rustun-page-walk rustun-dp-smoke; do
    want[rustun-tools]+=" usr/bin/$t usr/share/man/man1/$t.1.gz"
done
debs=()
for p in rustun-gateway rustun-client rustun-tools; do
    deb="$out/${p}_${version}_${arch}.deb"
    [ -f "$deb" ] || { problem "$deb was not built"; continue; }
    debs+=("$deb")
    dpkg -c "$deb" | awk '{print $6}' | sed 's#^\./##' > "$tmp/$p.list"
    missing=0
    for f in ${want[$p]}; do
        grep -qx "$f" "$tmp/$p.list" || { problem "$p lacks /$f"; missing=1; }
    done
    [ "$missing" -eq 0 ] && log "$p: $(grep -c '[^/]$' "$tmp/$p.list") files, all expected ones present"
    dpkg -x "$deb" "$tmp/root"
done
# Only the gateway and the tools depend on DPDK (and its mempool driver, which nothing links).
dpkg-deb -f "$out/rustun-client_${version}_${arch}.deb" Depends | grep -q librte && problem "rustun-client depends on DPDK"
dpkg-deb -f "$out/rustun-gateway_${version}_${arch}.deb" Depends | grep -q librte-mempool-ring ||
    problem "rustun-gateway does not depend on librte-mempool-ring (the mbuf pool's driver)"
# The units and tmpfiles entry are the ones of packaging/systemd/.
for f in lib/systemd/system/rustun-dataplane.service lib/systemd/system/rustun-controlplane.service; do
    cmp -s "$tmp/root/$f" "packaging/systemd/${f##*/}" || problem "/$f differs from packaging/systemd/${f##*/}"
done
cmp -s "$tmp/root/usr/lib/tmpfiles.d/rustun.conf" packaging/systemd/rustun.tmpfiles ||
    problem "/usr/lib/tmpfiles.d/rustun.conf differs from packaging/systemd/rustun.tmpfiles"
# The man pages are real: NAME from debian/manpages.txt, the options from --help (groff escapes '-').
man=$tmp/root/usr/share/man/man1/rustun-dataplane.1.gz
[ -f "$man" ] && { zcat "$man" | grep -q 'DPDK UDP relay' || problem "rustun-dataplane.1 has no NAME line"; }
[ -f "$man" ] && { zcat "$man" | grep -qF 'stop\-when\-idle' || problem "rustun-dataplane.1 lacks the options"; }

# lintian: errors fail; warnings and infos are shown (none is overridden).
if [ ${#debs[@]} -gt 0 ]; then
    if lintian --fail-on error --display-info --tag-display-limit 0 "${debs[@]}" > "$out/lintian.txt" 2>&1; then
        log "lintian: no errors, $(grep -c '^W: ' "$out/lintian.txt" || true) warning(s), $(grep -c '^I: ' "$out/lintian.txt" || true) info(s) ($out/lintian.txt)"
    else
        problem "lintian reports errors"
    fi
    grep -E '^[EWI]: ' "$out/lintian.txt" >&2 || true
fi

[ "$failed" -eq 0 ] || { echo "package: FAILED" >&2; exit 1; }
log "ok: ${#debs[@]} packages in $out ($(( $(date +%s) - start )) s)"
