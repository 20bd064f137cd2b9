#!/usr/bin/env python3
"""rustun-dataplane speaks systemd's notify protocol (Type=notify in
packaging/systemd/rustun-dataplane.service): READY=1 (with a STATUS=) once its port is up, then
STOPPING=1 when it stops, on the datagram socket named by NOTIFY_SOCKET.

usage: dataplane_sd_notify_test.py DATAPLANE_BINARY

Runs the dataplane on an empty net_pcap vdev with --no-huge (no hugepages taken from the other
tests; --in-memory does not combine with it, --no-shconf writes no config file), --no-pci, its own
--file-prefix (its runtime directory is removed afterwards), and --stop-when-idle so it stops by
itself. Skips (77)
when not root.
"""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile


def main() -> int:
    dataplane = sys.argv[1]
    if os.geteuid() != 0:
        print("SKIP: not root (DPDK)")
        return 77
    prefix = f"rustun-sdn-{os.getpid()}"
    try:
        return run(dataplane, prefix)
    finally:
        shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)


def run(dataplane: str, prefix: str) -> int:
    with tempfile.TemporaryDirectory(prefix="rustun-sd-notify-") as tmp:
        empty = os.path.join(tmp, "in.pcap")
        with open(empty, "wb") as f:  # a pcap file header and no packets: the port stays idle
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        config = os.path.join(tmp, "gw.yaml")
        with open(config, "w") as f:
            f.write(f"""listen: {{tcp: 127.0.0.1:0, udp: 192.0.2.1:51258}}
crypto: chacha20:rustun
dataplane:
  channel: {tmp}/chan/dataplane.chan
  eal_args: [--no-pci, --no-huge, -m, "256", --no-shconf, --file-prefix={prefix}, -l, "0-1",
             "--vdev=net_pcap0,rx_pcap={empty},tx_pcap={tmp}/out.pcap"]
  port: net_pcap0
  workers: 1
  sessions: 1024
  mbufs: 2047
  address: 192.0.2.1
""")
        sock_path = os.path.join(tmp, "notify.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(sock_path)
        listener.settimeout(60)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        proc = subprocess.Popen([dataplane, "--config", config, "--stop-when-idle", "300"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        messages = []
        try:
            while len(messages) < 2:
                messages.append(listener.recv(4096).decode())
        except socket.timeout:
            pass
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            print(out)
            print("FAIL: the dataplane did not stop by itself (--stop-when-idle)")
            return 1
        failures = []
        if proc.returncode != 0:
            failures.append(f"exit {proc.returncode}")
        if not messages or not messages[0].startswith("READY=1\n") or "STATUS=relaying on 192.0.2.1:51258" not in messages[0]:
            failures.append(f"first notification {messages[:1]!r}, expected READY=1 with a STATUS=")
        if len(messages) < 2 or messages[1] != "STOPPING=1":
            failures.append(f"second notification {messages[1:2]!r}, expected 'STOPPING=1'")
        if "systemd notification" in out:
            failures.append("the dataplane logged a notification error")
        for f in failures:
            print("FAIL:", f)
        if failures:
            print(out)
            return 1
        print("ok: READY=1 then STOPPING=1:", messages[0].replace("\n", " | "))
        return 0


if __name__ == "__main__":
    sys.exit(main())
