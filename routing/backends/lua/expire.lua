-- ARGV: offer id
local oid = ARGV[4]
local expires = redis.call('HGET', okey(oid), 'expires')
if not expires or tonumber(expires) > NOW then return done() end
decline(oid, 'expired')
return done()
