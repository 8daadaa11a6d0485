-- Erase one user's state of some blocks of ONE course, atomically (a learner's
-- right to erasure): the state hashes, deleted ones included, their histories,
-- and the user's places in the iteration indexes. Keys as in write.lua.
--
-- KEYS[1]  the course's prefix "us:{<course>}:"
-- ARGV[1]  the username; ARGV[2] n, the number of blocks; ARGV[3 .. 2+n] the blocks;
--          then the user's members of the course index "ic" (they name the block type)
--
-- Returns the number of keys deleted.
local p, user, n = KEYS[1], ARGV[1], tonumber(ARGV[2])
local deleted = 0
for i = 3, 2 + n do
  local b = #ARGV[i] .. ':' .. ARGV[i]
  deleted = deleted + redis.call('DEL', p .. 's:' .. b .. ':' .. user, p .. 'h:' .. b .. ':' .. user)
  redis.call('ZREM', p .. 'ib:' .. b, user)
end
if #ARGV > 2 + n then redis.call('ZREM', p .. 'ic', unpack(ARGV, 3 + n)) end
return deleted
