#!/usr/bin/python3
"""023: two workers, one self-contained conversation per queue (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b, c, d = (s.client(i) for i in ("client-a", "client-b", "client-c", "client-d"))
for q, (x, y) in enumerate(((a, b), (c, d))):
    s.send(x, s.keepalive(x), "punt", queue=q)                                      # 0 / 4
    s.send(y, s.data(y, icmp_echo(y.ip, x.ip, seq=1)), "tcp_deliver", queue=q)       # 1 / 5: y live
    f = s.data(x, icmp_echo(x.ip, y.ip, seq=2))
    s.send(x, f, queue=q)                                                           # 2 / 6: x live
    s.expect_relay(f, to=y, queue=q)
    f = s.data(y, icmp_echo(y.ip, x.ip, seq=3, reply=True))
    s.send(y, f, queue=q)                                                           # 3 / 7
    s.expect_relay(f, to=x, queue=q)
s.write()
