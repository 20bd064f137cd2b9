#!/usr/bin/python3
"""031-fleet-link (see scenario.yaml)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import *  # noqa: E402,F401,F403

s = Scenario(__file__)
fl = s.y["fleet"]
KEY = fl["key"]
gw2 = fl["peers"][0]
gw2_ip, gw2_port, _ = parse_endpoint(gw2["endpoint"])
gw2_mac = gw2["mac"]
gw3 = fl["peers"][1]
gw3_ip, gw3_port, _ = parse_endpoint(gw3["endpoint"])
a, r, t, v6 = s.client("client-a"), s.client("client-r"), s.client("client-t"), s.client("client-s")
cluster = a.cluster.name


def from_gw2(payload, note=""):
    return s.send(None, payload, note, mac=gw2_mac, src=(gw2_ip, gw2_port))


def expect_link(frame, to_ip, mac, member=(None, None)):
    # What gw-1's dataplane seals: our id, the cluster's name, dst_ip = the inner destination,
    # no identity; salt with its top bit set (a dataplane), seq and tag ignored (per process).
    lf = link_frame(KEY, fl["gateway_id"], cluster, frame, seq=0, dst_ip=to_ip, salt=0x80000000)
    s.expect_packet(s.from_gateway(member[0] or gw2_ip, member[1] or gw2_port, mac, lf))


# Stage 1 of a burst (link frames received) runs before its stage 3b (Data sealed for the link):
# the first burst (32 packets, dataplane.burst) holds A's first frame and 31 link frames that fail
# before their sender's MAC is learned; gw-2's first good frame comes in the second burst.
f5 = s.data(r, icmp_echo(r.ip, a.ip, seq=3, ip_id=0x7b03, reply=True, size=300))
l5 = link_frame(KEY, "gw-2", cluster, f5, seq=1001, dst_ip=a.ip)
H = 32 + len("gw-2") + len(cluster)
n = len(l5)


def variant(i, x):
    v = bytearray(l5)
    v[i] ^= x
    return bytes(v)


failing = []  # (payload, expected drop) of frames refused before the window
for i in [16, 19, 20, 27, 28, 31, 32 + 4, H + 8, H + 100, n - 17] + list(range(n - 16, n)):
    failing.append((variant(i, 0x01), "bad_tag"))      # salt, seq, dst_ip, cluster, frame (nonce, body, end), tag
failing.append((variant(H, 0x01), "malformed"))         # the relayed frame's magic: not a Data frame
failing.append((variant(H + 7, 0x01), "malformed"))     # its length no longer frame_len
failing.append((variant(32, 0x01), "unknown_sender"))   # sender "gw-2" -> "fw-2"
failing.append((variant(4, 0x01), "malformed"))         # version
failing.append((variant(5, 0x01), "malformed"))         # a reserved byte
lv = bytearray(l5); lv[15] += 1
failing.append((bytes(lv), "malformed"))                # frame_len + 1: short
failing.append((variant(0, 0x01), "bad_magic"))         # the magic: not a link frame at all
failing.append((link_frame(KEY, "gw-9", cluster, f5, seq=1002, dst_ip=a.ip), "unknown_sender"))
failing.append((link_frame("aes256:another-fleet", "gw-2", cluster, f5, seq=1003, dst_ip=a.ip), "bad_tag"))
failing.append((link_frame(KEY, "gw-2", cluster, f5, seq=1006, dst_ip=a.ip)[:-1], "malformed"))  # truncated
assert len(failing) >= 31

# 0: A -> R, R remote: sealed for gw-2; broadcast (its MAC unknown yet)
f0 = s.data(a, icmp_echo(a.ip, r.ip, seq=1))
s.send(a, f0)
expect_link(f0, r.ip, "ff:ff:ff:ff:ff:ff")
for payload, _ in failing[:31]:
    from_gw2(payload)
# 32: gw-2 relays R -> A: verified, relayed to A unchanged (gw-2's MAC learned)
f1 = s.data(r, icmp_echo(r.ip, a.ip, seq=1, ip_id=0x7b01, reply=True))
l1 = link_frame(KEY, "gw-2", cluster, f1, seq=1000, dst_ip=a.ip)
from_gw2(l1)
s.expect_relay(f1, to=a)
# 33: A -> R again: to gw-2's MAC now
f2 = s.data(a, icmp_echo(a.ip, r.ip, seq=2, ip_id=0x4a2c))
s.send(a, f2)
# 34: A -> S, S online on gw-3, an IPv6 member: its UDP checksum covers the tag
f3 = s.data(a, icmp_echo(a.ip, v6.ip, seq=3, ip_id=0x4a2e))
s.send(a, f3)
# 35: a replay of 32
from_gw2(l1)
# 36: an older, unseen sequence inside the window: relayed
f4 = s.data(r, icmp_echo(r.ip, a.ip, seq=2, ip_id=0x7b02, reply=True))
from_gw2(link_frame(KEY, "gw-2", cluster, f4, seq=999, dst_ip=a.ip))
s.expect_relay(f4, to=a)
expect_link(f2, r.ip, gw2_mac)  # stage 3b of the burst: after its relayed link frames
expect_link(f3, v6.ip, "ff:ff:ff:ff:ff:ff", (gw3_ip, gw3_port))
for payload, _ in failing[31:]:
    from_gw2(payload)
# misrouted (authentic and fresh, but no client here)
from_gw2(link_frame(KEY, "gw-2", "nope", f5, seq=1004, dst_ip=a.ip))
from_gw2(link_frame(KEY, "gw-2", cluster, f5, seq=1005, dst_ip="10.0.9.9"))
# for client-t (no UDP endpoint here): to the control plane, marked as from the link
ft = s.data(r, icmp_echo(r.ip, t.ip, seq=4))
from_gw2(link_frame(KEY, "gw-2", cluster, ft, seq=1007, dst_ip=t.ip), "tcp_deliver")
# A -> R once more, a packet that fits the relay MTU (1500) but not inside a link frame: not sealed
# (link_fallback_tcp), handed to the control plane instead, whose TCP link takes it to gw-2
fb = s.data(a, icmp_echo(a.ip, r.ip, seq=5, size=1420, ip_id=0x4a2d))
assert len(fb) + 28 <= 1500 < len(fb) + 28 + 16 + 40, len(fb)
s.send(a, fb, "tcp_deliver")
from collections import Counter
print(dict(Counter(k for _, k in failing)))
s.write()
