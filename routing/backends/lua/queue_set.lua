-- ARGV: queue, policy, offer_ms, sticky_ms, max_wait_ms, overflow
local q = ARGV[4]
local old = redis.call('HGET', qkey(q, 'conf'), 'policy')
redis.call('HSET', qkey(q, 'conf'), 'policy', ARGV[5], 'offer_ms', ARGV[6], 'sticky_ms', ARGV[7],
           'max_wait_ms', ARGV[8], 'overflow', ARGV[9])
redis.call('SADD', P .. ':queues', q)
if old ~= ARGV[5] then
  for _, a in ipairs(redis.call('SMEMBERS', qkey(q, 'members'))) do refresh_agent(a) end
end
return done()
