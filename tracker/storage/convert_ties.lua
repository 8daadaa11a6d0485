-- Convert one board's sorted set between the two ways of ordering equal scores
-- (tracker/tiebreak.py), atomically: each member keeps its score.
--
-- KEYS[1]  the board (an all-time, period or bucket board; its tie structures hold
--          scores, which do not change)
-- ARGV[1]  "earliest": score -> score * 2^32 + (2^32 - 1), as if reached at the
--          earliest second, so the players already there stay ahead of anyone who
--          reaches their score later; "member": back, stored number -> its score
--
-- Nothing is written unless every member can be converted: to "earliest", every
-- score is an integer of magnitude below 2^21 (a larger number is a board already
-- converted, or one such a board cannot hold); to "member", every stored number is
-- 2^21 or more in magnitude (a smaller one is a board not converted).
-- Returns the number of members converted, or an error naming the first misfit.
local board, to = KEYS[1], ARGV[1]
local UNIT, LIMIT, CHUNK = 4294967296, 2097152, 5000
local ARGS = 1000  -- arguments per ZADD, well below Lua's unpack limit
local size = redis.call('ZCARD', board)

local function each(visit)  -- visit(member, stored number) over the board, in chunks
  for start = 0, size - 1, CHUNK do
    local rows = redis.call('ZRANGE', board, start, start + CHUNK - 1, 'WITHSCORES')
    for i = 1, #rows, 2 do visit(rows[i], tonumber(rows[i + 1])) end
  end
end

local misfit = nil
each(function(member, x)
  if misfit then return end
  if to == 'earliest' then
    if x ~= math.floor(x) or math.abs(x) >= LIMIT then misfit = member end
  elseif math.abs(x) < LIMIT then
    misfit = member
  end
end)
if misfit then
  return redis.error_reply(string.format(
    'member %s of %s does not fit: %s', misfit, board,
    to == 'earliest' and 'not an integer below 2^21 (already converted?)'
                      or 'not a stored number of a board that breaks ties by time'))
end

-- New numbers are computed first: ZRANGE chunks must not see rows moved meanwhile.
local converted = {}
each(function(member, x)
  local y
  if to == 'earliest' then y = x * UNIT + (UNIT - 1) else y = math.floor(x / UNIT) end
  converted[#converted + 1] = string.format('%.17g', y)
  converted[#converted + 1] = member
end)
for i = 1, #converted, ARGS do
  redis.call('ZADD', board, unpack(converted, i, math.min(i + ARGS - 1, #converted)))
end
return size
