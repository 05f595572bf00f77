-- ARGV: JSON {agents: [...], items: [...], seq}. Loads state as MySQL has it; decides nothing.
local data = cjson.decode(ARGV[4])
local touched = {}
for _, spec in ipairs(data.agents) do
  local a = spec.agent_id
  local k = akey(a)
  local fields = {'status', spec.status, 'default', spec.default_capacity, 'skills', spec.skills,
                  'queues', spec.queues, 'away_after', spec.away_after, 'total', 0, 'idle', NOW, 'rr', 0,
                  'missed', 0}
  for _, kind in ipairs(KINDS) do
    fields[#fields + 1] = 'cap:' .. kind
    fields[#fields + 1] = tonumber(spec.capacity[kind] or spec.default_capacity)
    fields[#fields + 1] = 'load:' .. kind
    fields[#fields + 1] = 0
  end
  redis.call('HSET', k, unpack(fields))
  AG[tonumber(a)] = nil
  redis.call('SADD', P .. ':agents', a)
  for q in each_queue(spec.queues) do redis.call('SADD', qkey(q, 'members'), a) end
  touched[#touched + 1] = a
end
for _, spec in ipairs(data.items) do
  local it = {ref = tostring(spec.ref), queue = spec.queue_id, kind = spec.kind, prio = spec.priority,
              skills = spec.skills, pref = spec.preferred_agent_id, enq = spec.enqueued_ms, qat = spec.queued_ms,
              sticky_until = 0, declined = 0, declined_until = 0, agent = 0, offer = '', policy = '',
              listed = false, in_due = true}
  it.overflow_at = overflow_at(it.queue, it.qat)
  if spec.state == 'assigned' and load_agent(spec.agent_id) then
    it.state = 'assigned'; it.agent = spec.agent_id; it.policy = spec.policy
    save_item(it, {'kind', 'prio', 'skills', 'enq', 'state', 'agent', 'offer', 'policy', 'queue', 'qat', 'pref',
                   'sticky_until', 'declined', 'declined_until', 'overflow_at'})
    load_change(spec.agent_id, spec.kind, 1)
    touched[#touched + 1] = spec.agent_id
  else
    set_waiting(it, {'kind', 'prio', 'skills', 'enq'})
  end
end
for _, a in ipairs(touched) do
  local ag = load_agent(a)
  if ag then
    changed(ag)
    reshow(ag)
  end
end
local seq = num(redis.call('GET', P .. ':seq'))
if data.seq > seq then redis.call('SET', P .. ':seq', data.seq) end
return done()
