#!/usr/bin/python3
"""007: STUN Binding over IPv4 (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario  # noqa: E402

s = Scenario(__file__)
a = s.client("client-a")
for ip, port, mac, txid in (("203.0.113.5", 51259, "02:00:00:00:05:01", b"DPT-STUN-v4a"),
                            (a.ep_ip, a.ep_port, a.mac, b"\x00\x01\x02\x03\xfc\xfd\xfe\xff\x21\x12\xa4\x42")):
    s.send_packet(s.to_gateway(ip, port, mac, s.stun_request(txid)))
    s.expect_packet(s.from_gateway(ip, port, mac, s.stun_success(txid, ip, port)))
s.write()
