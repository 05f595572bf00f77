-- ARGV: offer id, agent
local oid, a = ARGV[4], tonumber(ARGV[5])
local o = redis.call('HMGET', okey(oid), 'ref', 'agent', 'policy')
if not o[2] then return fail('offer_gone', 'This offer was answered, withdrawn or has expired.') end
if tonumber(o[2]) ~= a then return fail('not_yours', 'This offer was made to another agent.') end
close_offer(oid, o)
local ref = o[1]
local q = tonumber(redis.call('HGET', ikey(ref), 'queue'))
redis.call('HSET', ikey(ref), 'state', 'assigned', 'offer', '')
redis.call('HSET', akey(a), 'missed', 0)
local policy = o[3] or ''
emit({kind = 'accepted', ref = tonumber(ref), queue = q, agent = a, policy = policy, offer = oid})
emit({kind = 'assigned', ref = tonumber(ref), queue = q, agent = a, policy = policy})
return done()
