#!/usr/bin/env bash
# Regenerates send.pcap/expect.pcap of every dataplane functional scenario (or of those named).
#   tests/dataplane/regen.sh                 # all scenarios, in place
#   tests/dataplane/regen.sh 013-auth-failed # one
#   tests/dataplane/regen.sh --check         # regenerate into a temp dir and compare with the
#                                            # committed pcaps (exit 1 if any differs)
# Needs Debian's python3-scapy, python3-yaml, python3-cryptography: runs /usr/bin/python3
# (a pyenv `python3` on PATH usually lacks scapy). Generation is deterministic (fixed nonces
# "NONCE-"||counter, fixed pcap timestamps), so an unchanged gen.py gives identical bytes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=${PYTHON:-/usr/bin/python3}
check=0
names=()
for a in "$@"; do
    case "$a" in
        --check) check=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) names+=("$a") ;;
    esac
done
if [ ${#names[@]} -eq 0 ]; then
    for d in "$here"/functional/[0-9]*/; do names+=("$(basename "$d")"); done
fi
status=0
for n in "${names[@]}"; do
    dir="$here/functional/$n"
    [ -f "$dir/gen.py" ] || { echo "no $dir/gen.py" >&2; exit 2; }
    if [ $check -eq 1 ]; then
        tmp="$(mktemp -d)"
        "$py" "$dir/gen.py" "$tmp" > /dev/null
        for f in send.pcap expect.pcap; do
            if ! cmp -s "$tmp/$f" "$dir/$f"; then
                echo "DIFFERS: $n/$f (run tests/dataplane/regen.sh $n and commit)"
                status=1
            fi
        done
        rm -rf "$tmp"
    else
        echo "== $n"
        "$py" "$dir/gen.py" | sed 's/^/   /'
    fi
done
[ $check -eq 1 ] && [ $status -eq 0 ] && echo "all pcaps up to date"
exit $status
