#!/usr/bin/python3
"""Print a rustun-dataplane telemetry command's reply as JSON (default /rustun/stats): the counters
the pktgen scripts read (RUSTUN_STATS="python3 scripts/pktgen/dp_stats.py FILE_PREFIX"), with no
control plane and no dpdk-telemetry.py (which Debian 12's dpdk package does not ship). A plain
command, so /bin/sh (dash), which runs pktgen's io.popen, accepts it.

Usage: dp_stats.py FILE_PREFIX [COMMAND]   FILE_PREFIX = the dataplane's EAL --file-prefix
"""
import json
import socket
import sys

if len(sys.argv) not in (2, 3):
    sys.exit(__doc__.strip().splitlines()[-2])
prefix = sys.argv[1]
cmd = sys.argv[2] if len(sys.argv) == 3 else "/rustun/stats"
path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
try:
    s.connect(path)
except OSError as e:
    sys.exit(f"dp_stats.py: {path}: {e.strerror} (is rustun-dataplane running with --file-prefix={prefix}?)")
hello = json.loads(s.recv(16384).decode())
s.send(cmd.encode())
reply = json.loads(s.recv(hello.get("max_output_len", 16384)).decode())
print(json.dumps(reply.get(cmd)))
