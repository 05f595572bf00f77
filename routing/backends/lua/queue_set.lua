-- ARGV: queue, policy, offer_ms, sticky_ms, max_wait_ms, overflow
local q = ARGV[4]
local old = conf(q)
redis.call('HSET', qkey(q, 'conf'), 'policy', ARGV[5], 'offer_ms', ARGV[6], 'sticky_ms', ARGV[7],
           'max_wait_ms', ARGV[8], 'overflow', ARGV[9])
CONF[tonumber(q)] = nil
-- A new queue indexes agents only under the kinds of the work it gets (prelude: queue_kinds).
if not old then redis.call('HSETNX', qkey(q, 'kinds'), '*', '1') end
redis.call('SADD', P .. ':queues', q)
if not old or old.policy ~= ARGV[5] then
  for _, a in ipairs(redis.call('SMEMBERS', qkey(q, 'members'))) do
    local ag = load_agent(a)
    if ag then reshow(ag) end
  end
end
return done()
