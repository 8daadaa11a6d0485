-- Parts whose time is up (their bridge or task was lost, or their worker is
-- slow): return them for publishing again, and push their time back so that
-- no other bridge publishes them at the same moment.
--
-- KEYS[1]  the due set (see inflight_commit.lua)
-- ARGV[1]  ms until they are due again   ARGV[2]  the most parts to return
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local parts = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, ARGV[2])
for _, part in ipairs(parts) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), part)
end
return parts
