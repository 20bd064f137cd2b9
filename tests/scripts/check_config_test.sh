#!/usr/bin/env bash
# rustun-controlplane --check-config: every error on stderr with file, line, column and key path
# (exit 1); a loadable file gives the summary and every warning (weak ciphers, clusters sharing a
# key; exit 0).
set -euo pipefail
cp_bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "check-config: $*"; exit 1; }

cat > bad.yaml <<'YAML'
listen: {tcp: 127.0.0.1:0, udp: 10.0.0.1:8080}
crypto: chacha20:k
controlplane: {workers: 0, bogus: 1}
dataplane: {port: p, address: 192.0.2.1}
clusters:
  - name: a
    clients:
      - {identity: i1, private_ip: 10.0.0.300, mask: 255.255.255.0, gateway: 10.0.0.254}
YAML
if "$cp_bin" --config bad.yaml --check-config > out.txt 2> err.txt; then fail "bad.yaml passed"; fi
[ -s out.txt ] && fail "errors printed on stdout"
expected=(
  "rustun-controlplane: bad.yaml: line 3, column 28: controlplane.bogus: unknown key"
  "rustun-controlplane: bad.yaml: line 3, column 25: controlplane.workers: expected an integer 1..256"
  "rustun-controlplane: bad.yaml: line 1, column 33: listen.udp: address differs from dataplane.address 192.0.2.1"
  "rustun-controlplane: bad.yaml: line 8, column 36: clusters[0].clients[0].private_ip: expected an IPv4 address"
)
[ "$(wc -l < err.txt)" -eq ${#expected[@]} ] || { cat err.txt; fail "expected ${#expected[@]} errors"; }
for i in "${!expected[@]}"; do
    line=$(sed -n "$((i + 1))p" err.txt)
    [[ $line == "${expected[$i]}"* ]] || fail "error $((i + 1)): got '$line', expected '${expected[$i]}...'"
done

cat > weak.yaml <<'YAML'
listen: {tcp: 127.0.0.1:0}
crypto: plain
clusters:
  - {name: x, crypto: "xor:k"}
  - {name: s1, crypto: "aes256:same"}
  - {name: s2, crypto: "aes256:same"}
YAML
"$cp_bin" --config weak.yaml --check-config > out.txt 2> err.txt || { cat err.txt; fail "weak.yaml failed"; }
grep -q "^weak.yaml: OK: " out.txt || fail "no summary"
grep -q "^warning: weak.yaml: line 2, column 9: crypto: plain: " out.txt || fail "no plain warning"
grep -q "^warning: weak.yaml: line 4, column 23: clusters\[0\].crypto: xor is not encryption" out.txt || fail "no xor warning"
grep -q "^warning: clusters 's1', 's2' share one key (aes256)" out.txt || fail "no shared-key warning"
grep -q same out.txt && fail "a key was printed"

# Route conflicts: warnings naming both clients, the prefixes and where each client is defined;
# the gateway logs the same lines when it loads the file.
cat > routes.yaml <<YAML
listen: {tcp: 127.0.0.1:0}
crypto: chacha20:k
control_socket: $tmp/ctl.sock
clusters:
  - name: a
    clients:
      - {identity: i1, private_ip: 10.0.0.1, mask: 255.255.255.0, gateway: 10.0.0.254, ciders: [192.168.1.0/24]}
      - {identity: i2, private_ip: 10.0.0.2, mask: 255.255.255.0, gateway: 10.0.0.254, ciders: [192.168.1.0/24]}
YAML
"$cp_bin" --config routes.yaml --check-config > out.txt 2> err.txt || { cat err.txt; fail "routes.yaml failed"; }
conflict="route conflict in cluster 'a': CIDR 192.168.1.0/24 of client 'i2' (routes.yaml: line 8, column 9: clusters[0].clients[1]) claims the same prefix as CIDR 192.168.1.0/24 of client 'i1' (routes.yaml: line 7, column 9: clusters[0].clients[0])"
grep -qF "warning: $conflict" out.txt || { cat out.txt; fail "no route conflict warning"; }
timeout -s INT 2 "$cp_bin" --config routes.yaml > log.txt 2>&1 || true
grep -qF "$conflict" log.txt || { cat log.txt; fail "the gateway did not log the route conflict"; }
echo "check-config: ok"
