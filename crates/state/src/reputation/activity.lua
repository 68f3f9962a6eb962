-- One finished request counted in its client's activity window, shared by
-- every gateway (the same fixed windows as a gateway's local count): the
-- window starts with the client's first request and lasts `window`; a window
-- going over the request limit, or whose failed share reaches the ratio, is
-- reported once, to the gateway whose request crossed it.
-- KEYS[1]: the client's hash {s: window start (ms), n: requests, f: failed,
--          flagged: 1 = request rate, 2 = error rate}.
-- ARGV: now (ms), window (ms), failed (1/0), max requests (0 = off),
--       max error ratio (0 = off), min requests.
-- Reply: {request rate crossed (1/0), error rate crossed (1/0)}.
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local max_requests, max_ratio = tonumber(ARGV[4]), tonumber(ARGV[5])
local min_requests = tonumber(ARGV[6])
local h = redis.call('HMGET', KEYS[1], 's', 'n', 'f', 'flagged')
local start, n, f, flagged = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0
if not start or now - start >= window then
  start, n, f, flagged = now, 0, 0, 0
end
n = n + 1
if ARGV[3] == '1' then f = f + 1 end
local rate, errors = 0, 0
if max_requests > 0 and n > max_requests and flagged % 2 == 0 then
  rate = 1
  flagged = flagged + 1
end
if max_ratio > 0 and n >= min_requests and f / n >= max_ratio and flagged < 2 then
  errors = 1
  flagged = flagged + 2
end
redis.call('HSET', KEYS[1], 's', start, 'n', n, 'f', f, 'flagged', flagged)
-- The window says nothing once it is over.
redis.call('PEXPIRE', KEYS[1], math.max(1, start + window - now))
return {rate, errors}
