#!/usr/bin/python3
"""001: relay chacha20, A <-> B (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
s.send(a, s.keepalive(a), "punt")                                    # 0
s.send(b, s.keepalive(b), "punt")                                    # 1: punted, unauthenticated: B not live
req = s.data(a, icmp_echo(a.ip, b.ip, seq=1))
s.send(a, req, "tcp_deliver")                                        # 2: B not live -> TCP; A now live
rep = s.data(b, icmp_echo(b.ip, a.ip, seq=1, ip_id=0x7b01, reply=True))
s.send(b, rep)                                                       # 3: B -> A relayed; B now live
s.expect_relay(rep, to=a)
req2 = s.data(a, icmp_echo(a.ip, b.ip, seq=2, ip_id=0x4a2c))
s.send(a, req2)                                                      # 4: A -> B relayed
s.expect_relay(req2, to=b)
s.write()
