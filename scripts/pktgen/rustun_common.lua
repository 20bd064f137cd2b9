-- Helpers shared by the rustun pktgen-dpdk scripts (docs/load-testing.md, "With pktgen-dpdk instead").
-- Written for pktgen-dpdk 23.06.1 with Lua; run pktgen from the repository root (the scripts load
-- this file by a path relative to it). Loaded with dofile().
-- Configuration through environment variables (read once):
--   RUSTUN_PORT       pktgen port that replays the pcap (default "0")
--   RUSTUN_STATS      shell command (run by /bin/sh, i.e. dash on Debian: no bash syntax) printing
--                     the dataplane's counters as JSON: `rustunctl --json stats` (the default, on the
--                     gateway), `ssh gw rustunctl --json stats`, or the telemetry form
--                     `python3 scripts/pktgen/dp_stats.py FILE_PREFIX` (no control plane needed)
--   RUSTUN_SECONDS    seconds of traffic per step (default 10; against a real control plane a
--                     step must end within 15 s of the KeepAlive replay that made the clients live)
--   RUSTUN_LINK_MBPS  link speed pktgen computes its rate from (default: read from the port's link
--                     state; net_memif reports 100000)
--   RUSTUN_LIMITED    a step is "generator-limited" when pktgen reached less than this share of the
--                     rate it was asked for (default 0.95)
--
-- Accounting (lib/shm/dp_counters.hpp): every frame that reached the gateway's port is counted
-- exactly once: relayed, punted, to_controlplane_tcp, stun_replies, exception_to_kernel, or one
-- drop_* counter (the port's own drop_port_* included). Not frame outcomes: drop_tx_full (relayed
-- frames the TX queue refused afterwards), drop_session_table_full, drop_bad_control and
-- drop_bad_txframe (control-plane messages). So for a step:
--   delivered = relayed - drop_tx_full          (what left the gateway)
--   lost      = sent - delivered
--   sent      = relayed + other + drops         (other: punted, TCP hand-off, STUN, exception)
-- and `unaccounted` (the difference of the last line) is 0 when nothing vanished uncounted.

-- pktgen's Lua environment has printf only when its own Pktgen.lua is loaded.
if printf == nil then
  printf = function(...) io.write(string.format(...)); io.flush() end
end

local M = {}
M.port = os.getenv("RUSTUN_PORT") or "0"
M.stats_cmd = os.getenv("RUSTUN_STATS") or "rustunctl --json stats"
M.seconds = tonumber(os.getenv("RUSTUN_SECONDS") or "10")
M.limited = tonumber(os.getenv("RUSTUN_LIMITED") or "0.95")
-- drop_* counters that do not count received frames (see "Accounting" above).
M.not_frame_drops = { drop_tx_full = true, drop_session_table_full = true, drop_bad_control = true, drop_bad_txframe = true }
M.other_outcomes = { "punted", "to_controlplane_tcp", "stun_replies", "exception_to_kernel" }

-- One reading of the gateway's counters; raises an error when the command printed no `relayed`
-- (a broken RUSTUN_STATS must not read as "0 relayed, 0 dropped").
function M.snapshot()
  local p = io.popen(M.stats_cmd .. " 2>&1")
  local out = p and p:read("*a") or ""
  if p then p:close() end
  -- The first occurrence of each name: /rustun/stats lists the sums first, then per-worker blocks;
  -- `rustunctl --json stats` has them under "dataplane".
  local dp = string.match(out, '"dataplane"%s*:%s*(%b{})') or out
  local seen, c = {}, { drops = 0 }
  for k, v in string.gmatch(dp, '"([%w_]+)"%s*:%s*(%d+)') do
    if not seen[k] then
      seen[k] = true
      c[k] = tonumber(v)
      if string.sub(k, 1, 5) == "drop_" and not M.not_frame_drops[k] then c.drops = c.drops + tonumber(v) end
    end
  end
  if c.relayed == nil then
    error(string.format("RUSTUN_STATS '%s' printed no \"relayed\" counter: %s", M.stats_cmd, string.sub(out, 1, 200)))
  end
  c.drop_tx_full = c.drop_tx_full or 0
  c.other = 0
  for _, k in ipairs(M.other_outcomes) do c.other = c.other + (c[k] or 0) end
  return c
end

-- The link speed (Mb/s) pktgen computes rates from: "<UP-100000-FD>", the link_state that
-- portInfo nests in its per-port table.
local function find_key(t, key, depth)
  if type(t) ~= "table" or depth > 4 then return nil end
  if t[key] ~= nil then return t[key] end
  for _, v in pairs(t) do
    local r = find_key(v, key, depth + 1)
    if r ~= nil then return r end
  end
  return nil
