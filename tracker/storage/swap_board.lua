-- Put a rebuilt board in place of the live one (tracker.rebuild), unless a worker applied
-- entries of the product since the rebuild began.
--
-- KEYS[1]      the product's counters (hash; field "applied")
-- ARGV[1]      its "applied" when the rebuild began ("" for none)
-- ARGV[2]      n: KEYS[2 .. n+1] are rebuilt keys, KEYS[n+2 .. 2n+1] the live names they take
-- KEYS[2n+2..] live keys the rebuild has no counterpart of: deleted
--
-- Returns -1 (nothing changed) when the counters moved, else the number of keys deleted.
if (redis.call('HGET', KEYS[1], 'applied') or '') ~= ARGV[1] then return -1 end
local n = tonumber(ARGV[2])
local deleted = 0
for i = 2 * n + 2, #KEYS do deleted = deleted + redis.call('DEL', KEYS[i]) end
for i = 2, n + 1 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + n])
  else  -- expired since it was listed (a short rate window's counts): gone in both
    redis.call('DEL', KEYS[i + n])
  end
end
return deleted
