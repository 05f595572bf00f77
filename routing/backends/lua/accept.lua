-- ARGV: offer id, agent
local oid, a = ARGV[4], tonumber(ARGV[5])
local owner = redis.call('HGET', okey(oid), 'agent')
if not owner then return fail('offer_gone', 'This offer was answered, withdrawn or has expired.') end
if tonumber(owner) ~= a then return fail('not_yours', 'This offer was made to another agent.') end
local o = close_offer(oid)
local it = load_item(o.ref)
it.state = 'assigned'; it.offer = ''
save_item(it, 'state', 'offer')
redis.call('HSET', akey(a), 'missed', 0)
emit({kind = 'accepted', ref = tonumber(it.ref), queue = it.queue, agent = a, policy = o.policy, offer = oid})
emit({kind = 'assigned', ref = tonumber(it.ref), queue = it.queue, agent = a, policy = o.policy})
return done()
