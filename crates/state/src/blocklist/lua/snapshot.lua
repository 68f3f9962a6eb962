-- Every decision and the change version they reflect, read atomically
-- (KEYS as add.lua): {version, JSON...}.
local out = {redis.call('GET', KEYS[5]) or '0'}
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do out[#out + 1] = raw end
return out
