#!lua flags=no-writes
-- Read a board and its ranks in ONE atomic step, so a score and its rank (and
-- a page and the ranks of its rows) always come from the same moment.
--
-- KEYS[1]  the board          st:{p}:lb:<board>          (member = user, score)
-- KEYS[2]  its distinct scores st:{p}:lb:<board>:scores  (kept by apply_batch.lua)
-- KEYS[3]  standing only, on skill and Glicko-2 boards: the member's rating hash
-- KEYS[#KEYS - 1], KEYS[#KEYS]  with "r" in ARGV[1]: the hashes of the board's records
--          (kept by apply_batch.lua; a bucket's board reads its period board's):
--          member -> metadata (a JSON object), and member -> "<n> <first> <last>"
-- ARGV[1]  "1" if the board breaks ties by time (tracker/tiebreak.py): it keeps
--          score * 2^32 + (2^32 - 1 - t), and every time of one score ties; else "0";
--          followed by "r" to read the records of the rows and places returned:
--          a slice gets { metadata or false per row } and { submissions or false per
--          row } as its sixth and seventh elements, a place (standing, standings) its
--          metadata and submissions (or false) after the rest
-- ARGV[2]  the command, then its arguments:
--   standing <member>          -> nil | { score, revrank, above, dense_above, below, size
--                                 [, mu, sigma] }
--   standings <member>...      -> { size, { member, score, revrank, above, dense_above,
--                                 below }... } for each member on the board, in ARGV order
--   page <start> <count>       -> slice
--   after <score> <member> <count>
--                              -> slice of the rows just after (score, member) in
--                                 board order, whether or not that member is still
--                                 there with that score (keyset paging)
--   before <score> <member> <count>
--                              -> slice of the (at most) count rows just before it
--   around <member> <count>    -> nil | slice of <count> rows holding the member,
--                                 centred on it, shifted inside the board at its ends
--   size                       -> { members, distinct scores }
--   cutoffs <percent>...       -> { size, { score of the n-th best member, members with
--                                 that score or a better one }... }, n = ceil(percent *
--                                 size / 100) at least 1 (as a percent tier's), for each
--                                 percent; { size } alone when the board is empty
--   tiers <kind> <value>...    -> { size, { lowest score in the tier or a better one
--                                 ('-inf': any), members in the tier }... } for tiers
--                                 best first; kind is score, rank, percent or rest
-- slice = { size, start, above, dense_above, { member, score, member, score, ... } }
--
-- Board order: score descending, then member bytes descending (ZREVRANGE).
-- above / dense_above count the members / distinct scores strictly better than
-- the first row of the slice. Scores are returned as Redis's exact strings, as
-- stored: the caller turns a timed board's numbers into scores (cheaper there than
-- on Redis's one thread).
local board, scores = KEYS[1], KEYS[2]
local timed, cmd = string.sub(ARGV[1], 1, 1) == '1', ARGV[2]
local kept = string.sub(ARGV[1], 2, 2) == 'r'
local meta, subs = nil, nil
if kept then meta, subs = KEYS[#KEYS - 1], KEYS[#KEYS] end
local rating = (#KEYS == 3 or #KEYS == 5) and KEYS[3] or nil
local UNIT = 4294967296

-- A stored number's score, as text; and the bounds of the stored numbers whose
-- score is better, or worse, than that of stored number `x`, as ZCOUNT's texts.
local function score_text(x)
  if not timed then return x end
  return string.format('%d', math.floor(tonumber(x) / UNIT))
end
local function above_bound(x)  -- exclusive: numbers of strictly better scores
  if not timed then return '(' .. x end
  return string.format('%d', (math.floor(tonumber(x) / UNIT) + 1) * UNIT)
end
local function below_bound(x)  -- exclusive: numbers of strictly worse scores
  if not timed then return '(' .. x end
  return string.format('(%d', math.floor(tonumber(x) / UNIT) * UNIT)
end

local function slice(start, count, size)
  size = size or redis.call('ZCARD', board)
  local rows = {}
  local above, dense_above = 0, 0
  if count > 0 and start < size then
    rows = redis.call('ZRANGE', board, start, start + count - 1, 'REV', 'WITHSCORES')
    if start > 0 then  -- at the top nothing is better (the top-10, the most read)
      above = redis.call('ZCOUNT', board, above_bound(rows[2]), '+inf')
      dense_above = redis.call('ZCOUNT', scores, '(' .. score_text(rows[2]), '+inf')
    end
  end
  if kept then
    local members = {}
    for i = 1, #rows, 2 do members[#members + 1] = rows[i] end
    if #members == 0 then return { size, start, above, dense_above, rows, {}, {} } end
    return { size, start, above, dense_above, rows, redis.call('HMGET', meta, unpack(members)),
             redis.call('HMGET', subs, unpack(members)) }
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
  return {
    score,
    redis.call('ZREVRANK', board, member),
    redis.call('ZCOUNT', board, above_bound(score), '+inf'),
    redis.call('ZCOUNT', scores, '(' .. score_text(score), '+inf'),
    redis.call('ZCOUNT', board, '-inf', below_bound(score)),
  }
end

if cmd == 'standing' then
  local found = place(ARGV[3])
  if found then
    found[6] = redis.call('ZCARD', board)
    if rating then found[7] = redis.call('HGETALL', rating) end
    if kept then
      found[#found + 1] = redis.call('HGET', meta, ARGV[3])
      found[#found + 1] = redis.call('HGET', subs, ARGV[3])
    end
  end
  return found
elseif cmd == 'standings' then
  local out = { redis.call('ZCARD', board) }
  for i = 3, #ARGV do
    local found = place(ARGV[i])
    if found then
      table.insert(found, 1, ARGV[i])
      if kept then
        found[7] = redis.call('HGET', meta, ARGV[i])
        found[8] = redis.call('HGET', subs, ARGV[i])
      end
      out[#out + 1] = found
    end
  end
  return out
elseif cmd == 'page' then
  return slice(tonumber(ARGV[3]), tonumber(ARGV[4]))
elseif cmd == 'after' or cmd == 'before' then
  -- s: the stored number of the cursor's row (on a timed board, with its time)
  local s, member, count = ARGV[3], ARGV[4], tonumber(ARGV[5])
  local current = redis.call('ZSCORE', board, member)
  local at  -- the row's 0-based place in board order (where it would be, if gone)
  if current and tonumber(current) == tonumber(s) then
    at = redis.call('ZREVRANK', board, member)
    if cmd == 'after' then at = at + 1 end  -- the row itself is on the previous page
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
    at = redis.call('ZCOUNT', board, '(' .. s, '+inf') + (hi - a)
  end
  if cmd == 'after' then return slice(at, count) end
  local start = math.max(0, at - count)
  return slice(start, at - start)
elseif cmd == 'around' then
  local member, count = ARGV[3], tonumber(ARGV[4])
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
  -- On a timed board, a lowest score s counts every stored number from s * UNIT
  -- (the latest time of s) up; what is shown is the score.
  local function lowest(score)
    if not timed then return score end
    return math.ceil(score) * UNIT
  end
  local upper_shown = '+inf'
  for i = 3, #ARGV, 2 do
    local kind, value = ARGV[i], tonumber(ARGV[i + 1])
    local low, low_text, low_shown = -math.huge, '-inf', '-inf'
    if kind == 'score' then
      low, low_shown = lowest(value), ARGV[i + 1]
      low_text = timed and string.format('%d', low) or ARGV[i + 1]
    elseif kind == 'rank' or kind == 'percent' then
      local n = value
      if kind == 'percent' then n = math.max(1, math.ceil(value * size / 100)) end
      if n < size then
        local nth = redis.call('ZRANGE', board, n - 1, n - 1, 'REV', 'WITHSCORES')[2]
        low_shown = score_text(nth)
        low = lowest(tonumber(low_shown))
        low_text = timed and string.format('%d', low) or nth
      end
    end
    local members = 0
    if low < upper then
      members = redis.call('ZCOUNT', board, low_text, '(' .. upper_text)
      upper, upper_text, upper_shown = low, low_text, low_shown
    end
    out[#out + 1] = { upper_shown, members }
  end
  return out
elseif cmd == 'cutoffs' then
  local size = redis.call('ZCARD', board)
  local out = { size }
  if size == 0 then return out end
  for i = 3, #ARGV do
    local n = math.min(size, math.max(1, math.ceil(tonumber(ARGV[i]) * size / 100)))
    local nth = redis.call('ZRANGE', board, n - 1, n - 1, 'REV', 'WITHSCORES')[2]
    -- members with that score or a better one: all but those strictly worse
    local worse = redis.call('ZCOUNT', board, '-inf', below_bound(nth))
    out[#out + 1] = { score_text(nth), size - worse }
  end
  return out
elseif cmd == 'size' then
  return { redis.call('ZCARD', board), redis.call('ZCARD', scores) }
end
return redis.error_reply('unknown command ' .. tostring(cmd))
