#!/usr/bin/python3
"""008: STUN Binding over IPv6 (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario  # noqa: E402

s = Scenario(__file__)
a = s.client("client-a")
for ip, port, mac, txid in (("2001:db8:5::5", 51259, "02:00:00:00:05:01", b"DPT-STUN-v6a"),
                            (a.ep_ip, a.ep_port, a.mac, b"\xff\xee\xdd\xcc\xbb\xaa\x99\x88\x77\x66\x55\x44")):
    s.send_packet(s.to_gateway(ip, port, mac, s.stun_request(txid)))
    s.expect_packet(s.from_gateway(ip, port, mac, s.stun_success(txid, ip, port)))
s.write()
