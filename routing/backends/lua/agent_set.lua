-- ARGV: agent, status, default capacity, capacities as JSON {kind: n}, skills (joined), queues (",1,2,"),
-- away_after
local a = tonumber(ARGV[4])
local status, default, caps = ARGV[5], tonumber(ARGV[6]), cjson.decode(ARGV[7])
local ag = load_agent(a)
local old_status, old_queues = '', ''
if ag then
  old_status, old_queues = ag.status, ag.queues
else
  redis.call('SADD', P .. ':agents', a)
  ag = {id = a, sid = int(a), status = '', queues = '', skills = '', total = 0, default = default, idle = NOW,
        rr = 0, missed = 0, away_after = 0, load = {}, cap = {}}
  for _, kind in ipairs(KINDS) do
    ag.load[kind] = 0
    ag.cap[kind] = 0
  end
  ag.shown = snapshot(ag)
  AG[a] = ag
end
for q in each_queue(old_queues) do
  if not serves(ARGV[9], q) then
    redis.call('SREM', qkey(q, 'members'), a)
    for _, kind in ipairs(KINDS) do redis.call('ZREM', qkey(q, 'ready:' .. kind), a) end
  end
end
ag.status, ag.default, ag.skills, ag.queues, ag.away_after = status, default, ARGV[8], ARGV[9], tonumber(ARGV[10])
local fields = {'default', default, 'skills', ARGV[8], 'queues', ARGV[9], 'away_after', ARGV[10]}
for _, kind in ipairs(KINDS) do
  ag.cap[kind] = tonumber(caps[kind] or default)
  fields[#fields + 1] = 'cap:' .. kind
  fields[#fields + 1] = ag.cap[kind]
end
redis.call('HSET', akey(a), unpack(fields))
for q in each_queue(ARGV[9]) do redis.call('SADD', qkey(q, 'members'), a) end
if status ~= old_status then
  if status == 'available' then
    ag.idle = NOW
    ag.missed = 0
  end
  emit({kind = 'agent_status', agent = a, status = status, detail = 'set'})
end
changed(ag)
reshow(ag)
if status == 'available' then match_agent(a) else withdraw_offers(a) end
return done()
