-- Claim the next entries of the event stream: read them and record them as
-- in flight, in one atomic step, so that no crash can lose what was read.
--
-- KEYS[1]  the event stream
-- KEYS[2]  hash: part name -> msgpack of the part's entries { {id, {field, value, ...}}, ... }
-- KEYS[3]  sorted set: part name -> when a bridge should publish it again (ms)
-- KEYS[4]  string: entries in flight (the sum over the parts)
-- ARGV[1]  consumer group      ARGV[2]  consumer
-- ARGV[3]  entries to read     ARGV[4]  the most entries per part
-- ARGV[5]  the most entries in flight: none is read at or above it
-- ARGV[6]  ms after which an unfinished part is published again
--
-- The group advances with NOACK: no per-entry pending list, which cost more
-- than everything else here; the parts are the record of what is in flight.
-- Entries are split by their product_id (the last one, as a dict keeps it)
-- into parts of at most ARGV[4] entries. A product id that is not one (see
-- PRODUCT_ID_RE in tracker/events.py) is grouped as "", and dead-lettered
-- by the worker. A part is named "<its first entry id>/0/<product>".
--
-- Returns { "busy" } | { "empty", last delivered id } |
--         { "ok", last id read, entries read, part, entries, part, entries, ... }
if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[5]) then
  return { 'busy' }
end
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'NOACK',
                         'STREAMS', KEYS[1], '>')
if not reply then
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local info = {}
    for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
    if info['name'] == ARGV[1] then return { 'empty', info['last-delivered-id'] } end
  end
  return { 'empty', '0-0' }
end

local entries = reply[1][2]
local limit = tonumber(ARGV[4])
local current, parts = {}, {}  -- product -> its part being filled; parts in order
local valid = {}  -- product id -> itself if it is one, else ''
for i = 1, #entries do
  local entry = entries[i]
  local fields = entry[2]
  local product = ''
  for j = 1, #fields, 2 do
    if fields[j] == 'product_id' then product = fields[j + 1] end
  end
  local checked = valid[product]
  if checked == nil then
    checked = product
    if #product > 64 or not string.find(product, '^[%w][%w_.%-]*$') then checked = '' end
    valid[product] = checked
  end
  product = checked
  local part = current[product]
  if part == nil or #part >= limit then
    part = {}
    current[product] = part
    parts[#parts + 1] = { product, part }
  end
  part[#part + 1] = entry
end

local t = redis.call('TIME')
local due = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[6])
local out = { 'ok', entries[#entries][1], #entries }
for _, p in ipairs(parts) do
  local name = p[2][1][1] .. '/0/' .. p[1]
  redis.call('HSET', KEYS[2], name, cmsgpack.pack(p[2]))
  redis.call('ZADD', KEYS[3], due, name)
  out[#out + 1] = name
  out[#out + 1] = #p[2]
end
redis.call('INCRBY', KEYS[4], #entries)
return out
