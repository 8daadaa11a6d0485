-- A part is done with: forget it, and optionally hand some of its entries on
-- to a follow-up part (a retry), in one atomic step.
--
-- KEYS[1..3]  as in inflight_commit.lua: parts hash, due set, entries in flight
-- ARGV[1]  the part            ARGV[2]  its entry count
-- ARGV[3]  the follow-up part (optional), ARGV[4] its msgpack entries,
-- ARGV[5]  its entry count,    ARGV[6]  ms until a bridge may publish it again
--
-- Returns 0 if the part was already finished (a second delivery of its task):
-- then nothing changes, and no follow-up is made, since the first one made it.
-- Else the name the follow-up was recorded under (see inflight_names.lua), or 1.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[3], ARGV[2])
if ARGV[3] then
  local t = redis.call('TIME')
  local due = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[6])
  local name = record_part(KEYS[1], ARGV[3], ARGV[4])
  redis.call('INCRBY', KEYS[3], ARGV[5])
  redis.call('ZADD', KEYS[2], due, name)
  return name
end
return 1
