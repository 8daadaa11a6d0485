#!lua flags=no-writes
-- Read a board and its ranks in ONE atomic step, so a score and its rank (and
-- a page and the ranks of its rows) always come from the same moment.
--
-- KEYS[1]  the board          st:{p}:lb:<board>          (member = user, score)
-- KEYS[2]  its distinct scores st:{p}:lb:<board>:scores  (kept by apply_batch.lua)
-- KEYS[3]  standing only, on skill and Glicko-2 boards: the member's rating hash
-- ARGV[1]  the command, then its arguments:
--   standing <member>          -> nil | { score, revrank, above, dense_above, below, size
--                                 [, mu, sigma] }
--   standings <member>...      -> { size, { member, score, revrank, above, dense_above,
--                                 below }... } for each member on the board, in ARGV order
--   page <start> <count>       -> slice
--   after <score> <member> <count>
--                              -> slice of the rows just after (score, member) in
--                                 board order, whether or not that member is still
--                                 there with that score (keyset paging)
--   around <member> <count>    -> nil | slice of <count> rows holding the member,
--                                 centred on it, shifted inside the board at its ends
--   size                       -> { members, distinct scores }
--   tiers <kind> <value>...    -> { size, { lowest score in the tier or a better one
--                                 ('-inf': any), members in the tier }... } for tiers
--                                 best first; kind is score, rank, percent or rest
-- slice = { size, start, above, dense_above, { member, score, member, score, ... } }
--
-- Board order: score descending, then member bytes descending (ZREVRANGE).
-- above / dense_above count the members / distinct scores strictly better than
-- the first row of the slice. Scores are returned as Redis's exact strings.
local board, scores = KEYS[1], KEYS[2]
local cmd = ARGV[1]

local function slice(start, count, size)
  size = size or redis.call('ZCARD', board)
  local rows = {}
  local above, dense_above = 0, 0
  if count > 0 and start < size then
    rows = redis.call('ZRANGE', board, start, start + count - 1, 'REV', 'WITHSCORES')
    if start > 0 then  -- at the top nothing is better (the top-10, the most read)
      local first = '(' .. rows[2]
      above = redis.call('ZCOUNT', board, first, '+inf')
      dense_above = redis.call('ZCOUNT', scores, first, '+inf')
    end
  end
  return { size, start, above, dense_above, rows }
end

-- Byte-wise a < b, as Redis orders equal scores (Lua's < would use strcoll,
-- which depends on the server's locale).
local function bytes_less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- A member's place: { score, revrank, above, dense_above, below }, or nil when absent.
local function place(member)
  local score = redis.call('ZSCORE', board, member)
  if not score then return nil end
  local excl = '(' .. score
  return {
    score,
    redis.call('ZREVRANK', board, member),
    redis.call('ZCOUNT', board, excl, '+inf'),
    redis.call('ZCOUNT', scores, excl, '+inf'),
    redis.call('ZCOUNT', board, '-inf', excl),
  }
end

if cmd == 'standing' then
  local found = place(ARGV[2])
  if found then
    found[6] = redis.call('ZCARD', board)
    if KEYS[3] then found[7] = redis.call('HGETALL', KEYS[3]) end
  end
  return found
elseif cmd == 'standings' then
  local out = { redis.call('ZCARD', board) }
  for i = 2, #ARGV do
    local found = place(ARGV[i])
    if found then
      table.insert(found, 1, ARGV[i])
      out[#out + 1] = found
    end
  end
  return out
elseif cmd == 'page' then
  return slice(tonumber(ARGV[2]), tonumber(ARGV[3]))
elseif cmd == 'after' then
  local s, member, count = ARGV[2], ARGV[3], tonumber(ARGV[4])
  local current = redis.call('ZSCORE', board, member)
  local start
  if current and tonumber(current) == tonumber(s) then
    start = redis.call('ZREVRANK', board, member) + 1
  else
    -- (s, member) is no longer on the board: count the rows before it in board
    -- order, i.e. higher scores plus equal scores with greater member bytes.
    -- Equal scores hold ascending ZRANK positions [lo, hi): binary search there.
    local lo = redis.call('ZCOUNT', board, '-inf', '(' .. s)
    local hi = lo + redis.call('ZCOUNT', board, s, s)
    local a, b = lo, hi
    while a < b do
      local mid = math.floor((a + b) / 2)
      local m = redis.call('ZRANGE', board, mid, mid)[1]
      if bytes_less(m, member) then a = mid + 1 else b = mid end
    end
    start = redis.call('ZCOUNT', board, '(' .. s, '+inf') + (hi - a)
  end
  return slice(start, count)
elseif cmd == 'around' then
  local member, count = ARGV[2], tonumber(ARGV[3])
  local rank = redis.call('ZREVRANK', board, member)
  if not rank then return nil end
  local size = redis.call('ZCARD', board)
  local start = math.max(0, math.min(rank - math.floor((count - 1) / 2), size - count))
  return slice(start, count, size)
elseif cmd == 'tiers' then
  -- A member is in the first tier it qualifies for; every cutoff is a lowest
  -- score: "rank n" is the n-th best member's score (anyone at or above it has a
  -- competition rank of at most n), "percent p" the rank ceil(p * size / 100) as
  -- tracker/tiers.py Tier.max_rank works it out.
  local size = redis.call('ZCARD', board)
  local out = { size }
  local upper, upper_text = math.huge, '+inf'  -- the best tiers' lowest score so far
  for i = 2, #ARGV, 2 do
    local kind, value = ARGV[i], tonumber(ARGV[i + 1])
    local low, low_text = -math.huge, '-inf'
    if kind == 'score' then
      low, low_text = value, ARGV[i + 1]
    elseif kind == 'rank' or kind == 'percent' then
      local n = value
      if kind == 'percent' then n = math.max(1, math.ceil(value * size / 100)) end
      if n < size then
        low_text = redis.call('ZRANGE', board, n - 1, n - 1, 'REV', 'WITHSCORES')[2]
        low = tonumber(low_text)
      end
    end
    local members = 0
    if low < upper then
      members = redis.call('ZCOUNT', board, low_text, '(' .. upper_text)
      upper, upper_text = low, low_text
    end
    out[#out + 1] = { upper_text, members }
  end
  return out
elseif cmd == 'size' then
  return { redis.call('ZCARD', board), redis.call('ZCARD', scores) }
end
return redis.error_reply('unknown command ' .. tostring(cmd))
