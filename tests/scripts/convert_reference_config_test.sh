#!/usr/bin/env bash
# The reference-config converter: its output must load in rustun-controlplane --check-config,
# both with clients_file and inline, and bad input must name the key.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cp_bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cp "$src/examples/routes.json" routes.json
printf '[server_config]\nlisten_addr = "127.0.0.1:8080"\n[crypto_config]\naes256 = "k:e:y"\n[route_config]\nroutes_file = "./routes.json"\n' > server.toml
python3 "$src/scripts/convert-reference-config.py" server.toml -o file.yaml
python3 "$src/scripts/convert-reference-config.py" server.toml --inline -o inline.yaml
"$cp_bin" --config file.yaml --check-config | grep -q "1 cluster(s), 3 client(s)"
"$cp_bin" --config inline.yaml --check-config | grep -q "1 cluster(s), 3 client(s)"
grep -q 'crypto: "aes256:k:e:y"' inline.yaml
grep -q 'name: "上海网关"' inline.yaml
printf 'crypto_config = "plain"\n[server_config]\nlisten_addr = "127.0.0.1:8080"\n[route_config]\nroutes_file = "./routes.json"\n' > plain.toml
python3 "$src/scripts/convert-reference-config.py" plain.toml | grep -q 'crypto: "plain"'
printf '[server_config]\nlisten_addr = "127.0.0.1:8080"\n[crypto_config]\nblowfish = "x"\n[route_config]\nroutes_file = "./routes.json"\n' > bad.toml
if python3 "$src/scripts/convert-reference-config.py" bad.toml 2> err.txt; then echo "bad cipher accepted"; exit 1; fi
grep -q "crypto_config.blowfish: unknown cipher" err.txt
# Clusters that share a key are named in a warning (the key itself never printed).
printf 'listen: {tcp: 127.0.0.1:0}\ncrypto: chacha20:secret\nclusters:\n  - {name: east}\n  - {name: west}\n  - {name: own, crypto: "aes256:x"}\n' > shared.yaml
"$cp_bin" --config shared.yaml --check-config > shared.txt
grep -q "^warning: clusters 'east', 'west' share one key (chacha20)" shared.txt
if grep -q secret shared.txt; then echo "key printed"; exit 1; fi
if grep -q "'own'" shared.txt; then echo "own cluster listed"; exit 1; fi
# --check-config output (summary, warnings, errors) ends with a newline.
"$cp_bin" --config file.yaml --check-config > ok.txt
if "$cp_bin" --config bad.toml --check-config > bad.txt 2>&1; then echo "a TOML file passed --check-config"; exit 1; fi
for f in ok.txt shared.txt bad.txt; do
    if [[ ! -s $f || -n "$(tail -c1 "$f")" ]]; then echo "--check-config output $f lacks a final newline"; exit 1; fi
done
# Every table or key the converter drops is named on stderr; the output is still written and loads.
cat > extra.toml <<'TOML'
log_level = "debug"
[server_config]
listen_addr = "127.0.0.1:8080"
max_clients = 100
[crypto_config]
aes256 = "k"
[route_config]
routes_file = "./routes.json"
reload = true
[conf_agent]
url = "http://127.0.0.1:9000"
[metrics]
port = 9100
TOML
python3 - routes.json > extra-routes.json <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
e[1]["tags"] = ["x"]
json.dump(e, sys.stdout, ensure_ascii=False)
PY
sed -i 's#"./routes.json"#"./extra-routes.json"#' extra.toml
python3 "$src/scripts/convert-reference-config.py" extra.toml --inline -o extra.yaml 2> warn.txt
for w in "extra.toml: server_config.max_clients: unknown key, dropped" \
         "extra.toml: route_config.reload: unknown key, dropped" \
         "extra.toml: [conf_agent]: dropped" \
         "extra.toml: metrics: unknown table, dropped" \
         "extra.toml: log_level: unknown key, dropped" \
         "extra-routes.json: [1].tags: unknown member, dropped"; do
    grep -qF "convert-reference-config: warning: " warn.txt || { cat warn.txt; exit 1; }
    grep -qF "$w" warn.txt || { cat warn.txt; echo "converter did not warn: $w"; exit 1; }
done
[ "$(grep -c 'warning: ' warn.txt)" -eq 6 ] || { cat warn.txt; echo "expected exactly 6 warnings"; exit 1; }
"$cp_bin" --config extra.yaml --check-config | grep -q "1 cluster(s), 3 client(s)"
# A file with nothing to drop gives no warning.
python3 "$src/scripts/convert-reference-config.py" server.toml -o quiet.yaml 2> quiet.txt
if grep -q "warning" quiet.txt; then cat quiet.txt; echo "warning for a complete file"; exit 1; fi
echo "converter: ok"