end
function M.link_mbps()
  local env = tonumber(os.getenv("RUSTUN_LINK_MBPS") or "")
  if env then return env end
  local ok, info = pcall(pktgen.portInfo, M.port)
  local state = ok and find_key(info, "link_state", 0) or ""
  return tonumber(string.match(tostring(state), "UP%-(%d+)")) or 0  -- 0 while the link is down
end

-- Waits (at most 10 s) for the port's link: a memif client's link comes up only once the server
-- answered, and a step started before that measures nothing.
function M.wait_link()
  for _ = 1, 20 do
    if M.link_mbps() > 0 then return true end
    pktgen.delay(500)
  end
  printf("warning: port %s link still down after 10 s\n", M.port)
  return false
end

-- pktgen 23.06.1's target in pcap mode: link bits/s / ((average frame size + 24) * 8) * pct/100,
-- 24 B = preamble 7 + SFD 1 + FCS 4 + inter-frame gap 12 (app/pktgen.c, pktgen_wire_size).
function M.asked_pps(pct, avg_frame)
  return M.link_mbps() * 1e6 / ((avg_frame + 24) * 8) * pct / 100
end

-- Wall-clock seconds. pktgen.delay(ms) sleeps in 10 ms slices and runs pktgen's timers between
-- them, so on a busy CPU it lasts longer than asked: rates are computed from the measured time.
function M.now()
  local p = io.popen("date +%s.%N")
  local t = p and tonumber(p:read("*l")) or os.time()
  if p then p:close() end
  return t
end

local function port_stats()
  local st = pktgen.portStats(M.port, "port")[tonumber(M.port)]
  return st.opackets, st.obytes
end

-- Runs one step at `pct` % of line rate for M.seconds. Returns a table: pct, seconds (measured),
-- sent, relayed,
-- delivered, lost, drops (frames counted as dropped), tx_full, other (punted, TCP hand-off, ...),
-- unaccounted, sent_pps, delivered_pps, asked_pps, limited (pktgen reached < RUSTUN_LIMITED of
-- asked_pps: the generator, not the gateway, set the rate).
function M.step(pct)
  M.wait_link()
  pktgen.stop(M.port)
  pktgen.set(M.port, "rate", pct)
  pktgen.delay(1500)  -- pktgen refreshes its port counters once a second
  local o0, b0 = port_stats()
  local a = M.snapshot()
  local t0 = M.now()
  pktgen.start(M.port)
  pktgen.delay(M.seconds * 1000)
  pktgen.stop(M.port)
  local t1 = M.now()
  pktgen.delay(1500)  -- in-flight frames arrive, pktgen's counters refresh
  local o1, b1 = port_stats()
  local b = M.snapshot()
  local r = { pct = pct, sent = o1 - o0 }
  r.relayed = b.relayed - a.relayed
  r.tx_full = b.drop_tx_full - a.drop_tx_full
  r.drops = b.drops - a.drops
  r.other = b.other - a.other
  r.delivered = r.relayed - r.tx_full
  r.lost = r.sent - r.delivered
  r.unaccounted = r.sent - (r.relayed + r.drops + r.other)
  r.seconds = t1 - t0
  r.sent_pps = r.sent / r.seconds
  r.delivered_pps = r.delivered / r.seconds
  r.avg_frame = r.sent > 0 and (b1 - b0) / r.sent or 0
  r.asked_pps = r.sent > 0 and M.asked_pps(pct, r.avg_frame) or 0
  r.limited = r.asked_pps > 0 and r.sent_pps < M.limited * r.asked_pps
  return r
end

-- One machine-readable line per step (the integration test and scripts/bench.sh parse it).
function M.report(tag, r)
  printf("%s pct=%.3f sent=%d relayed=%d delivered=%d lost=%d drops=%d tx_full=%d other=%d unaccounted=%d " ..
         "sent_pps=%.0f delivered_pps=%.0f asked_pps=%.0f avg_frame=%.1f limited=%s seconds=%.3f\n",
         tag, r.pct, r.sent, r.relayed, r.delivered, r.lost, r.drops, r.tx_full, r.other, r.unaccounted,
         r.sent_pps, r.delivered_pps, r.asked_pps, r.avg_frame, r.limited and "yes" or "no", r.seconds)
end

-- The end of a script: a marker line for unattended runs, and with RUSTUN_QUIT=1 pktgen quits.
function M.finish()
  printf("rustun-done\n")
  if os.getenv("RUSTUN_QUIT") == "1" then pktgen.quit() end
end

return M
