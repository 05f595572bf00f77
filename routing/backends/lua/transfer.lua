-- ARGV: ref, queue (0: none), agent (0: none)
local it = load_item(ARGV[4])
if not it then return fail('unknown_work', 'Conversation ' .. ARGV[4] .. ' is not routed.') end
local q, a = tonumber(ARGV[5]), tonumber(ARGV[6])
local holder
if a ~= 0 then
  local ag = load_agent(a)
  if not ag then return fail('unknown_agent', 'Agent ' .. a .. ' is not set up for routing.') end
  if it.state == 'assigned' and it.agent == a then return done() end
  if not free(ag, it.kind) then return fail('over_capacity', 'That agent is at capacity for this channel.') end
  if q ~= 0 and not conf(q) then
    return fail('unknown_queue', 'Queue ' .. q .. ' is not configured.')
  end
  holder = release_holder(it, 'transferred')
  leave_waiting(it)
  if q ~= 0 then it.queue = q end
  assign(it, a, 'transfer')
else
  local c = conf(q)
  if not c then
    return fail('unknown_queue', 'Queue ' .. q .. ' is not configured.')
  end
  holder = release_holder(it, 'transferred')
  leave_waiting(it)
  it.queue = q; it.qat = NOW; it.pref = 0; it.sticky_until = 0
  it.declined = holder
  it.declined_until = 0
  if holder ~= 0 then it.declined_until = NOW + c.offer_ms end
  it.overflow_at = overflow_at(q, NOW)
  set_waiting(it)
  requeue(it)
end
if holder ~= 0 then match_agent(holder) end
return done()
