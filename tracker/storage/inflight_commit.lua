-- Record what a bridge read as parts in flight, and move the consumer group
-- past it, in one atomic step, if the group is still where the read began.
--
-- KEYS[1]  the event stream
-- KEYS[2]  hash: part name -> msgpack of the part's entries { {id, {field, value, ...}}, ... }
-- KEYS[3]  sorted set: part name -> when a bridge should publish it again (ms)
-- KEYS[4]  string: entries in flight (the sum over the parts)
-- KEYS[5]  string: the reader lease, released here
-- ARGV[1]  consumer group   ARGV[2]  this bridge
-- ARGV[3]  the group's last delivered id when the read began (XRANGE after it)
-- ARGV[4]  the last entry id read   ARGV[5]  entries read
-- ARGV[6]  the group's entries read when the read began, or "" if unknown
-- ARGV[7]  ms after which an unfinished part is published again
-- ARGV[8], ARGV[9], ... : part name, msgpack entries, part name, ...
--
-- Returns {1, i, name, ...}: the parts recorded under another name than their own
-- (i: the part's place among ARGV's, from 1; see inflight_names.lua), usually none;
-- or 0 if the group moved meanwhile (nothing is written: read again).
local position
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == ARGV[1] then position = info['last-delivered-id'] end
end
if position == nil then return redis.error_reply('NOGROUP no such consumer group') end
if position ~= ARGV[3] then return 0 end

if ARGV[6] ~= '' then
  redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], ARGV[4],
             'ENTRIESREAD', tonumber(ARGV[6]) + tonumber(ARGV[5]))
else
  redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], ARGV[4])
end
local t = redis.call('TIME')
local due = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[7])
local renamed = {1}
for i = 8, #ARGV, 2 do
  local name = record_part(KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[3], due, name)
  if name ~= ARGV[i] then
    renamed[#renamed + 1] = (i - 6) / 2
    renamed[#renamed + 1] = name
  end
end
redis.call('INCRBY', KEYS[4], ARGV[5])
if redis.call('GET', KEYS[5]) == ARGV[2] then redis.call('DEL', KEYS[5]) end
return renamed
