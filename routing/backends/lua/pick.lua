-- ARGV: ref, agent
local it = load_item(ARGV[4])
if not it then return fail('unknown_work', 'Conversation ' .. ARGV[4] .. ' is not in any queue.') end
local a = tonumber(ARGV[5])
local ag = load_agent(a)
if not ag then return fail('unknown_agent', 'Agent ' .. a .. ' is not set up for routing.') end
if it.state ~= 'waiting' then return fail('not_waiting', 'Conversation ' .. it.ref .. ' is no longer waiting.') end
if not serves(ag.queues, it.queue) then return fail('not_yours', 'This conversation waits in a queue you do not serve.') end
if not free(ag, it.kind) then return fail('over_capacity', 'You are at capacity for this channel.') end
assign(it, a, 'manual')
return done()
