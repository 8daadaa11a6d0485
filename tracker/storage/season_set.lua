-- Start a season, or move the last one's end, of a board whose seasons are set at run time (tracker.storage.seasons).
-- KEYS[1]: the board's seasons, JSON [[id, start_ms, end_ms], ...] (numbers as text), in order
-- ARGV: "start" or "end", lead_ms, at_ms, the longest season (ms), then for "start" the
--       season's id and its end (ms)
-- Every change takes effect at least lead_ms after now (this server's clock), so that every
-- worker has read it before the first event it concerns. Returns {"ok", json} or {"err", why, …}.
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000 + math.floor(tonumber(now_s[2]) / 1000)
local lead, at, longest = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if at < now + lead then
  return {'err', 'too_soon', tostring(now + lead)}
end
local raw = redis.call('GET', KEYS[1])
local seasons = raw and cjson.decode(raw) or {}
local last = seasons[#seasons]
if ARGV[1] == 'start' then
  local id, until_ms = ARGV[5], tonumber(ARGV[6])
  if until_ms - at > longest then return {'err', 'too_long'} end
  for _, season in ipairs(seasons) do
    if season[1] == id then return {'err', 'exists', id} end
  end
  if last then
    if at <= tonumber(last[2]) then return {'err', 'not_after', last[1], last[2]} end
    if at < tonumber(last[3]) then last[3] = tostring(at) end  -- this one ends as the new begins
  end
  seasons[#seasons + 1] = {id, tostring(at), tostring(until_ms)}
else
  if not last then return {'err', 'none'} end
  if at <= tonumber(last[2]) then return {'err', 'not_after', last[1], last[2]} end
  if at - tonumber(last[2]) > longest then return {'err', 'too_long'} end
  -- moving the end later changes what [old end, at) counts in: that too must lie ahead
  if at > tonumber(last[3]) and tonumber(last[3]) < now + lead then
    return {'err', 'ended', last[1], last[3]}
  end
  last[3] = tostring(at)
end
local encoded = cjson.encode(seasons)
redis.call('SET', KEYS[1], encoded)
return {'ok', encoded}
