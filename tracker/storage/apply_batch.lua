-- Apply a batch of one product's events atomically and idempotently.
--
-- KEYS[1]  the product's key prefix, e.g. "st:{exrps}:" (every key touched
--          below starts with it, so all live in the product's cluster slot)
-- ARGV[1]  msgpack array of events: { entry_id, seen_suffix, game_id or "", ops }
--          op = { "zi", board, member, delta }      ZINCRBY
--               { "zn", board, member, score }      ZADD NX
--               { "hi", user, stat, delta }         HINCRBY on the player's hash
--               { "elo", board, winner, loser, k, start }
-- ARGV[2]  dedupe TTL in seconds (0: keep for ever)
--
-- Every board write also keeps the board's tie structures, in this same
-- script, so they never disagree with the board:
--   <board>:scores  sorted set of the DISTINCT scores (member = score) for
--                   dense ranks: ZCOUNT <board>:scores (s +inf  + 1
--   <board>:counts  hash score -> how many members have it; a score leaves
--                   :scores when its count drops to 0
-- (see tracker/ranking.py and ranks.lua for the reads).
--
-- Returns { applied, duplicates, { entry ids whose game_id had a result already } }.
local p = KEYS[1]
local events = cmsgpack.unpack(ARGV[1])
local ttl = tonumber(ARGV[2])
local applied, duplicates, dup_games, touched = 0, 0, {}, {}
local quantum = 65536  -- ratings live on a 1/65536 grid: exact sums, exact zero-sum

-- The canonical text of a score: exact (%.17g round-trips a double, unlike
-- tostring's %.14g) and one text per value (-0 and 0 are one score).
local function canon(x)
  if x == 0 then x = 0 end
  return string.format('%.17g', x)
end

-- A member of board `key` moved from score `old` to `new` (nil: absent).
local function tally(key, old, new)
  if old == new then return end
  if old ~= nil then
    local o = canon(old)
    if redis.call('HINCRBY', key .. ':counts', o, -1) <= 0 then
      redis.call('HDEL', key .. ':counts', o)
      redis.call('ZREM', key .. ':scores', o)
    end
  end
  if new ~= nil then
    local n = canon(new)
    if redis.call('HINCRBY', key .. ':counts', n, 1) == 1 then
      redis.call('ZADD', key .. ':scores', n, n)
    end
  end
end

local function set_score(key, member, score)
  local old = tonumber(redis.call('ZSCORE', key, member))
  redis.call('ZADD', key, score, member)
  tally(key, old, score)
end

local function incr_score(key, member, delta)
  local old = tonumber(redis.call('ZSCORE', key, member))
  tally(key, old, tonumber(redis.call('ZINCRBY', key, delta, member)))
end

local function ensure_on_board(key, member, score)
  if redis.call('ZADD', key, 'NX', score, member) == 1 then
    tally(key, nil, tonumber(score))
  end
end

local function elo(board, w, l, k, start)
  local key = p .. 'lb:' .. board
  local rw = tonumber(redis.call('ZSCORE', key, w)) or start
  local rl = tonumber(redis.call('ZSCORE', key, l)) or start
  local expected = 1 / (1 + 10 ^ ((rl - rw) / 400))
  local d = math.floor(k * (1 - expected) * quantum + 0.5) / quantum
  set_score(key, w, rw + d)
  set_score(key, l, rl - d)
end

for i = 1, #events do
  local ev = events[i]
  local seen = p .. 'seen:' .. ev[2]
  if redis.call('SADD', seen, ev[1]) == 0 then
    duplicates = duplicates + 1
  elseif ev[3] ~= '' and redis.call('SADD', p .. 'results', ev[3]) == 0 then
    -- another entry already decided this match; unmarked again, so a
    -- redelivery reports it again and its dead letter cannot be lost
    redis.call('SREM', seen, ev[1])
    dup_games[#dup_games + 1] = ev[1]
  else
    touched[seen] = true
    for _, op in ipairs(ev[4]) do
      local kind = op[1]
      if kind == 'zi' then
        incr_score(p .. 'lb:' .. op[2], op[3], op[4])
      elseif kind == 'zn' then
        ensure_on_board(p .. 'lb:' .. op[2], op[3], op[4])
      elseif kind == 'hi' then
        redis.call('HINCRBY', p .. 'stats:' .. op[2], op[3], op[4])
      elseif kind == 'elo' then
        elo(op[2], op[3], op[4], op[5], op[6])
      else
        return redis.error_reply('unknown op ' .. tostring(kind))
      end
    end
    applied = applied + 1
  end
end
if ttl > 0 then
  for key in pairs(touched) do redis.call('EXPIRE', key, ttl) end
end
return { applied, duplicates, dup_games }
