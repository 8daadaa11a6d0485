-- Close one period of a board, once (tracker/closing.py): publish its final
-- standings, and those of each of its buckets, to the product's results stream
-- <p>period_results, which whatever grants rewards reads.
--
-- KEYS[1]  the product's key prefix "<prefix>:{<product>}:"
-- ARGV     product id, board, period id, the period's board name, top n,
--          "1" if the board is ascending (kept negated, tracker/order.py), when
--          the period board expires (Unix ms), bucket size (0: no buckets),
--          the stream's approximate maximum length, "1" if the board breaks ties by
--          time (it keeps score * 2^32 + time, tracker/tiebreak.py), the board's
--          subscore direction ("desc" or "asc"; "": none; it keeps score * 2^32 + a
--          low part, tracker/subscore.py), the period's first instant and the first
--          after it (Unix ms)
--
-- The mark "<period board>:closed" (expiring with the board) makes a second
-- close a no-op, so any number of schedulers may run it. Each stream entry:
-- product_id, board, period, start_ms, end_ms (its span), size, top = JSON
-- [{rank, user_id, score}] (ranks in competition mode; and subscore on a board with
-- one), and bucket on a bucket's entry.
-- The board's own entry is also kept in the board's archive <p>archive:<board>,
-- a hash: period id -> JSON {size, top, closed_at (Unix ms)}, which the read API
-- serves for as long as anyone wants (results_top rows per period).
-- A period nobody played in is marked closed and publishes nothing.
-- Returns the number of entries published (0: closed before, or empty).
local p = KEYS[1]
local product, board, period, name = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local top, ascending, expires = tonumber(ARGV[5]), ARGV[6] == '1', ARGV[7]
local bucket_size, maxlen, timed = tonumber(ARGV[8]), ARGV[9], ARGV[10] == '1'
local sub, start_ms, end_ms = ARGV[11], ARGV[12], ARGV[13]
local UNIT = 4294967296
local key = p .. 'lb:' .. name

if not redis.call('SET', key .. ':closed', '1', 'NX', 'PXAT', expires) then return 0 end

local function canon(x)  -- apply_batch.lua's score text
  if x == 0 then x = 0 end
  return string.format('%.17g', x)
end

local function publish(board_key, bucket)
  local rows = redis.call('ZRANGE', board_key, 0, top - 1, 'REV', 'WITHSCORES')
  local out, rank, previous = {}, 0, nil
  for i = 1, #rows, 2 do
    local score = tonumber(rows[i + 1])
    if timed then score = math.floor(score / UNIT) end
    if score ~= previous then rank, previous = (i + 1) / 2, score end  -- ties: both columns
    local extra = ''
    if sub ~= '' then  -- the low part is never negated; larger is better either way
      local high = math.floor(score / UNIT)
      local low = score - high * UNIT
      if sub == 'asc' then low = UNIT - 1 - low end
      score, extra = high, string.format(',"subscore":%d', low)
    end
    out[#out + 1] = string.format('{"rank":%d,"user_id":%s,"score":%s%s}', rank,
                                  cjson.encode(rows[i]), canon(ascending and -score or score),
                                  extra)
  end
  local size, standings = redis.call('ZCARD', board_key), '[' .. table.concat(out, ',') .. ']'
  local fields = { 'product_id', product, 'board', board, 'period', period,
                   'start_ms', start_ms, 'end_ms', end_ms, 'size', size, 'top', standings }
  if bucket then
    fields[#fields + 1] = 'bucket'
    fields[#fields + 1] = bucket
  end
  redis.call('XADD', p .. 'period_results', 'MAXLEN', '~', maxlen, '*', unpack(fields))
  return size, standings
end

if redis.call('EXISTS', key) == 0 then return 0 end  -- nobody played: nothing to publish
local size, standings = publish(key, nil)
local clock = redis.call('TIME')
redis.call('HSET', p .. 'archive:' .. board, period, string.format(
  '{"size":%d,"top":%s,"closed_at":%d}', size, standings,
  tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)))
local published = 1
if bucket_size > 0 then
  local members = tonumber(redis.call('GET', key .. ':buckets:n') or 0)
  for k = 0, math.ceil(members / bucket_size) - 1 do
    publish(key .. ':b' .. k, k)
    published = published + 1
  end
end
return published
