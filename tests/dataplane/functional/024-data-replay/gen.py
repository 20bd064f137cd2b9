#!/usr/bin/python3
"""024: Data replay protection and liveness from fresh packets only (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import T_DATA, Scenario, icmp_echo  # noqa: E402

s = Scenario(__file__)
a, b, c, d, e = (s.client(n) for n in ("client-a", "client-b", "client-c", "client-d", "client-e"))


def data_ctr(sender, inner, ctr):
    """A Data frame whose nonce carries counter `ctr` ("NONCE-" || 48-bit counter)."""
    payload = s.seal(sender.cluster, bytes(inner), nonce=b"NONCE-" + ctr.to_bytes(6, "big"))
    return s.header(T_DATA, len(payload)) + payload


f0 = s.data(a, icmp_echo(a.ip, b.ip, seq=1))
s.send(a, f0)                                                            # 0
s.expect_relay(f0, to=b, mac=a.mac)  # B never sent: next hop = the sender's
s.send(a, f0)                                                            # 1: replay
f2 = data_ctr(a, icmp_echo(a.ip, b.ip, seq=2), 600)
s.send(a, f2)                                                            # 2
s.expect_relay(f2, to=b, mac=a.mac)
s.send(a, data_ctr(a, icmp_echo(a.ip, b.ip, seq=3), 100))               # 3: too old
f4 = data_ctr(a, icmp_echo(a.ip, b.ip, seq=4), 590)
s.send(a, f4)                                                            # 4: reordered
s.expect_relay(f4, to=b, mac=a.mac)
f5 = s.data(c, icmp_echo(c.ip, a.ip, seq=5))
s.send(c, f5)                                                            # 5
s.expect_relay(f5, to=a)
s.send(c, f5)                                                            # 6: not opted in
s.expect_relay(f5, to=a)
s.send(d, s.data(d, icmp_echo(d.ip, a.ip, seq=7)))                      # 7: below D's floor
s.send(a, data_ctr(a, icmp_echo(a.ip, d.ip, seq=8), 601), "tcp_deliver")  # 8: D not live
f9 = s.data(e, icmp_echo(e.ip, a.ip, seq=9))
s.send(e, f9)                                                            # 9
s.expect_relay(f9, to=a)
s.send(a, data_ctr(a, icmp_echo(a.ip, e.ip, seq=10), 602), "tcp_deliver")  # 10: E not live
s.write()
