-- All windows of one client decided at once (GCRA, as the memory limiter).
-- KEYS[1]: the client's hash: one field per window, named as the window and
-- holding its TAT (µs since the epoch, an integer, so the hash stays a compact
-- listpack), and the field '#' holding the fingerprint of the window set.
-- ARGV[1]: now (µs since the epoch, from the gateway's clock); ARGV[2]: the
-- cost in units (a Judge0 batch pays one per run); ARGV[3]: the fingerprint of
-- the windows' names, quotas and periods; then per window: name, quota,
-- period (µs).
-- Reply: {refusing window (1-based, 0 when allowed), its wait (µs),
--         then per window the backlog TAT - now (µs) after the decision}.
-- Times are whole microseconds: Lua numbers are doubles, exact to 2^53.
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local n = (#ARGV - 3) / 3
local stored = {}
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do stored[flat[i]] = flat[i + 1] end
-- A changed window set is written back even by a refusal, so that the hash
-- always names the set its TATs were counted in.
local changed = stored['#'] ~= ARGV[3]
stored['#'] = nil
local tats, units = {}, {}
local refuse, worst = 0, 0
for i = 1, n do
  local name = ARGV[3 * i + 1]
  local quota = tonumber(ARGV[3 * i + 2])
  local period = tonumber(ARGV[3 * i + 3])
  local unit = math.max(1, math.floor(period / quota))
  local limit = unit * quota
  local tat = 0
  local v = stored[name]
  if v then
    -- 'order:tat:quota:period' is the layout of earlier gateways: its TAT is kept.
    local t = string.match(v, '^(%d+)$') or string.match(v, '^%d+:(%d+):%d+:%d+$')
    if not t then
      return redis.error_reply('execgate: malformed rate-limit window ' .. name .. ' in ' .. KEYS[1])
    end
    tat = tonumber(t)
    stored[name] = nil
  else
    changed = true
  end
  local wait = math.max(0, tat - now) + unit * cost - limit
  if wait > worst then refuse, worst = i, wait end
  tats[i], units[i] = tat, unit
end
local gone = {}
for name in pairs(stored) do gone[#gone + 1] = name end
if #gone > 0 then
  changed = true
  redis.call('HDEL', KEYS[1], unpack(gone))
end
if refuse == 0 then
  for i = 1, n do tats[i] = math.max(tats[i], now) + units[i] * cost end
end
if n > 0 and (refuse == 0 or changed) then
  local fields, hold = {'#', ARGV[3]}, 0
  for i = 1, n do
    fields[#fields + 1] = ARGV[3 * i + 1]
    fields[#fields + 1] = string.format('%.0f', tats[i])
    hold = math.max(hold, tats[i] - now)
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  -- Once every window is full again the hash says nothing: let it go.
  redis.call('PEXPIRE', KEYS[1], math.floor(hold / 1000) + 1000)
end
local reply = {refuse, worst}
for i = 1, n do reply[#reply + 1] = math.max(0, tats[i] - now) end
return reply
