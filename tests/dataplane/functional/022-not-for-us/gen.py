#!/usr/bin/python3
"""022: non-relay traffic (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Ether, Raw, Scenario  # noqa: E402

s = Scenario(__file__)
a = s.client("client-a")
s.send_packet(s.to_gateway(a.ep_ip, a.ep_port, a.mac, b"not a relay datagram", dport=9999))
s.send_packet(s.to_gateway("2001:db8:a::10", 40001, a.mac, b"not a relay datagram", dport=9999))
s.send_packet(Ether(src=a.mac, dst=s.port_mac, type=0x88B5) / Raw(bytes(range(46))))
s.write()
