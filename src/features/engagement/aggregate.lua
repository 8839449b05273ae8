-- Applies a batch of engagement events to the live aggregates, each at most once, atomically.
-- ARGV[1] key prefix, ARGV[2] ttl (s) of per-content keys, ARGV[3] recent-list cap, ARGV[4..] one JSON event each:
--   i id, b bucket, x bucket keys' expiry (unix s), c content id, y content type, e event type, u user id,
--   ms duration ms (absent = null), p completion % as a string (absent = null), r recent-list entry (JSON),
--   s slug, t title, l length seconds (absent = null)
-- Returns one code per event: 1 applied, 0 already applied (duplicate), -1 a key has the wrong type (nothing applied).
-- Key types are checked before any write, so an event either has its whole effect or none.
local P = ARGV[1]
local ttl = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local out = {}
local applied = 0

-- Events of a batch share most keys (same bucket, same few contents): each key's type is checked and its
-- expiry set once per call, not once per event.
local typed = {}
local function clash(key, want)
  if typed[key] then return false end
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then return true end
  typed[key] = true
  return false
end
local expiring = {}
local function expireAt(key, at)
  if expiring[key] ~= at then
    redis.call('EXPIREAT', key, at)
    expiring[key] = at
  end
end
local function expireIn(key, seconds)
  if not expiring[key] then
    redis.call('EXPIRE', key, seconds)
    expiring[key] = true
  end
end

for i = 4, #ARGV do
  local e = cjson.decode(ARGV[i])
  local seen = P .. 'eng:seen:' .. e.b
  local agg = P .. 'eng:agg:' .. e.b .. ':' .. e.c
  local users = P .. 'eng:users:' .. e.b .. ':' .. e.c
  local top = P .. 'eng:top:' .. e.b
  local topType = top .. ':' .. e.y
  local recent = P .. 'eng:recent:' .. e.c
  local meta = P .. 'eng:content:' .. e.c
  if clash(seen, 'set') or clash(agg, 'hash') or clash(users, 'string') or clash(top, 'zset') or clash(topType, 'zset')
    or clash(recent, 'list') or clash(meta, 'hash') then
    out[#out + 1] = -1
  elseif redis.call('SADD', seen, e.i) == 0 then
    out[#out + 1] = 0
  else
    -- The id set outlives the bucket's aggregates: a redelivery after they expired is late and ignored anyway.
    expireAt(seen, e.x + 60)
    redis.call('HINCRBY', agg, 'events', 1)
    redis.call('HINCRBY', agg, e.e, 1)
    if e.ms then
      redis.call('HINCRBY', agg, 'eng_ms', e.ms)
      redis.call('HINCRBY', agg, 'eng_n', 1)
    end
    if e.p then
      redis.call('HINCRBYFLOAT', agg, 'pct_sum', e.p)
      redis.call('HINCRBY', agg, 'pct_n', 1)
    end
    expireAt(agg, e.x)
    redis.call('PFADD', users, e.u)
    expireAt(users, e.x)
    redis.call('ZINCRBY', top, 1, e.c)
    expireAt(top, e.x)
    redis.call('ZINCRBY', topType, 1, e.c)
    expireAt(topType, e.x)
    redis.call('LPUSH', recent, e.r)
    redis.call('LTRIM', recent, 0, cap - 1)
    expireIn(recent, ttl)
    if not expiring[meta] then
      redis.call('HSET', meta, 'slug', e.s, 'title', e.t, 'content_type', e.y, 'length_seconds', e.l or '')
      expireIn(meta, ttl)
    end
    applied = applied + 1
    out[#out + 1] = 1
  end
end
if applied > 0 then redis.call('INCRBY', P .. 'eng:applied', applied) end
return out
