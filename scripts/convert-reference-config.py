#!/usr/bin/env python3
"""Turn a reference Rustun server's server.toml (+ its routes.json) into a rustun-gateway YAML.

Usage: scripts/convert-reference-config.py SERVER_TOML [-o gateway.yaml] [--inline]
           [--control-socket PATH]

By default the YAML keeps using the reference routes.json through `clients_file` (so the same
file can keep being edited); --inline copies every client into the YAML instead. Errors name the
file and the key. Every table or key the conversion drops or cannot map is named in a warning on
standard error (the output is still written). Reads the reference format (docs/protocol.md, "The reference routes.json", both commits): server_config.
listen_addr, crypto_config (chacha20poly1305 | aes256 | xor = "key", or "plain"),
route_config.routes_file (relative to the current directory, as the reference resolves it).
"""
import argparse
import json
import os
import sys
import tomllib


def fail(msg):
    print(f"convert-reference-config: {msg}", file=sys.stderr)
    sys.exit(1)


def warn(msg):
    print(f"convert-reference-config: warning: {msg}", file=sys.stderr)


# The keys the conversion maps, per table ("" = top level); crypto_config is read whole.
MAPPED = {
    "server_config": {"listen_addr"},
    "route_config": {"routes_file"},
}
# routes.json members that --inline copies into the YAML.
CLIENT_MEMBERS = ("cluster", "identity", "name", "private_ip", "mask", "gateway", "ciders", "cider_mapping")


def warn_dropped(path, doc):
    """Warns about every table and key of `doc` (the parsed server.toml) that is not converted."""
    for key, value in doc.items():
        if key == "crypto_config":
            continue
        if key == "conf_agent":
            warn(f"{path}: [conf_agent]: dropped: the HTTP client-table sync has no equivalent "
                 "(edit the YAML or routes.json, then SIGHUP or rustunctl reload)")
        elif key not in MAPPED:
            kind = "table" if isinstance(value, dict) else "key"
            warn(f"{path}: {key}: unknown {kind}, dropped")
        elif isinstance(value, dict):
            for sub in value:
                if sub not in MAPPED[key]:
                    warn(f"{path}: {key}.{sub}: unknown key, dropped")


def yaml_str(s):
    # Double-quoted YAML scalar; json.dumps escaping is valid YAML for these strings.
    return json.dumps(s, ensure_ascii=False)


def crypto_spec(path, cc):
    names = {"chacha20poly1305": "chacha20", "aes256": "aes256", "xor": "xor"}
    if isinstance(cc, str):
        if cc.lower() == "plain":
            return "plain"
        fail(f"{path}: crypto_config: expected \"plain\" or a table, got {cc!r}")
    if not isinstance(cc, dict) or len(cc) != 1:
        fail(f"{path}: [crypto_config]: exactly one of chacha20poly1305, aes256, xor must be set")
    (k, v), = cc.items()
    if k not in names:
        fail(f"{path}: crypto_config.{k}: unknown cipher (chacha20poly1305, aes256, xor, or \"plain\")")
    if not isinstance(v, str):
        fail(f"{path}: crypto_config.{k}: the key must be a string")
    if k == "xor" and v == "":
        fail(f"{path}: crypto_config.xor: an empty XOR key is not allowed")
    return f"{names[k]}:{v}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("server_toml")
    ap.add_argument("-o", "--output", help="write here instead of standard output")
    ap.add_argument("--inline", action="store_true", help="copy the clients into the YAML")
    ap.add_argument("--control-socket", default="/run/rustun/control.sock")
    a = ap.parse_args()

    try:
        with open(a.server_toml, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        fail(f"{a.server_toml}: no such file")
    except tomllib.TOMLDecodeError as e:
        fail(f"{a.server_toml}: {e}")

    try:
        listen = doc["server_config"]["listen_addr"]
    except (KeyError, TypeError):
        fail(f"{a.server_toml}: server_config.listen_addr: missing (required)")
    if "crypto_config" not in doc:
        fail(f"{a.server_toml}: crypto_config: missing (required)")
    crypto = crypto_spec(a.server_toml, doc["crypto_config"])
    warn_dropped(a.server_toml, doc)
    try:
        routes = doc["route_config"]["routes_file"]
    except (KeyError, TypeError):
        fail(f"{a.server_toml}: route_config.routes_file: missing (required)")
    routes = os.path.abspath(routes)
    if not os.path.exists(routes):
        fail(f"{a.server_toml}: route_config.routes_file: {routes}: no such file")

    out = [
        f"# Converted from {os.path.abspath(a.server_toml)} by scripts/convert-reference-config.py",
        "listen:",
        f"  tcp: {yaml_str(listen)}",
        f"crypto: {yaml_str(crypto)}",
        f"control_socket: {yaml_str(a.control_socket)}",
    ]
    if "conf_agent" in doc:
        out.append("# note: [conf_agent] (HEAD's HTTP sync) has no equivalent; reload with SIGHUP or rustunctl reload")
    if not a.inline:
        out.append(f"clients_file: {yaml_str(routes)}")
    else:
        try:
            with open(routes, encoding="utf-8") as f:
                entries = json.load(f)
        except json.JSONDecodeError as e:
            fail(f"{routes}: line {e.lineno}, column {e.colno}: {e.msg}")
        if not isinstance(entries, list):
            fail(f"{routes}: expected a JSON array of clients")
        clusters = {}
        for i, e in enumerate(entries):
            for k in ("cluster", "identity", "private_ip", "mask", "gateway", "ciders"):
                if k not in e:
                    fail(f"{routes}: [{i}].{k}: missing (required)")
            clusters.setdefault(e["cluster"], []).append(e)
            for k in e:
                if k not in CLIENT_MEMBERS:
                    warn(f"{routes}: [{i}].{k}: unknown member, dropped")
        out.append("clusters:")
        for name, clients in clusters.items():
            out.append(f"  - name: {yaml_str(name)}")
            out.append("    clients:")
            for e in clients:
                out.append(f"      - identity: {yaml_str(e['identity'])}")
                out.append(f"        name: {yaml_str(e.get('name', ''))}")
                for k in ("private_ip", "mask", "gateway"):
                    out.append(f"        {k}: {yaml_str(e[k])}")
                out.append(f"        ciders: [{', '.join(yaml_str(c) for c in e['ciders'])}]")
                m = e.get("cider_mapping", {}) or {}
                out.append("        cider_mapping: {" + ", ".join(f"{yaml_str(k)}: {yaml_str(v)}" for k, v in m.items()) + "}")
    text = "\n".join(out) + "\n"
    if a.output:
        with open(a.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {a.output}; check it with: rustun-controlplane --config {a.output} --check-config", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
