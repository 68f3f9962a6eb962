-- A client's reputation shared by every gateway: decays the score by its
-- half-life, adds the event's points and, when the score reaches the
-- threshold and a ban may be made, claims the ban: the score restarts at 0 and
-- the offence count grows, in one step, so one crossing makes one ban.
-- KEYS[1]: the client's hash {score, at (ms), offences}.
-- ARGV: now (ms), half-life (ms), points, threshold, may ban (1/0), TTL (ms).
-- Reply: {score reached (string), offences before, claimed (1/0)}.
local now, half = tonumber(ARGV[1]), tonumber(ARGV[2])
local points, threshold = tonumber(ARGV[3]), tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 'score', 'at', 'offences')
local score, at, offences = tonumber(s[1]) or 0, tonumber(s[2]) or now, tonumber(s[3]) or 0
score = score * math.pow(0.5, math.max(0, now - at) / half) + points
local claimed = 0
local kept = score
if score >= threshold and ARGV[5] == '1' then
  claimed = 1
  kept = 0
  redis.call('HSET', KEYS[1], 'offences', offences + 1)
end
redis.call('HSET', KEYS[1], 'score', string.format('%.17g', kept), 'at', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {string.format('%.17g', score), offences, claimed}
