#!/usr/bin/python3
"""005: frame bytes unchanged, CIDR/longest-prefix routes, MAC relearning (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import IP, UDP, Raw, Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b, c = s.client("client-a"), s.client("client-b"), s.client("client-c")
for x in (a, b, c):
    s.send(x, s.keepalive(x), "punt")                                          # 0..2 (not live yet)


def relay(sender, inner, to, mac=None):
    f = s.data(sender, inner)
    s.send(sender, f)
    s.expect_relay(f, to=to, mac=mac)


# Liveness comes from authenticated Data: A first (C is not live -> TcpDeliver), then C and B
# answer A (relayed to A), which makes them live.
s.send(a, s.data(a, icmp_echo(a.ip, c.ip, seq=1)), "tcp_deliver")              # 3: A -> C over TCP
relay(c, icmp_echo("192.168.7.7", a.ip, seq=4), a)                              # 4: C's /16 source
relay(b, icmp_echo(b.ip, "192.168.11.200", seq=5, size=1000), a)                # 5: to A's CIDR
bare = bytes(IP(src=a.ip, dst=b.ip, proto=253, id=7, ttl=3))  # 20 bytes, nothing after the header
assert len(bare) == 20
relay(a, bare, b)                                                               # 6
relay(a, icmp_echo("192.168.11.7", "192.168.1.5", seq=2), b)                    # 7: CIDR -> CIDR, /24 beats /16
big = bytes(IP(src="192.168.11.7", dst="192.168.2.5", id=9) / UDP(sport=5000, dport=5001)
            / Raw(bytes(i & 0xFF for i in range(1430 - 28))))
assert len(big) == 1430
relay(a, big, c)                                                                # 8: only C's /16
new_mac = "02:00:00:00:0b:02"
f = s.data(b, icmp_echo(b.ip, a.ip, seq=6))
s.send(b, f, mac=new_mac)                                                       # 9: B moved behind a new MAC
s.expect_relay(f, to=a)
relay(a, icmp_echo(a.ip, b.ip, seq=3, size=200), b, mac=new_mac)                # 10: to B's new MAC
s.write()
