#!/usr/bin/env bash
# rustun-dataplane --check-config: every error on stderr with file, line, column and key path
# (exit 1), or the summary and the warnings on stdout (exit 0); never starts EAL (no hugepages,
# no DPDK runtime files, works as any user).
set -euo pipefail
dp_bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "dataplane-check-config: $*"; exit 1; }

cat > good.yaml <<'YAML'
listen: {tcp: 127.0.0.1:0, udp: 192.0.2.1:51258}
crypto: xor:k
dataplane:
  eal_args: [--no-pci, -l, "0-2", --file-prefix=never-started]
  port: net_pcap0
  workers: 2
  address: 192.0.2.1
  rx_descriptors: 512
YAML
"$dp_bin" --config good.yaml --check-config > out.txt 2> err.txt || { cat err.txt; fail "good.yaml failed"; }
grep -q "^good.yaml: OK: port net_pcap0, relay 192.0.2.1:51258, 2 worker(s) on 3 lcore(s)" out.txt || { cat out.txt; fail "no summary"; }
grep -q "^warning: good.yaml: line 2, column 9: crypto: xor is not encryption" out.txt || { cat out.txt; fail "no xor warning"; }
[ -s err.txt ] && { cat err.txt; fail "stderr not empty for a good file"; }
[ -n "$(tail -c1 out.txt)" ] && fail "output lacks a final newline"
# EAL was not started: no runtime directory of that prefix.
[ -e /var/run/dpdk/never-started ] && fail "EAL ran (runtime directory created)"
# The EAL args after -- count.
"$dp_bin" --config good.yaml --check-config -- -l 0 > out.txt 2> err.txt && fail "-l 0 gives one lcore: must fail"
grep -q "dataplane.workers: 2 workers need 3 lcores (main + workers), the EAL arguments give 1" err.txt || { cat err.txt; fail "no lcore error"; }

cat > bad.yaml <<'YAML'
listen: {tcp: 127.0.0.1:0}
crypto: chacha20:k
dataplane:
  eal_args: ["--lcores=(0-1)@(0-1)"]
  port: p
  address: 192.0.2.300
  workers: 2
  rx_descriptors: 1000
  tx_descriptors: 100000
  channel_group: no-such-group-rustun
YAML
if "$dp_bin" --config bad.yaml --check-config > out.txt 2> err.txt; then fail "bad.yaml passed"; fi
[ -s out.txt ] && fail "errors printed on stdout"
expected=(
  "rustun-dataplane: bad.yaml: line 8, column 19: dataplane.rx_descriptors: expected 0 (the build's default) or a power of two up to 32768"
  "rustun-dataplane: bad.yaml: line 9, column 19: dataplane.tx_descriptors: expected an integer 0..32768"
  "rustun-dataplane: bad.yaml: line 6, column 12: dataplane.address: expected an IPv4 address"
)
for e in "${expected[@]}"; do grep -qF "$e" err.txt || { cat err.txt; fail "missing: $e"; }; done
[ "$(wc -l < err.txt)" -eq ${#expected[@]} ] || { cat err.txt; fail "expected ${#expected[@]} errors"; }
[ -n "$(tail -c1 err.txt)" ] && fail "errors lack a final newline"

# Errors of a loadable file: no listen.udp, unknown group, too few lcores (all at once).
cat > cross.yaml <<'YAML'
listen: {tcp: 127.0.0.1:0}
crypto: chacha20:k
dataplane: {eal_args: ["--lcores=(0-1)@(0-1)"], port: p, address: 192.0.2.1, workers: 2, channel_group: no-such-group-rustun}
YAML
if "$dp_bin" --config cross.yaml --check-config > out.txt 2> err.txt; then fail "cross.yaml passed"; fi
grep -qF "cross.yaml: listen.udp: required with a non-zero port" err.txt || { cat err.txt; fail "no listen.udp error"; }
grep -qF "cross.yaml: dataplane.channel_group: no group named \"no-such-group-rustun\"" err.txt || { cat err.txt; fail "no group error"; }
grep -qF "dataplane.workers: 2 workers need 3 lcores (main + workers), the EAL arguments give 2" err.txt || { cat err.txt; fail "no --lcores error"; }
# A file without a dataplane section.
printf 'listen: {tcp: 127.0.0.1:0, udp: 127.0.0.1:9}\ncrypto: plain\n' > none.yaml
if "$dp_bin" --config none.yaml --check-config 2> err.txt; then fail "none.yaml passed"; fi
grep -qF "none.yaml: dataplane: missing section" err.txt || { cat err.txt; fail "no missing-section error"; }
echo "dataplane-check-config: ok"
