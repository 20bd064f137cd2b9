-- Helpers shared by the rustun pktgen scripts (docs/load-testing.md). Loaded with dofile().
-- Configuration through environment variables (read once):
--   RUSTUN_PORT      pktgen port that replays the pcap (default "0")
--   RUSTUN_STATS     shell command printing the gateway's counters as JSON (default
--                    "rustunctl --json stats"; e.g. "ssh gw rustunctl --json stats", or
--                    "ssh gw dpdk-telemetry.py -f rustun-dp <<< /rustun/stats")
--   RUSTUN_COUNTER   counter that counts relayed frames (default "relayed")
--   RUSTUN_SECONDS   seconds per step (default 10)
local M = {}
M.port = os.getenv("RUSTUN_PORT") or "0"
M.stats_cmd = os.getenv("RUSTUN_STATS") or "rustunctl --json stats"
M.counter = os.getenv("RUSTUN_COUNTER") or "relayed"
M.seconds = tonumber(os.getenv("RUSTUN_SECONDS") or "10")

-- Reads one numeric counter from the JSON the stats command prints (first match of "name": N,
-- wherever it is nested: /rustun/stats has the sums first, then per-worker objects).
function M.gateway_counter(name)
  local p = io.popen(M.stats_cmd .. " 2>/dev/null")
  if p == nil then return nil end
  local out = p:read("*a")
  p:close()
  local v = string.match(out, '"' .. name .. '"%s*:%s*(%d+)')
  return v and tonumber(v) or nil
end

-- Sum of every drop_* counter (first occurrence of each name).
function M.gateway_drops()
  local p = io.popen(M.stats_cmd .. " 2>/dev/null")
  if p == nil then return nil end
  local out = p:read("*a")
  p:close()
  local seen, sum = {}, 0
  for k, v in string.gmatch(out, '"(drop_[%w_]+)"%s*:%s*(%d+)') do
    if not seen[k] then seen[k] = true; sum = sum + tonumber(v) end
  end
  return sum
end

-- Runs one step at `pct` % of line rate for M.seconds; returns sent, relayed, drops (deltas).
function M.step(pct)
  pktgen.stop(M.port)
  pktgen.delay(500)
  pktgen.clr()
  pktgen.set(M.port, "rate", pct)
  local r0, d0 = M.gateway_counter(M.counter) or 0, M.gateway_drops() or 0
  pktgen.start(M.port)
  pktgen.delay(M.seconds * 1000)
  pktgen.stop(M.port)
  pktgen.delay(1000)  -- in-flight frames arrive
  local st = pktgen.portStats(M.port, "port")[tonumber(M.port)]
  local r1, d1 = M.gateway_counter(M.counter) or 0, M.gateway_drops() or 0
  return st.opackets, r1 - r0, d1 - d0
end

return M
