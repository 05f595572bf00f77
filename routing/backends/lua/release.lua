-- ARGV: ref, reason
local it = load_item(ARGV[4], {'state', 'agent', 'offer', 'kind', 'queue', 'sticky_until', 'declined_until',
                                   'overflow_at'})
if not it then return done() end
local was_waiting = it.state ~= 'assigned'
local holder = release_holder(it, ARGV[5])
leave_waiting(it)
redis.call('DEL', ikey(it.ref))
if was_waiting then emit({kind = 'removed', ref = tonumber(it.ref), queue = it.queue, detail = ARGV[5]}) end
if holder ~= 0 then match_agent(holder) end
return done()
