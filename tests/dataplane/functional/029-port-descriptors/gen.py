#!/usr/bin/python3
"""029: scenario 001 with other descriptor counts, A <-> B (see scenario.yaml; the steps are dpgen.relay_pair)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dpgen import relay_pair  # noqa: E402

relay_pair(__file__)
