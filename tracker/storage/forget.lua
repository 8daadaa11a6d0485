-- Forget one player of one product, atomically (tracker/erasure.py): take it off
-- the boards named and its bucket's board on those split into buckets, keeping
-- their tie structures right as apply_batch.lua does, and delete its stats and,
-- per board, its rating and game history.
--
-- KEYS[1]  the product's key prefix "<prefix>:{<product>}:" (every key below
--          shares its hash tag, so this runs on Redis Cluster too)
-- ARGV[1]  the user id; ARGV[2..] board names, all-time and period ("wins:2026-W48")
--
-- Returns { boards the player was on, keys deleted }.
local p, user = KEYS[1], ARGV[1]

local function canon(x)  -- apply_batch.lua's canonical score text
  if x == 0 then x = 0 end
  return string.format('%.17g', x)
end

-- Take the user off board `key`, tie structures included; whether it was there.
local function off(key)
  local score = tonumber(redis.call('ZSCORE', key, user))
  if score == nil then return false end
  redis.call('ZREM', key, user)
  local text = canon(score)
  if redis.call('HINCRBY', key .. ':counts', text, -1) <= 0 then
    redis.call('HDEL', key .. ':counts', text)
    redis.call('ZREM', key .. ':scores', text)
  end
  return true
end

local boards, deleted = 0, 0
for i = 2, #ARGV do
  local key = p .. 'lb:' .. ARGV[i]
  if off(key) then boards = boards + 1 end
  local bucket = redis.call('HGET', key .. ':buckets', user)  -- a period board's buckets
  if bucket then
    off(key .. ':b' .. bucket)
    redis.call('HDEL', key .. ':buckets', user)  -- its place stays taken: buckets keep their size
  end
  deleted = deleted + redis.call('DEL', p .. 'rating:' .. ARGV[i] .. ':' .. user,
                                 p .. 'history:' .. ARGV[i] .. ':' .. user)
end
deleted = deleted + redis.call('DEL', p .. 'stats:' .. user)
return { boards, deleted }
