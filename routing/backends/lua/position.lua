-- ARGV: ref. The 1-based place of a waiting item, or -1.
local h = redis.call('HMGET', ikey(ARGV[4]), 'state', 'queue')
if h[1] ~= 'waiting' then return -1 end
local rank = redis.call('ZRANK', qkey(h[2], 'waiting'), ARGV[4])
if not rank then return -1 end
return rank + 1
