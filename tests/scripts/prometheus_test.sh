#!/usr/bin/env bash
# The metrics endpoint with Debian's real Prometheus (docs/operations.md, "Metrics for
# Prometheus"):
#   1. rustun-controlplane on loopback with a small configuration and `metrics.listen`; one scrape
#      of /metrics passes `promtool check metrics`; other paths answer 404;
#   2. examples/prometheus-alerts.yml passes `promtool check rules`;
#   3. a `prometheus` server on loopback (temporary configuration and storage) scrapes the
#      gateway; its HTTP API answers `up` = 1 and a rustun gauge with the configured value
#      (bounded wait); every expression of the alert rules and of examples/grafana-dashboard.json
#      evaluates without error.
# Everything runs in a temporary directory and is stopped on exit. Skips (77) unless root and
# promtool/prometheus are installed (scripts/setup.sh installs the `prometheus` package).
# Usage: prometheus_test.sh RUSTUN_CONTROLPLANE SOURCE_ROOT
set -euo pipefail
cp_bin=$1
src=$2
if [ "$(id -u)" -ne 0 ]; then echo "skip: not root"; exit 77; fi
for c in promtool prometheus; do
    command -v "$c" > /dev/null || { echo "skip: $c not installed (apt-get install prometheus)"; exit 77; }
done

tmp=$(mktemp -d /tmp/rustun-prometheus-test.XXXXXX)
cp_pid=""
prom_pid=""
cleanup() {
    [ -n "$prom_pid" ] && kill "$prom_pid" 2> /dev/null && wait "$prom_pid" 2> /dev/null
    [ -n "$cp_pid" ] && kill "$cp_pid" 2> /dev/null && wait "$cp_pid" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "prometheus-test: $*"
    for f in "$tmp"/cp.log "$tmp"/prometheus.log; do
        [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
    done
    exit 1
}

# HTTP GET on loopback; prints the body, or "HTTP <code>" for an error status.
http_get() {
    python3 - "$1" << 'PY'
import sys, urllib.request, urllib.error
try:
    sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
except urllib.error.HTTPError as e:
    print("HTTP %d" % e.code)
PY
}
# A free TCP port on 127.0.0.1 (for Prometheus; the gateway binds port 0 and logs its port).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cat > "$tmp/gateway.yaml" << YAML
listen: {tcp: 127.0.0.1:0}
crypto: chacha20:prometheus-test
control_socket: $tmp/control.sock
metrics: {listen: 127.0.0.1:0}
clusters:
  - name: alpha
    clients:
      - {identity: a1, private_ip: 10.9.0.1, mask: 255.255.255.0, gateway: 10.9.0.254}
      - {identity: a2, private_ip: 10.9.0.2, mask: 255.255.255.0, gateway: 10.9.0.254}
  - name: beta
    crypto: chacha20:prometheus-test-beta
    clients:
      - {identity: b1, private_ip: 10.9.0.1, mask: 255.255.255.0, gateway: 10.9.0.254}
YAML
"$cp_bin" --config "$tmp/gateway.yaml" > "$tmp/cp.log" 2>&1 &
cp_pid=$!
port=""
for _ in $(seq 50); do
    port=$(sed -n 's/.*metrics: http:.* (port \([0-9]*\)).*/\1/p' "$tmp/cp.log")
    [ -n "$port" ] && break
    kill -0 "$cp_pid" 2> /dev/null || fail "rustun-controlplane exited"
    sleep 0.1
done
[ -n "$port" ] || fail "no metrics port in the log"

# 1. One scrape, checked by promtool.
http_get "http://127.0.0.1:$port/metrics" > "$tmp/scrape.txt"
grep -q '^rustun_cluster_clients_configured{cluster="alpha"} 2$' "$tmp/scrape.txt" || fail "no alpha gauge in the scrape"
promtool check metrics < "$tmp/scrape.txt" || fail "promtool check metrics"
[ "$(http_get "http://127.0.0.1:$port/")" = "HTTP 404" ] || fail "/ is not 404"
echo "ok: scrape ($(wc -l < "$tmp/scrape.txt") lines) passes promtool check metrics"

# 2. The example alert rules.
promtool check rules "$src/examples/prometheus-alerts.yml" || fail "promtool check rules"

# 3. A Prometheus server scraping the gateway.
prom_port=$(free_port)
cat > "$tmp/prometheus.yml" << YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$src/examples/prometheus-alerts.yml"]
scrape_configs:
  - job_name: rustun
    static_configs: [{targets: ["127.0.0.1:$port"]}]
YAML
promtool check config "$tmp/prometheus.yml" > /dev/null || fail "promtool check config"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$prom_port" > "$tmp/prometheus.log" 2>&1 &
prom_pid=$!

# Instant query -> the first sample's value ("" if none yet or Prometheus is not up).
query() {
    python3 - "http://127.0.0.1:$prom_port/api/v1/query" "$1" << 'PY'
import json, sys, urllib.parse, urllib.request
try:
    url = sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]})
    r = json.load(urllib.request.urlopen(url, timeout=5))
    res = r["data"]["result"]
    print(res[0]["value"][1] if r["status"] == "success" and res else "")
