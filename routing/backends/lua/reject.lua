-- ARGV: offer id, agent
local oid, a = ARGV[4], tonumber(ARGV[5])
local o = redis.call('HMGET', okey(oid), 'ref', 'agent', 'policy')
if not o[2] then return fail('offer_gone', 'This offer was answered, withdrawn or has expired.') end
if tonumber(o[2]) ~= a then return fail('not_yours', 'This offer was made to another agent.') end
decline(oid, 'rejected', o)
return done()
