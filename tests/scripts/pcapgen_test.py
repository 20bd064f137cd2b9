#!/usr/bin/python3
"""rustun-pcapgen writes what a gateway accepts: per client one KeepAlive (with `seq`) to the
gateway's port, then Data frames whose inner IPv4 packets go from the client's private IP to its
partner's, all sealed with the cluster key ("<method>:loadgen-<c>", docs/load-testing.md)."""
import json
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from scapy.all import IP, UDP, rdpcap

pcapgen = sys.argv[1]
failures = 0
passes = 0


def check(what, ok):
    global failures, passes
    print(("ok   - " if ok else "FAIL - ") + what)
    failures += not ok
    passes += bool(ok)


for method, aead in (("chacha20", ChaCha20Poly1305), ("aes256", AESGCM)):
    with tempfile.NamedTemporaryFile(suffix=".pcap") as f:
        subprocess.run([pcapgen, "gen", "--out", f.name, "--clients", "4", "--clusters", "2", "--cipher", method,
                        "--size", "100", "--per-flow", "2"], check=True, capture_output=True)
        pkts = rdpcap(f.name)
    check(f"{method}: 4 KeepAlives + 8 Data frames", len(pkts) == 12)
    keepalives = data = 0
    for p in pkts:
        frame = bytes(p[UDP].payload)
        client = p[UDP].sport - 10000
        cluster = client // 2
        key = f"loadgen-{cluster}".encode().ljust(32, b"\0")[:32]
        if frame[:5] != bytes.fromhex("9192939401") or int.from_bytes(frame[6:8], "big") != len(frame) - 8:
            check(f"{method}: frame header of client {client}", False)
            continue
        plain = aead(key).decrypt(frame[8:20], frame[20:], None)
        if frame[5] == 2:
            body = json.loads(plain)
            keepalives += body["identity"] == f"lg{client}" and body.get("seq", 0) > 0
        elif frame[5] == 3:
            inner = IP(plain)
            j = client % 2
            data += inner.src == f"10.0.0.{j + 1}" and inner.dst == f"10.0.0.{(j ^ 1) + 1}" and len(plain) == 100
        check(f"{method}: to the gateway's port 8080", p[UDP].dport == 8080)
    check(f"{method}: every KeepAlive names its client and carries seq ({keepalives}/4)", keepalives == 4)
    check(f"{method}: every Data frame opens with its cluster key, addressed to the partner ({data}/8)", data == 8)

# The two pcaps of a pktgen run: the KeepAlives alone (replayed first), then the Data alone.
with tempfile.TemporaryDirectory() as d:
    for flag, want in (("--keepalives-only", {2: 4}), ("--no-keepalives", {3: 8})):
        subprocess.run([pcapgen, "gen", "--out", f"{d}/x.pcap", "--clients", "4", "--clusters", "2", "--cipher", "xor",
                        "--size", "100", "--per-flow", "2", flag], check=True, capture_output=True)
        types = {}
        for p in rdpcap(f"{d}/x.pcap"):
            t = bytes(p[UDP].payload)[5]
            types[t] = types.get(t, 0) + 1
        check(f"{flag}: frame types {types}", types == want)
    both = subprocess.run([pcapgen, "gen", "--out", f"{d}/y.pcap", "--no-keepalives", "--keepalives-only"], capture_output=True)
    check("--no-keepalives with --keepalives-only is refused", both.returncode != 0)

print(f"{passes} passed, {failures} failed")
sys.exit(1 if failures else 0)
