-- ARGV: agent, status, default capacity, capacities as JSON {kind: n}, skills (joined), queues (",1,2,"),
-- away_after
local a = tonumber(ARGV[4])
local status, default, caps = ARGV[5], tonumber(ARGV[6]), cjson.decode(ARGV[7])
local k = akey(a)
local old = redis.call('HMGET', k, 'status', 'queues')
local old_status = old[1] or ''
if not old[1] then
  redis.call('HSET', k, 'total', 0, 'idle', NOW, 'rr', 0, 'missed', 0)
  redis.call('SADD', P .. ':agents', a)
end
for q in each_queue(old[2]) do
  if not serves(ARGV[9], q) then
    redis.call('SREM', qkey(q, 'members'), a)
    for _, kind in ipairs(KINDS) do redis.call('ZREM', qkey(q, 'ready:' .. kind), a) end
  end
end
local fields = {'status', status, 'default', default, 'skills', ARGV[8], 'queues', ARGV[9], 'away_after', ARGV[10]}
for _, kind in ipairs(KINDS) do
  fields[#fields + 1] = 'cap:' .. kind
  fields[#fields + 1] = tonumber(caps[kind] or default)
end
redis.call('HSET', k, unpack(fields))
for q in each_queue(ARGV[9]) do redis.call('SADD', qkey(q, 'members'), a) end
if status ~= old_status then
  if status == 'available' then redis.call('HSET', k, 'idle', NOW, 'missed', 0) end
  emit({kind = 'agent_status', agent = a, status = status, detail = 'set'})
end
refresh_agent(a)
if status == 'available' then match_agent(a) else withdraw_offers(a) end
return done()
