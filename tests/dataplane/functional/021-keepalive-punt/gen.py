#!/usr/bin/python3
"""021: non-Data frames are punted (see scenario.yaml)."""
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, ".."))
from dpgen import Scenario  # noqa: E402

with open(os.path.join(here, "../../../data/vectors.json"), encoding="utf-8") as f:
    v = json.load(f)
frames = {x["id"]: bytes.fromhex(x["frame_hex"]) for x in v["vectors"] + v["negative"]}
s = Scenario(__file__)
a, b = s.client("client-a"), s.client("client-b")
for vid in ("chacha20/HEAD/keepalive_client", "chacha20/dbde974/keepalive", "chacha20/HEAD/probe_hole_punch",
            "chacha20/HEAD/handshake", "negative/unknown_type_8"):
    s.send(a, frames[vid], "punt")                                   # 0..4
s.send(b, s.keepalive(b), "punt")                                    # 5
s.write()
