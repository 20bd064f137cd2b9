-- RFC 2544-style throughput (pktgen-dpdk 23.06.1 with Lua): binary search for the highest rate (%
-- of line rate) at which the gateway delivers what pktgen sent (loss <= RUSTUN_LOSS, a fraction,
-- default 0) over trials of RUSTUN_SECONDS (RFC 2544 asks for 60 s; 10 s default here). Run pktgen
-- from the repository root:
--   pktgen -l 0-2 -n 4 -a PCI -- -P -m "[1:2].0" -s 0:data.pcap -f scripts/pktgen/rfc2544.lua
-- Loss = sent - (relayed - drop_tx_full): the gateway counts `relayed` before its TX burst, so a
-- frame its TX queue refused is lost, not relayed (rustun_common.lua, "Accounting").
-- A trial where pktgen reached less than RUSTUN_LIMITED (0.95) of the rate it was asked for is
-- generator-limited: raising the percentage cannot load the gateway more, so the search stops and
-- the result says that pktgen, not the gateway, was the bottleneck.
local R = dofile("scripts/pktgen/rustun_common.lua")
local loss_max = tonumber(os.getenv("RUSTUN_LOSS") or "0")
local resolution = tonumber(os.getenv("RUSTUN_RESOLUTION") or "0.5")
local lo, hi = 0.0, tonumber(os.getenv("RUSTUN_MAX_RATE") or "100")
local best, limited = nil, false
pktgen.screen("off")
for i = 1, 20 do
  if hi - lo <= resolution then break end
  local pct = (i == 1) and hi or (lo + hi) / 2
  local r = R.step(pct)
  local ratio = r.sent > 0 and r.lost / r.sent or 1
  local ok = r.sent > 0 and ratio <= loss_max
  printf("trial %2d: %7.3f%% asked %.3f Mpps, pktgen sent %.3f Mpps%s; delivered %d of %d, lost %d (%.5f%%), " ..
         "gateway drops %d (+%d TX full), unaccounted %d -> %s\n",
         i, pct, r.asked_pps / 1e6, r.sent_pps / 1e6, r.limited and " (pktgen-limited)" or "", r.delivered, r.sent,
         r.lost, 100 * ratio, r.drops, r.tx_full, r.unaccounted, ok and "pass" or "fail")
  R.report("rustun-step", r)
  if ok then lo = pct; best = r else hi = pct end
  if ok and (i == 1 or r.limited) then limited = r.limited; break end
end
if best and limited then
  printf("RFC2544 zero-loss throughput: >= %.3f Mpps delivered at %.3f%% of line rate: pktgen reached only " ..
         "%.3f of %.3f Mpps asked, so pktgen is the bottleneck, not the gateway\n",
         best.delivered_pps / 1e6, best.pct, best.sent_pps / 1e6, best.asked_pps / 1e6)
elseif best then
  printf("RFC2544 zero-loss throughput: %.3f Mpps delivered at %.3f%% of line rate (pktgen sent %.3f Mpps)\n",
         best.delivered_pps / 1e6, best.pct, best.sent_pps / 1e6)
else
  printf("RFC2544: no trial passed (lowest tried %.3f%%)\n", hi)
end
printf("rustun-result best_pct=%.3f delivered_pps=%.0f limited=%s\n", best and best.pct or 0,
       best and best.delivered_pps or 0, limited and "yes" or "no")
pktgen.screen("on")
R.finish()
