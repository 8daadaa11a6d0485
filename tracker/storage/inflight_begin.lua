-- Before a bridge reads: may it, and from where? (See tracker/storage/inflight.py.)
--
-- KEYS[1]  the event stream        KEYS[2]  string: entries in flight
-- KEYS[3]  string: the reader lease (which bridge reads now)
-- ARGV[1]  consumer group   ARGV[2]  this bridge   ARGV[3]  lease ms
-- ARGV[4]  the most entries in flight: none is read at or above it
--
-- One bridge reads at a time (the lease), so that bridges do not read the
-- same entries only for all but one to find, at commit, that another was
-- first. The commit's check of the group's position is what keeps a read
-- from counting twice; the lease only saves work, and expires if its
-- holder dies.
--
-- Returns { "wait" } (another bridge holds the lease) | { "busy" } |
--         { "ok", the group's last delivered id, its entries read or "" }
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOGROUP the stream does not exist')
end
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[2] then return { 'wait' } end
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[4]) then
  return { 'busy' }
end
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == ARGV[1] then
    redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
    local read = info['entries-read']  -- nil: Redis does not know yet
    if not read and info['last-delivered-id'] == '0-0' then read = 0 end
    return { 'ok', info['last-delivered-id'], read or '' }
  end
end
return redis.error_reply('NOGROUP no such consumer group')
