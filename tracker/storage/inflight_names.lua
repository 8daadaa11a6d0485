-- Prepended to the scripts that record parts (tracker.storage.inflight).
--
-- Records a part under its name, or, if a part of that name is in flight
-- already, under the first free `<first id>~<k>/<attempt>/<product>`, k = 1, 2 ...
-- Two parts share a name only when a replay (the group moved back with
-- XGROUP SETID) read the same first entry again while the first read is still
-- in flight; its entries may run further, so writing over it could lose them.
-- Returns the name used.
local function record_part(parts, name, blob)
  if redis.call('HSETNX', parts, name, blob) == 1 then return name end
  local slash = string.find(name, '/', 1, true)
  local head, tail = string.sub(name, 1, slash - 1), string.sub(name, slash)
  local k = 1
  while redis.call('HSETNX', parts, head .. '~' .. k .. tail, blob) == 0 do k = k + 1 end
  return head .. '~' .. k .. tail
end

