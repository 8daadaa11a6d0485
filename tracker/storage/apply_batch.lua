-- Apply a batch of one product's events atomically and idempotently.
--
-- KEYS[1]  the product's key prefix, e.g. "st:{exrps}:" (every key touched
--          below starts with it, so all live in the product's cluster slot)
-- ARGV[1]  msgpack of the batch, in one of two forms (ARGV[3]):
--   "events": an array of events { entry_id, seen_suffix, game_id or "", ops, late, t }
--          (late: 1 if the event came too late for a closed period, else 0;
--          t: its second since 2020, for boards that break ties by time, ARGV[6])
--          op = { "zi", board, member, delta }      ZINCRBY
--               { "zn", board, member, score }      ZADD NX
--               { "best", board, member, score [, metadata] }  keep the member's best score
--               { "set", board, member, score [, metadata] }   the member's latest score
--                 metadata: the JSON object kept with the record when the score is
--                 written (<board>:meta, member -> it); "" removes the record's
--               { "decr", board, member, amount, sign }  Nakama's decr: the score less
--                 amount, floor 0 (sign -1; +1 on a board kept negated: plus, ceiling 0)
--               { "meta", board, member, metadata }  keep it whatever the score
--               { "sub", board, member, n, first, last }  n submissions to member's record,
--                 the first and last at those Unix ms (<board>:subs, member ->
--                 "<n> <first> <last>", summed, least first, greatest last)
--               { "att", board, member, score, mode, limit, at, metadata, capacity,
--                 joined, rate, window, follows }  a submission to a board taking at
--                 most `limit` per member, `capacity` members and `rate` per member and
--                 window of `window` ms (0: any), and (joined 1) only from members that
--                 joined it: kept as "best" or "latest" says, or added ("sum"), and
--                 counted as a "sub" of 1 at `at`; past a limit, counted in <p>counters
--                 "refused" (a window's counts: <board>:rate:<at // window>, member -> n).
--                 follows 1: a period board's copy of the "att" just before it, dropped
--                 (not counted again) when that one's rate refused it
--               { "join", board, member, capacity, at }  the member joins the board
--                 (<board>:joined, a sorted set: member by when, Unix ms) unless
--                 `capacity` members have (0: any); then counted in <p>counters
--                 "refused"; again: nothing
--               { "game", board, winner, loser, at ms, keep }  both players' histories:
--                 <p>history:<board>:<user> (list, newest first, `keep` long)
--               { "streak", board, winner, loser }  win streaks: <board> keeps the longest,
--                 each player's rating hash (<p>rating:<board>:<user>) the current one
--               { "hi", user, stat, delta }         HINCRBY on the player's hash
--               { "elo", board, winner, loser, k, start }
--               { "os", board, winner, loser, mu, sigma, beta, kappa, tau }  OpenSkill
--               { "g2", board, winner, loser, rating, rd, volatility, tau }  Glicko-2
--               { "tl", timeline, record, time }  ZADD to the timeline, and HINCRBY
--                 its change count in <p>timelines (tracker/storage/timelines.py)
--   "fresh": the same batch summed up by tracker/storage/store.py, for when
--          none of its entries or results was applied before (the usual case):
--          { { {seen_suffix, {entry ids}}, ... }, {game ids}, ensure, incr,
--            stats, ratings, entries, late entries }  with ensure = { {board, member, score} },
--          incr = { {board, member, summed delta} }, stats = { {user, stat,
--          summed delta} }, ratings = { the "elo", "os", "g2", "best", "set", "meta", "att",
--          "join", "streak", "game" and "tl" ops above } in order, then the "sub" ops summed per
--          member.
--          If an entry or a result turns out to be applied already, nothing is
--          written and the reply is { "again" }: send the events form instead.
--          With ARGV[6], incr entries end with t, changed: the t of their member's
--          latest non-zero increment and 1, or if all were zero, of its first and
--          0; each ratings op ends with the t of its own.
-- ARGV[2]  dedupe TTL in seconds (0: keep for ever)
-- ARGV[4]  "" or msgpack of { {board, unix ms}, ... }: boards (period boards,
--          tracker/periods.py) that Redis drops at that time, with their tie
--          structures; set after the writes, which may have created them
-- ARGV[5]  "" or msgpack of { {board, size, {members}}, ... }: boards (period
--          boards) split into buckets of `size` players, and the members the batch
--          writes there, in event order. Before any write, each member without a
--          bucket gets the one being filled (<board>:buckets, member -> k, with
--          <board>:buckets:n counting members assigned): the same order in both
--          batch forms. Every write then mirrors the member's new score onto its
--          bucket's board <board>:b<k>, tie structures included. They expire with
--          the board.
--
-- ARGV[6]  "" or msgpack of { board names }: boards (with their period and bucket
--          boards) that break ties by time (tracker/tiebreak.py). Each member's
--          number there is score * 2^32 + (2^32 - 1 - t), t the second of the event
--          that gave it that score, so equal scores order earliest first; scores are
--          integers of magnitude below 2^21. A batch that would break that limit is
--          refused whole, before any write.
--
-- Every board write also keeps the board's tie structures, in this same
-- script, so they never disagree with the board:
--   <board>:scores  sorted set of the DISTINCT scores (member = score) for
--                   dense ranks: ZCOUNT <board>:scores (s +inf  + 1
--   <board>:counts  hash score -> how many members have it; a score leaves
--                   :scores when its count drops to 0
-- (see tracker/ranking.py and ranks.lua for the reads).
--
-- Increments are summed per key and member (per hash and field) over the batch
-- and written once at the end: a batch touches the same few players many
-- times, and each write of a board also costs its tie structures. The result
-- is the same as writing them one by one (integer and 1/65536-grid deltas add
-- exactly). Before an Elo update reads a board, its pending increments land.
--
-- Returns { applied, duplicates, { entry ids whose game_id had a result already } }.
local p = KEYS[1]
local events = cmsgpack.unpack(ARGV[1])
local ttl = tonumber(ARGV[2])
local CHUNK = 1000  -- arguments per call, well below Lua's unpack limit
local applied, duplicates, dup_games, late_applied = 0, 0, {}, 0
local quantum = 65536  -- ratings live on a 1/65536 grid: exact sums, exact zero-sum

-- The canonical text of a score: exact (%.17g round-trips a double, unlike
-- tostring's %.14g) and one text per value (-0 and 0 are one score).
local function canon(x)
  if x == 0 then x = 0 end
  return string.format('%.17g', x)
end

local timed = {}  -- configured board name -> true: it breaks ties by time
if ARGV[6] ~= nil and ARGV[6] ~= '' then
  for _, b in ipairs(cmsgpack.unpack(ARGV[6])) do timed[b] = true end
end
local UNIT, LIMIT = 4294967296, 2097152  -- 2^32: one score step; 2^21: |score| bound
local plen = #p + 4  -- the length of "<p>lb:"
local packed_keys = {}  -- board key -> whether it breaks ties by time

-- Whether board `key` (a configured board, or its period or bucket board) breaks ties by
-- time.
local function is_packed(key)
  local known = packed_keys[key]
  if known == nil then
    known = timed[string.match(string.sub(key, plen), '^[^:]+')] == true
    packed_keys[key] = known
  end
  return known
end

-- The score a stored number of board `key` stands for (nil: absent).
local function real(key, x)
  if x ~= nil and is_packed(key) then return math.floor(x / UNIT) end
  return x
end

-- The number board `key` keeps for `score` reached at second `t`.
local function packed(key, score, t)
  if is_packed(key) then return score * UNIT + (UNIT - 1 - t) end
  return score
end

-- The second a stored number of a timed board was reached at.
local function second_of(x)
  return UNIT - 1 - (x - math.floor(x / UNIT) * UNIT)
end

-- A member of board `key` moved from stored number `old` to `new` (nil: absent).
local function tally(key, old, new)
  old, new = real(key, old), real(key, new)
  if old == new then return end
  if old ~= nil then
    local o = canon(old)
    if redis.call('HINCRBY', key .. ':counts', o, -1) <= 0 then
      redis.call('HDEL', key .. ':counts', o)
      redis.call('ZREM', key .. ':scores', o)
    end
  end
  if new ~= nil then
    local n = canon(new)
    if redis.call('HINCRBY', key .. ':counts', n, 1) == 1 then
      redis.call('ZADD', key .. ':scores', n, n)
    end
  end
end

local joining = (ARGV[5] ~= nil and ARGV[5] ~= '') and cmsgpack.unpack(ARGV[5]) or {}
local bucket_size, bucketed = {}, {}  -- board key -> players per bucket; bucket key -> board key
for _, b in ipairs(joining) do bucket_size[p .. 'lb:' .. b[1]] = b[2] end

-- The bucket of `member` on board `key`, assigned now if it has none.
local function bucket_of(key, member)
  local k = redis.call('HGET', key .. ':buckets', member)
  if not k then
    k = math.floor((redis.call('INCR', key .. ':buckets:n') - 1) / bucket_size[key])
    redis.call('HSET', key .. ':buckets', member, k)
  end
  return k
end

local function assign_buckets()
  for _, b in ipairs(joining) do
    local key = p .. 'lb:' .. b[1]
    for _, member in ipairs(b[3]) do bucket_of(key, member) end
  end
end

-- Member `member` of board `key` has score `score` now: the same on its bucket's
-- board, if `key` is split into buckets.
local function mirror(key, member, score)
  if bucket_size[key] == nil then return end
  local bucket = key .. ':b' .. bucket_of(key, member)
  local old = tonumber(redis.call('ZSCORE', bucket, member))
  redis.call('ZADD', bucket, score, member)
  tally(bucket, old, score)
  bucketed[bucket] = key
end

-- Member `member` of board `key` now has `score`; it had `old` (nil: absent).
local function put(key, member, score, old)
  redis.call('ZADD', key, score, member)
  tally(key, old, score)
  mirror(key, member, score)
end

local function set_score(key, member, score)
  put(key, member, score, tonumber(redis.call('ZSCORE', key, member)))
end

-- On a board that breaks ties by time, `t` is the second of the member's latest
-- non-zero increment (`changed`), or if every increment was zero, of its first: zeros
-- change nothing, so the time stays, however the events were batched.
local function incr_score(key, member, delta, t, changed)
  local old = tonumber(redis.call('ZSCORE', key, member))
  local new
  if is_packed(key) then
    if old ~= nil and not changed then return end  -- nothing achieved: its time stays
    -- the sum is reached at its latest change, whichever order parts come in
    if old ~= nil then t = math.max(t, second_of(old)) end
    new = packed(key, (real(key, old) or 0) + delta, t)
    redis.call('ZADD', key, canon(new), member)
  else
    new = tonumber(redis.call('ZINCRBY', key, delta, member))
  end
  tally(key, old, new)
  mirror(key, member, new)
end

-- A member put on a board without scoring has no time of its own (second 0): on a
-- board that breaks ties by time such members rank among themselves by user id, and
-- their first points date from when they scored, whichever part comes first.
local function ensure_on_board(key, member, score)
  local new = packed(key, tonumber(score), 0)
  if redis.call('ZADD', key, 'NX', canon(new), member) == 1 then
    tally(key, nil, new)
    mirror(key, member, new)
  end
end

local pending_z, pending_h = {}, {}  -- key -> member/field -> summed delta
local pending_t = {}  -- key -> member -> t of its latest non-zero pending increment (timed)
local pending_first = {}  -- key -> member -> t of its first pending increment (timed)

local function add_pending(pending, key, member, delta)
  local t = pending[key]
  if t == nil then
    t = {}
    pending[key] = t
  end
  t[member] = (t[member] or 0) + delta
end

local function flush_board(key)
  local members = pending_z[key]
  if members == nil then return end
  pending_z[key] = nil
  local times, firsts = pending_t[key] or {}, pending_first[key] or {}
  for member, delta in pairs(members) do
    incr_score(key, member, delta, times[member] or firsts[member], times[member] ~= nil)
  end
end

local function elo(board, w, l, k, start)
  local key = p .. 'lb:' .. board
  flush_board(key)
  local rw = tonumber(redis.call('ZSCORE', key, w)) or start
  local rl = tonumber(redis.call('ZSCORE', key, l)) or start
  local expected = 1 / (1 + 10 ^ ((rl - rw) / 400))
  local d = math.floor(k * (1 - expected) * quantum + 0.5) / quantum
  set_score(key, w, rw + d)
  set_score(key, l, rl - d)
end

-- OpenSkill, Weng-Lin with the Plackett-Luce model: openskill's
-- PlackettLuce.rate([[winner], [loser]]) for two teams of one, written out with
-- the package's own order of operations (x^2 where it squares with **), so both
-- give the same doubles. (mu, sigma) live in the player's rating hash; the board
-- holds the ordinal mu - 3 sigma.
local function openskill(board, w, l, mu0, sigma0, beta, kappa, tau)
  local key = p .. 'lb:' .. board
  flush_board(key)
  local hw, hl = p .. 'rating:' .. board .. ':' .. w, p .. 'rating:' .. board .. ':' .. l
  local rw, rl = redis.call('HMGET', hw, 'mu', 'sigma'), redis.call('HMGET', hl, 'mu', 'sigma')
  local muw, sw = tonumber(rw[1]) or mu0, tonumber(rw[2]) or sigma0
  local mul, sl = tonumber(rl[1]) or mu0, tonumber(rl[2]) or sigma0
  local tau2 = tau * tau
  sw, sl = math.sqrt(sw * sw + tau2), math.sqrt(sl * sl + tau2)  -- additive dynamics
  local ssw, ssl, beta2 = (sw * 1.0) ^ 2, (sl * 1.0) ^ 2, beta ^ 2
  local c = math.sqrt((0.0 + (ssw + beta2)) + (ssl + beta2))
  local ew, el = math.exp(muw / c), math.exp(mul / c)
  local sum_w = ew + el  -- the winner's rank holds both; the loser's only the loser
  local qw, ql = ew / sum_w, el / sum_w
  local omega_w, delta_w = 0.0 + (1 - qw) / 1, 0.0 + qw * (1 - qw) / 1
  local omega_l, delta_l = (0.0 - ql / 1) + (1 - el / el) / 1, (0.0 + ql * (1 - ql) / 1) + 0.0
  local function update(mu, s, ss, omega, delta)
    omega = omega * (ss / c)
    delta = delta * (ss / c ^ 2) * (math.sqrt(ss) / c)
    local share = s ^ 2 / ss
    return mu + share * omega * 1.0, s * math.sqrt(math.max(1 - share * delta * 1.0, kappa))
  end
  muw, sw = update(muw, sw, ssw, omega_w, delta_w)
  mul, sl = update(mul, sl, ssl, omega_l, delta_l)
  redis.call('HSET', hw, 'mu', canon(muw), 'sigma', canon(sw))
  redis.call('HSET', hl, 'mu', canon(mul), 'sigma', canon(sl))
  set_score(key, w, (muw - 3.0 * sw) + 0.0)
  set_score(key, l, (mul - 3.0 * sl) + 0.0)
end

-- Glicko-2 (Glickman, "Example of the Glicko-2 system", 2013), each game its own
-- rating period: both players are rated against the other's values before the
-- game. Operations are grouped as the paper writes them, so that results are the
-- same doubles as a direct transcription (the test's oracle). (rating, rd, volatility) live in the player's rating hash; the board holds
-- rating - 2 rd, the lower end of a 95 % interval.
local G2 = 173.7178
local function glicko2_update(mu, phi, sigma, mu_o, phi_o, s, tau)
  local g = 1 / math.sqrt(1 + 3 * phi_o * phi_o / (math.pi * math.pi))
  local e = 1 / (1 + math.exp(-g * (mu - mu_o)))
  local v = 1 / (g * g * e * (1 - e))
  local gain = g * (s - e)  -- the paper's sum over the period's games, here one
  local delta = v * gain
  local a = math.log(sigma * sigma)
  local function f(x)
    local ex = math.exp(x)
    local d = phi * phi + v + ex
    return ex * (delta * delta - phi * phi - v - ex) / (2 * d * d) - (x - a) / (tau * tau)
  end
  local A, B = a, nil
  if delta * delta > phi * phi + v then
    B = math.log(delta * delta - phi * phi - v)
  else
    local k = 1
    while f(a - k * tau) < 0 do k = k + 1 end
    B = a - k * tau
  end
  local fA, fB = f(A), f(B)
  local steps = 0  -- the Illinois iteration converges in a few steps; never loop for ever
  while math.abs(B - A) > 0.000001 and steps < 100 do
    local C = A + (A - B) * fA / (fB - fA)
    local fC = f(C)
    if fC * fB <= 0 then
      A, fA = B, fB
    else
      fA = fA / 2
    end
    B, fB = C, fC
    steps = steps + 1
  end
  local sigma2 = math.exp(A / 2)
  local phi_star = math.sqrt(phi * phi + sigma2 * sigma2)
  local phi2 = 1 / math.sqrt(1 / (phi_star * phi_star) + 1 / v)
  return mu + phi2 * phi2 * gain, phi2, sigma2
end

local function glicko2(board, w, l, r0, rd0, vol0, tau)
  local key = p .. 'lb:' .. board
  flush_board(key)
  local hw, hl = p .. 'rating:' .. board .. ':' .. w, p .. 'rating:' .. board .. ':' .. l
  local fw = redis.call('HMGET', hw, 'rating', 'rd', 'volatility')
  local fl = redis.call('HMGET', hl, 'rating', 'rd', 'volatility')
  local muw, phiw = ((tonumber(fw[1]) or r0) - 1500) / G2, (tonumber(fw[2]) or rd0) / G2
  local mul, phil = ((tonumber(fl[1]) or r0) - 1500) / G2, (tonumber(fl[2]) or rd0) / G2
  local volw, voll = tonumber(fw[3]) or vol0, tonumber(fl[3]) or vol0
  local mw, pw, sw = glicko2_update(muw, phiw, volw, mul, phil, 1, tau)
  local ml, pl, sl = glicko2_update(mul, phil, voll, muw, phiw, 0, tau)
  for _, x in ipairs({ { hw, w, mw, pw, sw }, { hl, l, ml, pl, sl } }) do
    local rating, rd = G2 * x[3] + 1500, G2 * x[4]
    redis.call('HSET', x[1], 'rating', canon(rating), 'rd', canon(rd), 'volatility', canon(x[5]))
    set_score(key, x[2], rating - 2 * rd)
  end
end

-- A record kept twice is kept once; the change count tells readers (who derive
-- reports from the timeline) to look again.
local function add_to_timeline(timeline, record, time)
  if redis.call('ZADD', p .. 'tl:' .. timeline, canon(time), record) == 1 then
    redis.call('HINCRBY', p .. 'timelines', timeline, 1)
  end
end

-- The record's metadata: the JSON object kept with member's score ("": none); nil
-- leaves it alone.
local function keep_metadata(key, member, metadata)
  if metadata == nil then return end
  if metadata == '' then
    redis.call('HDEL', key .. ':meta', member)
  else
    redis.call('HSET', key .. ':meta', member, metadata)
  end
end

-- The record's submissions: parts may be applied in any order, so the first is the
-- least time and the last the greatest.
local function count_submissions(key, member, n, first, last)
  local old = redis.call('HGET', key .. ':subs', member)
  if old then
    local k, f, l = string.match(old, '^(%d+) (%d+) (%d+)$')
    n, first, last = n + tonumber(k), math.min(first, tonumber(f)), math.max(last, tonumber(l))
  end
  redis.call('HSET', key .. ':subs', member, string.format('%d %d %d', n, first, last))
end

-- The board keeps each member's best: a lower score changes nothing, nor does an
-- equal one, except on a board that breaks ties by time, where an equal score
-- reached earlier (a part applied late) keeps that earlier time.
local function keep_best(board, member, score, t, metadata)
  local key = p .. 'lb:' .. board
  flush_board(key)
  local old = tonumber(redis.call('ZSCORE', key, member))
  local new = packed(key, score, t)
  if old == nil or new > old then
    put(key, member, new, old)
    keep_metadata(key, member, metadata)
  end
end

-- Nakama's decr: the member's score moves by sign * amount toward 0 and stops there (a
-- member not there yet starts at 0). On a board that breaks ties by time, a changed
-- score dates from `t`; an unchanged one keeps its time.
local function decrement(board, member, amount, sign, t)
  local key = p .. 'lb:' .. board
  flush_board(key)
  local old = tonumber(redis.call('ZSCORE', key, member))
  local score = real(key, old) or 0
  local moved = score + sign * amount
  if sign < 0 then moved = math.max(0, moved) else moved = math.min(0, moved) end
  if old ~= nil and moved == score then return end
  put(key, member, packed(key, moved, t), old)
end

-- The board keeps each member's latest score: in event order, or on a board that
-- breaks ties by time, the one of the latest second, whichever order parts come in.
local function set_latest(board, member, score, t, metadata)
  local key = p .. 'lb:' .. board
  flush_board(key)
  local old = tonumber(redis.call('ZSCORE', key, member))
  if old ~= nil and is_packed(key) and t < second_of(old) then return end
  put(key, member, packed(key, score, t), old)
  keep_metadata(key, member, metadata)
end

-- A submission to a tournament's board, which takes at most `limit` of each member's
-- (its attempts) and `capacity` members (0: any number): kept as `mode` says and
-- counted, unless the member's record there counts `limit` submissions already, or the
-- member has none and `capacity` members have one; then the board is left alone and
-- the product counts it refused. Likewise past `rate` submissions of the member in
-- its window of `window` ms, by event time: the window's counts live two windows from
-- their last write (from now, so a backlog of old events still counts them). Counted
-- in the order parts are applied.
local rate_ok = true  -- the verdict of the latest rate check, for the copies that follow
local function attempt(board, member, score, mode, limit, at, metadata, capacity, joined,
                       rate_n, window, follows, t)
  local key = p .. 'lb:' .. board
  if follows == 1 and not rate_ok then return end
  if joined == 1 and not redis.call('ZSCORE', key .. ':joined', member) then
    redis.call('HINCRBY', p .. 'counters', 'refused', 1)
    return
  end
  if limit > 0 or capacity > 0 then
    local old = redis.call('HGET', key .. ':subs', member)
    if (old and limit > 0 and tonumber(string.match(old, '^(%d+)')) >= limit)
        or (not old and capacity > 0 and redis.call('HLEN', key .. ':subs') >= capacity) then
      redis.call('HINCRBY', p .. 'counters', 'refused', 1)
      return
    end
  end
  if rate_n > 0 then
    local counts = string.format('%s:rate:%d', key, math.floor(at / window))
    rate_ok = (tonumber(redis.call('HGET', counts, member)) or 0) < rate_n
    if not rate_ok then
      redis.call('HINCRBY', p .. 'counters', 'refused', 1)
      return
    end
    redis.call('HINCRBY', counts, member, 1)
    redis.call('PEXPIRE', counts, 2 * window)
  end
  if mode == 'best' then
    keep_best(board, member, score, t, metadata)
  elseif mode == 'latest' then
    set_latest(board, member, score, t, metadata)
  else
    flush_board(key)
    incr_score(key, member, score, t or 0, score ~= 0)
    if metadata ~= '' then keep_metadata(key, member, metadata) end
  end
  count_submissions(key, member, 1, at, at)
end

-- A member joins a tournament's board that takes only the submissions of those who
-- joined, unless `capacity` members have (0: any number): then the product counts it
-- refused. Joining again changes nothing.
local function join(board, member, capacity, at)
  local joined = p .. 'lb:' .. board .. ':joined'
  if redis.call('ZSCORE', joined, member) then return end
  if capacity > 0 and redis.call('ZCARD', joined) >= capacity then
    redis.call('HINCRBY', p .. 'counters', 'refused', 1)
    return
  end
  redis.call('ZADD', joined, at, member)
end

local function win_streak(board, w, l, t)
  local running = p .. 'rating:' .. board .. ':'
  keep_best(board, w, redis.call('HINCRBY', running .. w, 'current', 1), t)
  redis.call('HSET', running .. l, 'current', 0)
  ensure_on_board(p .. 'lb:' .. board, l, 0)
end

-- A game in both players' histories, with the score each has on the board now
-- (after the op that rated it): [at ms, score, opponent, "W" or "L"] as JSON.
local function record_game(board, w, l, at, keep)
  local key = p .. 'lb:' .. board
  flush_board(key)
  for _, x in ipairs({ { w, l, 'W' }, { l, w, 'L' } }) do
    local score = real(key, tonumber(redis.call('ZSCORE', key, x[1])))
    local entry = string.format('[%d,%s,%s,"%s"]', at, score and canon(score) or 'null',
                                cjson.encode(x[2]), x[3])
    local h = p .. 'history:' .. board .. ':' .. x[1]
    redis.call('LPUSH', h, entry)
    redis.call('LTRIM', h, 0, keep - 1)
  end
end

-- an op whose order matters (ratings, bests, timelines); t: its event's second
local function rate(op, t)
  if op[1] == 'elo' then
    elo(op[2], op[3], op[4], op[5], op[6])
  elseif op[1] == 'tl' then
    add_to_timeline(op[2], op[3], op[4])
  elseif op[1] == 'g2' then
    glicko2(op[2], op[3], op[4], op[5], op[6], op[7], op[8])
  elseif op[1] == 'best' or op[1] == 'set' then
    -- a fifth string is the record's metadata (in the stamped form a number, t, may follow)
    local metadata = type(op[5]) == 'string' and op[5] or nil
    if op[1] == 'best' then
      keep_best(op[2], op[3], op[4], t, metadata)
    else
      set_latest(op[2], op[3], op[4], t, metadata)
    end
  elseif op[1] == 'meta' then
    keep_metadata(p .. 'lb:' .. op[2], op[3], op[4])
  elseif op[1] == 'decr' then
    decrement(op[2], op[3], op[4], op[5], t)
  elseif op[1] == 'sub' then
    count_submissions(p .. 'lb:' .. op[2], op[3], op[4], op[5], op[6])
  elseif op[1] == 'att' then
    attempt(op[2], op[3], op[4], op[5], op[6], op[7], op[8], op[9], op[10], op[11], op[12],
            op[13], t)
  elseif op[1] == 'join' then
    join(op[2], op[3], op[4], op[5])
  elseif op[1] == 'streak' then
    win_streak(op[2], op[3], op[4], t)
  elseif op[1] == 'game' then
    record_game(op[2], op[3], op[4], op[5], op[6])
  else
    openskill(op[2], op[3], op[4], op[5], op[6], op[7], op[8], op[9])
  end
end

-- Which of `members` are in set `key` (1 or 0 each): one SMISMEMBER per CHUNK
-- of them, not a call per member (most of this script's time went to those).
local function found_in(key, members)
  local found = {}
  for from = 1, #members, CHUNK do
    local part = redis.call('SMISMEMBER', key,
                            unpack(members, from, math.min(from + CHUNK - 1, #members)))
    for j = 1, #part do found[#found + 1] = part[j] end
  end
  return found
end

local function none_in(key, members)
  for _, f in ipairs(found_in(key, members)) do
    if f == 1 then return false end
  end
  return true
end

local function add_all(key, members)
  for from = 1, #members, CHUNK do
    redis.call('SADD', key, unpack(members, from, math.min(from + CHUNK - 1, #members)))
  end
end

local function count_applied(n, late)
  if n > 0 then redis.call('HINCRBY', p .. 'counters', 'applied', n) end
  if late and late > 0 then redis.call('HINCRBY', p .. 'counters', 'late', late) end
end

local function expire_boards()
  if ARGV[4] == nil or ARGV[4] == '' then return end
  local at = {}  -- board key -> when it expires
  for _, b in ipairs(cmsgpack.unpack(ARGV[4])) do
    local key = p .. 'lb:' .. b[1]
    at[key] = b[2]
    for _, k in ipairs({ key, key .. ':scores', key .. ':counts', key .. ':meta',
                         key .. ':subs', key .. ':joined' }) do
      redis.call('PEXPIREAT', k, b[2])
    end
    if bucket_size[key] then
      redis.call('PEXPIREAT', key .. ':buckets', b[2])
      redis.call('PEXPIREAT', key .. ':buckets:n', b[2])
    end
  end
  for bucket, key in pairs(bucketed) do
    if at[key] then
      for _, k in ipairs({ bucket, bucket .. ':scores', bucket .. ':counts' }) do
        redis.call('PEXPIREAT', k, at[key])
      end
    end
  end
end

-- Boards that break ties by time hold integers of magnitude below LIMIT: check
-- every value and every member's increments before anything is written.
local reach = {}  -- timed board key -> member -> summed |delta| of the batch
local function holds(board, member, x, delta)
  local key = p .. 'lb:' .. board
  if not is_packed(key) then return true end
  if x ~= math.floor(x) or math.abs(x) >= LIMIT then return false end
  if delta then add_pending(reach, key, member, math.abs(x)) end
  return true
end

local function refuse_unholdable(ensure, incr, ordered)
  local bad = nil
  for _, o in ipairs(ensure) do
    if not holds(o[1], o[2], o[3], false) then bad = o[1] end
  end
  for _, o in ipairs(incr) do
    if not holds(o[1], o[2], o[3], true) then bad = o[1] end
  end
  for _, op in ipairs(ordered) do
    if (op[1] == 'best' or op[1] == 'set' or op[1] == 'att')
        and not holds(op[2], op[3], op[4], op[1] == 'att' and op[5] == 'sum') then
      bad = op[2]
    end
  end
  for key, members in pairs(reach) do
    for member, sum in pairs(members) do
      local old = real(key, tonumber(redis.call('ZSCORE', key, member))) or 0
      if math.abs(old) + sum >= LIMIT then bad = string.sub(key, plen) end
    end
  end
  if bad then
    return redis.error_reply('board ' .. bad .. ' breaks ties by time: its scores are ' ..
                             'integers of magnitude below 2^21')
  end
end

if ARGV[3] == 'fresh' then
  local marks, games = events[1], events[2]
  for _, m in ipairs(marks) do
    if not none_in(p .. 'seen:' .. m[1], m[2]) then return { 'again' } end
  end
  if #games > 0 and not none_in(p .. 'results', games) then return { 'again' } end
  if next(timed) then
    local refused = refuse_unholdable(events[3], events[4], events[6])
    if refused then return refused end
  end
  assign_buckets()
  for _, o in ipairs(events[3]) do ensure_on_board(p .. 'lb:' .. o[1], o[2], o[3]) end
  for _, o in ipairs(events[4]) do incr_score(p .. 'lb:' .. o[1], o[2], o[3], o[4], o[5] == 1) end
  for _, o in ipairs(events[5]) do redis.call('HINCRBY', p .. 'stats:' .. o[1], o[2], o[3]) end
  local stamped = next(timed) ~= nil  -- then each ordered op ends with its t
  for _, o in ipairs(events[6]) do rate(o, stamped and o[#o] or nil) end
  -- marks last: if a write above fails (a key of the wrong type), the entries
  -- are not marked applied, and the batch is retried, then dead-lettered
  for _, m in ipairs(marks) do
    add_all(p .. 'seen:' .. m[1], m[2])
    if ttl > 0 then redis.call('EXPIRE', p .. 'seen:' .. m[1], ttl) end
  end
  if #games > 0 then add_all(p .. 'results', games) end
  expire_boards()
  count_applied(events[7], events[8])
  return { events[7], 0, {} }
end

local known = { zi = true, zn = true, hi = true, elo = true, os = true, tl = true, g2 = true,
                best = true, set = true, decr = true, meta = true, sub = true,
                att = true, join = true, streak = true, game = true }
for i = 1, #events do  -- refuse a bad batch before writing anything
  for _, op in ipairs(events[i][4]) do
    if not known[op[1]] then return redis.error_reply('unknown op ' .. tostring(op[1])) end
  end
end
if next(timed) then
  local ensure, incr, ordered = {}, {}, {}
  for i = 1, #events do
    for _, op in ipairs(events[i][4]) do
      if op[1] == 'zn' then
        ensure[#ensure + 1] = { op[2], op[3], op[4] }
      elseif op[1] == 'zi' then
        incr[#incr + 1] = { op[2], op[3], op[4] }
      else
        ordered[#ordered + 1] = op
      end
    end
  end
  local refused = refuse_unholdable(ensure, incr, ordered)
  if refused then return refused end
end
assign_buckets()

-- Which entries were applied before, per dedupe set. An entry that comes
-- twice in one batch counts once.
local by_set, sets = {}, {}  -- dedupe set -> { indexes of its events, their entry ids }
for i = 1, #events do
  local seen = p .. 'seen:' .. events[i][2]
  local group = by_set[seen]
  if group == nil then
    group = { {}, {} }
    by_set[seen] = group
    sets[#sets + 1] = seen
  end
  group[1][#group[1] + 1] = i
  group[2][#group[2] + 1] = events[i][1]
end
local old = {}  -- event index -> true if its entry was applied before
for _, seen in ipairs(sets) do
  local indexes, ids = by_set[seen][1], by_set[seen][2]
  local found, in_batch = found_in(seen, ids), {}
  for j, i in ipairs(indexes) do
    old[i] = found[j] == 1 or in_batch[ids[j]] ~= nil
    in_batch[ids[j]] = true
  end
end
local marks, decided = {}, {}  -- dedupe set -> entry ids applied now; games decided now

for i = 1, #events do
  local ev = events[i]
  local seen = p .. 'seen:' .. ev[2]
  if old[i] then
    duplicates = duplicates + 1
  elseif ev[3] ~= '' and (decided[ev[3]]
                          or redis.call('SISMEMBER', p .. 'results', ev[3]) == 1) then
    -- another entry already decided this match; left unmarked, so a
    -- redelivery reports it again and its dead letter cannot be lost
    dup_games[#dup_games + 1] = ev[1]
  else
    if ev[3] ~= '' then decided[ev[3]] = true end
    local m = marks[seen]
    if m == nil then
      m = {}
      marks[seen] = m
    end
    m[#m + 1] = ev[1]
    for _, op in ipairs(ev[4]) do
      local kind = op[1]
      if kind == 'zi' then
        local key = p .. 'lb:' .. op[2]
        add_pending(pending_z, key, op[3], op[4])
        if is_packed(key) then
          pending_t[key] = pending_t[key] or {}
          pending_first[key] = pending_first[key] or {}
          if op[4] ~= 0 then pending_t[key][op[3]] = ev[6] end
          if pending_first[key][op[3]] == nil then pending_first[key][op[3]] = ev[6] end
        end
      elseif kind == 'zn' then
        local key = p .. 'lb:' .. op[2]
        -- a pending increment puts the member on the board anyway: NX would not add it
        if pending_z[key] == nil or pending_z[key][op[3]] == nil then
          ensure_on_board(key, op[3], op[4])
        end
      elseif kind == 'hi' then
        add_pending(pending_h, p .. 'stats:' .. op[2], op[3], op[4])
      else
        rate(op, ev[6])
      end
    end
    applied = applied + 1
    if ev[5] == 1 then late_applied = late_applied + 1 end
  end
end
for key in pairs(pending_z) do flush_board(key) end
for key, fields in pairs(pending_h) do
  for f, delta in pairs(fields) do redis.call('HINCRBY', key, f, delta) end
end
-- marks last, as in the fresh form
for seen, ids in pairs(marks) do add_all(seen, ids) end
local games = {}
for game in pairs(decided) do games[#games + 1] = game end
if #games > 0 then add_all(p .. 'results', games) end
if ttl > 0 then
  for key in pairs(marks) do redis.call('EXPIRE', key, ttl) end
end
if applied > 0 then expire_boards() end
-- running totals for monitoring, counted in the same step as the effects: exact
count_applied(applied, late_applied)
if duplicates > 0 then redis.call('HINCRBY', p .. 'counters', 'duplicates', duplicates) end
return { applied, duplicates, dup_games }
