-- Removes decisions by id (KEYS as add.lua). ARGV: 1 change channel,
-- 2 now (ms) or "" for unconditional, then ids. With a time, only decisions
-- expired by then go (the purge). Reply: the removed decisions, as JSON.
local channel, now = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    local d = cjson.decode(raw)
    local expired = d.expires_at ~= nil and d.expires_at ~= cjson.null and now ~= nil and d.expires_at <= now
    if now == nil or expired then
      redis.call('HDEL', KEYS[1], id)
      if redis.call('HGET', KEYS[2], d.value) == id then redis.call('HDEL', KEYS[2], d.value) end
      redis.call('ZREM', KEYS[3], id)
      local v = redis.call('INCR', KEYS[5])
      redis.call('PUBLISH', channel, cjson.encode({v = v, del = d.id}))
      out[#out + 1] = raw
    elseif now ~= nil then
      redis.call('ZREM', KEYS[3], id)
      if d.expires_at ~= nil and d.expires_at ~= cjson.null then
        redis.call('ZADD', KEYS[3], d.expires_at, id)
      end
    end
  else
    redis.call('ZREM', KEYS[3], id)
  end
end
return out
