#!/usr/bin/python3
"""006: IPv6 outer headers, mixed v4/v6 endpoints (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b, c = s.client("client-a"), s.client("client-b"), s.client("client-c")
for x in (a, b, c):
    s.send(x, s.keepalive(x), "punt")                                # 0..2: punted, nobody live yet
s.send(a, s.data(a, icmp_echo(a.ip, c.ip, seq=9, size=120)), "tcp_deliver")  # 3: C not live; A now live
for sender, to, seq in ((b, a, 2), (a, b, 1), (c, a, 3)):           # 4: v4 -> v6, 5: v6 -> v4, 6: v6 -> v6
    f = s.data(sender, icmp_echo(sender.ip, to.ip, seq=seq, size=120))
    s.send(sender, f)
    s.expect_relay(f, to=to)
s.write()
