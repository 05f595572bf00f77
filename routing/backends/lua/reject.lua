-- ARGV: offer id, agent
local oid, a = ARGV[4], tonumber(ARGV[5])
local owner = redis.call('HGET', okey(oid), 'agent')
if not owner then return fail('offer_gone', 'This offer was answered, withdrawn or has expired.') end
if tonumber(owner) ~= a then return fail('not_yours', 'This offer was made to another agent.') end
decline(oid, 'rejected')
return done()
