-- Every decision, the change version they reflect and the last id given,
-- read atomically (KEYS as add.lua): {version, last id, JSON...}.
local out = {redis.call('GET', KEYS[5]) or '0', redis.call('GET', KEYS[4]) or '0'}
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do out[#out + 1] = raw end
return out
