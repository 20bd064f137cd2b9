#!/usr/bin/python3
"""025: per-source-address rate limits of STUN replies and punts (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario  # noqa: E402

s = Scenario(__file__)
a = s.client("client-a")
mac = "02:00:00:00:07:01"
for k in range(25):                                            # 0..24: one address, 25 ports
    ip, port, txid = "198.51.100.77", 5000 + k, b"RATE-STUN-%02d" % k
    s.send_packet(s.to_gateway(ip, port, mac, s.stun_request(txid)))
    if k < 20:
        s.expect_packet(s.from_gateway(ip, port, mac, s.stun_success(txid, ip, port)))
txid = b"RATE-STUN-xx"                                          # 25: another address
s.send_packet(s.to_gateway("198.51.100.78", 5000, mac, s.stun_request(txid)))
s.expect_packet(s.from_gateway("198.51.100.78", 5000, mac, s.stun_success(txid, "198.51.100.78", 5000)))
ka = s.keepalive(a)
for k in range(66):                                            # 26..91
    s.send(a, ka, "punt" if k < 64 else "", mac=mac, src=("198.51.100.99", 6000 + k))
s.send(a, ka, "punt", mac=mac, src=("198.51.100.98", 6000))     # 92
s.write()
