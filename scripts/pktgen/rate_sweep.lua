-- Rate sweep: replays the rustun-pcapgen pcap at increasing rates and prints, per step, what
-- pktgen sent and what the gateway relayed (its counters over ssh/locally, rustun_common.lua).
--   pktgen -l 0-2 -n 4 -a PCI -- -P -m "[1:2].0" -s 0:rustun.pcap -f scripts/pktgen/rate_sweep.lua
-- Keep `rustun-pcapgen keeper` running meanwhile (the bindings need fresh KeepAlives).
-- RUSTUN_RATES="10,20,..." overrides the steps (% of line rate; in pcap mode pktgen computes the
-- rate from the largest packet plus headroom, so the percentages are approximate).
package.path = package.path .. ";scripts/pktgen/?.lua"
local R = dofile("scripts/pktgen/rustun_common.lua")
local rates = {}
for r in string.gmatch(os.getenv("RUSTUN_RATES") or "5,10,20,30,40,50,60,70,80,90,100", "[%d%.]+") do
  rates[#rates + 1] = tonumber(r)
end
pktgen.screen("off")
printf("%8s %14s %14s %12s %10s %10s\n", "rate %", "sent", "relayed", "drops", "relayed %", "Mpps")
for _, pct in ipairs(rates) do
  local sent, relayed, drops = R.step(pct)
  printf("%8.1f %14d %14d %12d %9.3f%% %10.3f\n", pct, sent, relayed, drops,
         sent > 0 and 100 * relayed / sent or 0, relayed / R.seconds / 1e6)
end
pktgen.screen("on")