except Exception:
    print("")
PY
}
up="" alpha=""
for _ in $(seq 60); do
    kill -0 "$prom_pid" 2> /dev/null || fail "prometheus exited"
    up=$(query 'up{job="rustun"}')
    alpha=$(query 'rustun_cluster_clients_configured{job="rustun",cluster="alpha"}')
    [ "$up" = "1" ] && [ "$alpha" = "2" ] && break
    sleep 0.5
done
[ "$up" = "1" ] || fail "Prometheus: up{job=\"rustun\"} = '$up' after 30 s"
[ "$alpha" = "2" ] || fail "Prometheus: clients configured in alpha = '$alpha' after 30 s"
echo "ok: Prometheus scraped the gateway (up = 1, alpha configured = 2)"

# Every expression of the alert rules and of the dashboard evaluates (valid PromQL, known names).
check_examples() {
    python3 - "http://127.0.0.1:$prom_port/api/v1/query" "$src/examples/grafana-dashboard.json" "$tmp/scrape.txt" << 'PY'
import json, re, sys, urllib.parse, urllib.request
api, dash_path, scrape_path = sys.argv[1:4]
types = re.findall(r"^# TYPE (\S+) (\S+)", open(scrape_path).read(), re.M)
known = {n for n, _ in types} | {"up"}
# A histogram's series are its name with _bucket, _sum and _count.
known |= {n + sfx for n, t in types if t == "histogram" for sfx in ("_bucket", "_sum", "_count")}
exprs = []
rules = json.load(urllib.request.urlopen(api.replace("/query", "/rules"), timeout=5))
for g in rules["data"]["groups"]:
    exprs += [("rule " + r["name"], r["query"]) for r in g["rules"]]
for p in json.load(open(dash_path))["panels"]:
    exprs += [("panel " + p["title"], t["expr"].replace("$instance", ".*")) for t in p["targets"]]
bad = 0
for what, e in exprs:
    for name in re.findall(r"\b(rustun_[a-z0-9_]+|up)\b", e):
        if name not in known:
            print("%s: unknown metric %s" % (what, name)); bad += 1
    try:
        r = json.load(urllib.request.urlopen(api + "?" + urllib.parse.urlencode({"query": e}), timeout=5))
        ok = r["status"] == "success"
    except Exception as ex:
        ok = False
        print(ex)
    if not ok:
        print("%s: does not evaluate: %s" % (what, e)); bad += 1
print("ok: %d example expressions evaluate" % len(exprs))
sys.exit(1 if bad else 0)
PY
}
check_examples || fail "an example expression does not evaluate"
echo "PASS"
