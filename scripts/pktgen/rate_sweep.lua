-- Rate sweep (pktgen-dpdk 23.06.1 with Lua): replays the port's pcap (rustun-pcapgen gen
-- --no-keepalives) at increasing rates; per step, what pktgen sent, the rate it reached against the
-- rate it was asked for, and what the gateway delivered and dropped (rustun_common.lua). Run pktgen
-- from the repository root:
--   pktgen -l 0-2 -n 4 -a PCI -- -P -m "[1:2].0" -s 0:data.pcap -f scripts/pktgen/rate_sweep.lua
-- RUSTUN_RATES="1,2,5" overrides the steps (% of line rate, pktgen's `set rate`); see
-- rustun_common.lua for RUSTUN_STATS, RUSTUN_SECONDS and the accounting.
local R = dofile("scripts/pktgen/rustun_common.lua")
local rates = {}
for r in string.gmatch(os.getenv("RUSTUN_RATES") or "5,10,20,30,40,50,60,70,80,90,100", "[%d%.]+") do
  rates[#rates + 1] = tonumber(r)
end
pktgen.screen("off")
printf("%8s %12s %10s %10s %12s %10s %8s %10s %11s\n", "rate %", "sent", "asked Mpps", "sent Mpps",
       "delivered", "deliv Mpps", "lost %", "drops", "unaccounted")
for _, pct in ipairs(rates) do
  local r = R.step(pct)
  printf("%8.2f %12d %10.3f %10.3f %12d %10.3f %7.3f%% %10d %11d%s\n", pct, r.sent, r.asked_pps / 1e6,
         r.sent_pps / 1e6, r.delivered, r.delivered_pps / 1e6, r.sent > 0 and 100 * r.lost / r.sent or 0,
         r.drops, r.unaccounted, r.limited and "  (pktgen-limited)" or "")
  R.report("rustun-step", r)
end
pktgen.screen("on")
R.finish()
