-- ARGV: ref, queue, kind, priority, skills (joined), preferred agent, enqueued_ms
local ref = ARGV[4]
if redis.call('EXISTS', ikey(ref)) == 1 then return done() end
local q = tonumber(ARGV[5])
local c = conf(q)
if not c then return fail('unknown_queue', 'Queue ' .. q .. ' is not configured.') end
local pref = tonumber(ARGV[9])
local it = {ref = ref, queue = q, kind = ARGV[6], prio = tonumber(ARGV[7]), skills = ARGV[8], pref = pref,
            enq = tonumber(ARGV[10]), qat = NOW, sticky_until = 0, declined = 0, declined_until = 0,
            listed = false, in_due = false}
if pref ~= 0 then it.sticky_until = NOW + c.sticky_ms end
it.overflow_at = overflow_at(q, NOW)
it.skill_list = split(it.skills)
set_waiting(it, {'kind', 'prio', 'skills', 'enq'})
requeue(it)
return done()
