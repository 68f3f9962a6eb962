-- Adds a batch of decisions, all or none, one active decision per value
-- (as blocklist/merge.rs: an add that outlasts the held decision extends it
-- and takes its reason, origin and author).
-- KEYS: 1 decisions (id -> JSON), 2 values (value -> id), 3 expiry (zset id by
--       expiry ms), 4 id sequence, 5 change version.
-- ARGV: 1 now (ms), 2 most decisions, 3 change channel, then one JSON
--       candidate per request {scope, value, origin, reason, created_by, expires_at}.
-- Reply: the resulting decision of each request, as JSON.
local now = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local channel = ARGV[3]
local function never(t) return t == nil or t == cjson.null end
local function active(d) return never(d.expires_at) or d.expires_at > now end
local function held(value)
  local id = redis.call('HGET', KEYS[2], value)
  if not id then return nil end
  local raw = redis.call('HGET', KEYS[1], id)
  if not raw then return nil end
  local d = cjson.decode(raw)
  if active(d) then return d end
  return nil
end
local function outlasts(a, b)
  if never(b) then return false end
  if never(a) then return true end
  return a > b
end
local cands = {}
for i = 4, #ARGV do cands[#cands + 1] = cjson.decode(ARGV[i]) end
local seen, created = {}, 0
for _, c in ipairs(cands) do
  if not seen[c.value] then
    seen[c.value] = true
    if not held(c.value) then created = created + 1 end
  end
end
if redis.call('HLEN', KEYS[1]) + created > max then
  return redis.error_reply('FULL ' .. max)
end
local slots, order, replies = {}, {}, {}
for _, c in ipairs(cands) do
  local slot = slots[c.value]
  if not slot then
    local d = held(c.value)
    local outcome = 'unchanged'
    if not d then
      d = {id = redis.call('INCR', KEYS[4]), scope = c.scope, value = c.value,
           origin = c.origin, reason = c.reason, created_at = now,
           expires_at = c.expires_at, created_by = c.created_by}
      outcome = 'created'
    end
    slot = {d = d, outcome = outcome}
    slots[c.value] = slot
    order[#order + 1] = slot
  end
  if outlasts(c.expires_at, slot.d.expires_at) then
    slot.d.expires_at = c.expires_at
    slot.d.reason = c.reason
    slot.d.origin = c.origin
    slot.d.created_by = c.created_by
    if slot.outcome == 'unchanged' then slot.outcome = 'extended' end
  end
  replies[#replies + 1] = slot.d
end
for _, slot in ipairs(order) do
  if slot.outcome ~= 'unchanged' then
    local d = slot.d
    redis.call('HSET', KEYS[1], d.id, cjson.encode(d))
    redis.call('HSET', KEYS[2], d.value, d.id)
    if never(d.expires_at) then
      redis.call('ZREM', KEYS[3], d.id)
    else
      redis.call('ZADD', KEYS[3], d.expires_at, d.id)
    end
    local v = redis.call('INCR', KEYS[5])
    redis.call('PUBLISH', channel, cjson.encode({v = v, put = d}))
  end
end
local out = {}
for _, d in ipairs(replies) do out[#out + 1] = cjson.encode(d) end
return out
