#!/usr/bin/python3
"""Ask a DPDK process's telemetry socket one command (what dpdk-telemetry.py does), print the JSON.

Usage: telemetry_query.py FILE_PREFIX COMMAND   e.g.  telemetry_query.py rustun-lab-x /rustun/stats
"""
import json
import socket
import sys

prefix, cmd = sys.argv[1], sys.argv[2]
path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(path)
hello = json.loads(s.recv(16384).decode())
s.send(cmd.encode())
reply = json.loads(s.recv(hello.get("max_output_len", 16384)).decode())
print(json.dumps(reply[cmd]))
