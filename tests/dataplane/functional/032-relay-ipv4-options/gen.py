#!/usr/bin/python3
"""032: outer IPv4 headers with options, IPv4 and IPv6 senders in one burst (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario, icmp_echo  # noqa: E402

NOPS = b"\x01\x01\x01\x01"                 # IHL 6
RR = b"\x07\x07\x04\x00\x00\x00\x00\x01"   # record route, one empty slot, then end of list: IHL 7

s = Scenario(__file__)
a, b, c = s.client("client-a"), s.client("client-b"), s.client("client-c")
s.send(a, s.data(a, icmp_echo(a.ip, b.ip, seq=1, size=120)), "tcp_deliver", ip_options=NOPS)  # 0: B not live; A now live
s.send(b, s.data(b, icmp_echo(b.ip, c.ip, seq=2, size=120)), "tcp_deliver", ip_options=RR)    # 1: C not live; B now live
for sender, to, seq, opts in ((c, a, 3, b""), (b, a, 4, NOPS), (a, b, 5, RR), (c, b, 6, b""), (a, c, 7, NOPS)):
    f = s.data(sender, icmp_echo(sender.ip, to.ip, seq=seq, size=120))                       # 2..6: relayed
    s.send(sender, f, ip_options=opts)
    s.expect_relay(f, to=to)
s.write()
