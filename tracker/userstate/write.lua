-- Set or delete the state of one user's blocks of ONE course, atomically, with
-- history. Every key below starts with KEYS[1], the course's prefix
-- "us:{<course>}:", so all of them live in the course's cluster slot.
--
-- ARGV[1]  "set" or "delete"
-- ARGV[2]  the username
-- ARGV[3]  history entries kept per (user, block)
-- ARGV[4]  "" or the call's retry key: a call whose key was seen in the last day
--          is a retry of one that was applied, and changes nothing
-- ARGV[5]  the number of blocks, then per block:
--            its key, its block type, n, then n field names (delete: n = -1 means
--            every field) or, for set, n pairs of field name and JSON value
--
-- Per (user, block), with b = "<len(block)>:<block>" (unambiguous):
--   s:<b>:<user>   hash  "f:<field>" -> JSON value; "m:t" -> updated (µs since the
--                        epoch); "m:d" -> "1" while deleted (a tombstone: used once,
--                        then reset; a key that never existed is absent)
--   h:<b>:<user>   list  newest first: JSON [updated µs, full state or null]
--   ib:<b>         zset  users with live state in the block (score 0, by name)
--   ic             zset  "<block type>\0<block>\0<user>" with live state (score 0)
--   n              hash  counters: history_trimmed
--   r:<retry key>  string the call was applied (expires after a day)
--
-- Times come from this server's clock and grow strictly per (user, block): a
-- write in the same microsecond as the previous one gets the next microsecond.
-- Returns { blocks created, updated, deleted, history entries trimmed, retried (0/1) }.
local p, op, user, keep = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
if ARGV[4] ~= '' and not redis.call('SET', p .. 'r:' .. ARGV[4], '1', 'NX', 'EX', 86400) then
  return { 0, 0, 0, 0, 1 }
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local created, updated, deleted, trimmed = 0, 0, 0, 0

local function snapshot(key)
  local all = redis.call('HGETALL', key)
  local parts = {}
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'f:' then
      parts[#parts + 1] = cjson.encode(string.sub(all[i], 3)) .. ':' .. all[i + 1]
    end
  end
  return parts
end

local function record(b, key, state_json)
  local last = tonumber(redis.call('HGET', key, 'm:t'))
  local t = now
  if last and t <= last then t = last + 1 end
  local text = string.format('%.0f', t)  -- tostring would round it to 14 digits
  redis.call('HSET', key, 'm:t', text)
  local history = p .. 'h:' .. b .. ':' .. user
  local n = redis.call('LPUSH', history, '[' .. text .. ',' .. state_json .. ']')
  if n > keep then
    redis.call('LTRIM', history, 0, keep - 1)
    trimmed = trimmed + (n - keep)
  end
end

local i = 6
for _ = 1, tonumber(ARGV[5]) do
  local block, block_type, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  i = i + 3
  local b = #block .. ':' .. block
  local key = p .. 's:' .. b .. ':' .. user
  local member = block_type .. '\0' .. block .. '\0' .. user
  local live = redis.call('HEXISTS', key, 'm:t') == 1 and redis.call('HEXISTS', key, 'm:d') == 0
  if op == 'set' then
    if n > 0 or live then
      local pairs_ = {}
      for j = 0, n - 1 do
        pairs_[#pairs_ + 1] = 'f:' .. ARGV[i + 2 * j]
        pairs_[#pairs_ + 1] = ARGV[i + 2 * j + 1]
      end
      if #pairs_ > 0 then redis.call('HSET', key, unpack(pairs_)) end
      redis.call('HDEL', key, 'm:d')
      redis.call('ZADD', p .. 'ib:' .. b, 0, user)
      redis.call('ZADD', p .. 'ic', 0, member)
      if live then updated = updated + 1 else created = created + 1 end
      record(b, key, '{' .. table.concat(snapshot(key), ',') .. '}')
    end
    i = i + 2 * n
  else
    if live then
      local names = {}
      if n < 0 then
        local all = redis.call('HKEYS', key)
        for _, f in ipairs(all) do
          if string.sub(f, 1, 2) == 'f:' then names[#names + 1] = f end
        end
      else
        for j = 0, n - 1 do names[#names + 1] = 'f:' .. ARGV[i + j] end
      end
      if #names > 0 then redis.call('HDEL', key, unpack(names)) end
      local rest = snapshot(key)
      if #rest == 0 then  -- nothing left: the block's state is deleted
        redis.call('HSET', key, 'm:d', '1')
        redis.call('ZREM', p .. 'ib:' .. b, user)
        redis.call('ZREM', p .. 'ic', member)
        deleted = deleted + 1
        record(b, key, 'null')
      else
        updated = updated + 1
        record(b, key, '{' .. table.concat(rest, ',') .. '}')
      end
    end
    if n > 0 then i = i + n end
  end
end
if trimmed > 0 then redis.call('HINCRBY', p .. 'n', 'history_trimmed', trimmed) end
return { created, updated, deleted, trimmed, 0 }
