-- RFC 2544-style throughput: binary search for the highest rate (% of line rate) at which the
-- gateway relays every frame pktgen sent (loss <= RUSTUN_LOSS, default 0) over a trial of
-- RUSTUN_SECONDS (RFC 2544 asks for 60 s trials; 10 s default here to keep a search < 3 min).
--   pktgen -l 0-2 -n 4 -a PCI -- -P -m "[1:2].0" -s 0:rustun.pcap -f scripts/pktgen/rfc2544.lua
-- Loss = sent - relayed (gateway counter) + the gateway's drop_* counters are shown alongside.
-- With the Data frames of N clients paired as rustun-pcapgen writes them, every frame sent is
-- relayed once; KeepAlives in the pcap are replayed too, so generate the replay pcap with
-- --no-keepalives and keep `rustun-pcapgen keeper` running.
local R = dofile("scripts/pktgen/rustun_common.lua")
local loss_max = tonumber(os.getenv("RUSTUN_LOSS") or "0")
local lo, hi = 0.0, 100.0
local resolution = tonumber(os.getenv("RUSTUN_RESOLUTION") or "0.5")
local best = nil
pktgen.screen("off")
for i = 1, 20 do
  if hi - lo <= resolution then break end
  local pct = (i == 1) and hi or (lo + hi) / 2
  local sent, relayed, drops = R.step(pct)
  local lost = sent - relayed
  local ratio = sent > 0 and lost / sent or 1
  local ok = sent > 0 and ratio <= loss_max
  printf("trial %2d: %6.2f%%  sent %d relayed %d lost %d (%.5f%%) gateway drops %d -> %s\n",
         i, pct, sent, relayed, lost, 100 * ratio, drops, ok and "pass" or "fail")
  if ok then lo = pct; best = {pct, relayed / R.seconds} else hi = pct end
  if ok and i == 1 then break end
end
if best then
  printf("RFC2544 zero-loss throughput: %.2f%% of line rate, %.3f Mpps relayed\n", best[1], best[2] / 1e6)
else
  printf("RFC2544: no trial passed (lowest tried %.2f%%)\n", hi)
end
pktgen.screen("on")
