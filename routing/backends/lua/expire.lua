-- ARGV: offer id
local oid = ARGV[4]
local o = redis.call('HMGET', okey(oid), 'ref', 'agent', 'policy', 'expires')
if not o[4] or tonumber(o[4]) > NOW then return done() end
decline(oid, 'expired', o)
return done()
