-- Adopt what a consumer group still holds as pending: entries read and never
-- acknowledged by a bridge of an earlier version, which tracked work that way.
-- They become parts in flight, due at once, and are acknowledged, in one
-- atomic step (so they are neither lost nor adopted twice). Runs at a
-- bridge's start; a group with nothing pending costs one XPENDING.
--
-- KEYS[1]  the event stream
-- KEYS[2..4]  parts hash, due set, entries in flight (as in inflight_commit.lua)
-- ARGV[1]  consumer group   ARGV[2]  this bridge   ARGV[3]  the most entries per part
--
-- Returns the number of entries adopted by this call (call again until 0).
local summary = redis.call('XPENDING', KEYS[1], ARGV[1])
if summary[1] == 0 then return 0 end
local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, '0-0', 'COUNT', 1000)
local entries, ids = {}, {}
for _, e in ipairs(reply[2]) do
  ids[#ids + 1] = e[1]
  if e[2] then entries[#entries + 1] = e end  -- false: deleted from the stream meanwhile
end
for _, id in ipairs(reply[3] or {}) do ids[#ids + 1] = id end
if #ids == 0 then return 0 end

local limit = tonumber(ARGV[3])
local current, parts, valid = {}, {}, {}
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local product = ''
  for j = 1, #fields, 2 do
    if fields[j] == 'product_id' then product = fields[j + 1] end
  end
  local checked = valid[product]
  if checked == nil then  -- as tracker.storage.inflight.split_by_product
    checked = product
    if #product > 64 or not string.find(product, '^[%w][%w_.%-]*$') then checked = '' end
    valid[product] = checked
  end
  local part = current[checked]
  if part == nil or #part >= limit then
    part = {}
    current[checked] = part
    parts[#parts + 1] = { checked, part }
  end
  part[#part + 1] = entry
end
for _, p in ipairs(parts) do
  local name = record_part(KEYS[2], p[2][1][1] .. '/0/' .. p[1], cmsgpack.pack(p[2]))
  redis.call('ZADD', KEYS[3], 0, name)  -- due at once
end
redis.call('INCRBY', KEYS[4], #entries)
for from = 1, #ids, 500 do
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids, from, math.min(from + 499, #ids)))
end
return #ids
