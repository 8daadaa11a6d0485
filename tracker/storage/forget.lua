-- Forget one player of one product, atomically (tracker/erasure.py): take it off
-- the boards named and its bucket's board on those split into buckets, keeping
-- their tie structures right as apply_batch.lua does, and its records' metadata;
-- delete its stats and, per board, its rating, game history, joins and bucket; and
-- take its rows out of the boards' archives. In mode "records" (an operator deleting
-- a cheat's records) only its places, records and archived rows go: its stats, joins
-- and bucket stay.
--
-- KEYS[1]  the product's key prefix "<prefix>:{<product>}:" (every key below
--          shares its hash tag, so this runs on Redis Cluster too)
-- ARGV[1]  the user id; ARGV[2] the comma-separated names of the boards that break
--          ties by time (they keep score * 2^32 + time, tracker/tiebreak.py);
--          ARGV[3] "player" (forget it) or "records"; ARGV[4..] board names, all-time
--          and period ("wins:2026-W48")
--
-- Returns { boards the player was on, keys deleted, archived periods it was taken out of }.
local p, user, whole = KEYS[1], ARGV[1], ARGV[3] == 'player'
local timed = {}
for name in string.gmatch(ARGV[2], '[^,]+') do timed[name] = true end

local function canon(x)  -- apply_batch.lua's canonical score text
  if x == 0 then x = 0 end
  return string.format('%.17g', x)
end

-- Take the user off board `key` (of configured board `name`), tie structures included;
-- whether it was there.
local function off(key, name)
  local score = tonumber(redis.call('ZSCORE', key, user))
  if score == nil then return false end
  if timed[name] then score = math.floor(score / 4294967296) end
  redis.call('ZREM', key, user)
  local text = canon(score)
  if redis.call('HINCRBY', key .. ':counts', text, -1) <= 0 then
    redis.call('HDEL', key .. ':counts', text)
    redis.call('ZREM', key .. ':scores', text)
  end
  return true
end

local boards, deleted = 0, 0
for i = 4, #ARGV do
  local key, name = p .. 'lb:' .. ARGV[i], string.match(ARGV[i], '^[^:]+')
  if off(key, name) then boards = boards + 1 end
  redis.call('HDEL', key .. ':meta', user)  -- its record: metadata, submissions
  redis.call('HDEL', key .. ':subs', user)
  local bucket = redis.call('HGET', key .. ':buckets', user)  -- a period board's buckets
  if bucket then off(key .. ':b' .. bucket, name) end
  if whole then
    redis.call('ZREM', key .. ':joined', user)  -- a tournament it joined
    -- its place in the bucket stays taken: buckets keep their size
    if bucket then redis.call('HDEL', key .. ':buckets', user) end
    deleted = deleted + redis.call('DEL', p .. 'rating:' .. ARGV[i] .. ':' .. user,
                                   p .. 'history:' .. ARGV[i] .. ':' .. user)
  end
end
if whole then deleted = deleted + redis.call('DEL', p .. 'stats:' .. user) end

-- The archives of the all-time boards named (tracker/closing.py): the player's rows
-- leave each closed period's standings; the others keep the ranks they closed with.
local archived = 0
for i = 4, #ARGV do
  if not string.find(ARGV[i], ':', 1, true) then
    local archive = p .. 'archive:' .. ARGV[i]
    local all = redis.call('HGETALL', archive)
    for j = 1, #all, 2 do
      local closed = cjson.decode(all[j + 1])
      local rows, named = {}, false
      for _, row in ipairs(closed.top) do
        if row.user_id == user then
          named = true
        else
          rows[#rows + 1] = string.format('{"rank":%d,"user_id":%s,"score":%s}', row.rank,
                                          cjson.encode(row.user_id), canon(row.score))
        end
      end
      if named then
        redis.call('HSET', archive, all[j], string.format(
          '{"size":%d,"top":[%s],"closed_at":%d}', closed.size, table.concat(rows, ','),
          closed.closed_at))
        archived = archived + 1
      end
    end
  end
end
return { boards, deleted, archived }
