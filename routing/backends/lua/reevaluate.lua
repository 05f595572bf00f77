-- ARGV: ref
local it = load_item(ARGV[4])
if not it or it.state ~= 'waiting' then return done() end
if it.sticky_until ~= 0 and NOW >= it.sticky_until then it.sticky_until = 0 end
if it.declined_until ~= 0 and NOW >= it.declined_until then it.declined = 0; it.declined_until = 0 end
if it.overflow_at ~= 0 and NOW >= it.overflow_at then
  local source = it.queue
  local sc = conf(source)
  local target = (sc and sc.overflow) or 0
  if target ~= 0 and conf(target) then
    leave_waiting(it)
    it.queue = target; it.qat = NOW; it.overflow_at = overflow_at(target, NOW)
    emit({kind = 'overflowed', ref = tonumber(it.ref), queue = source, to = target})
    set_waiting(it)
    requeue(it)
    return done()
  end
  it.overflow_at = 0
end
set_waiting(it)
match_item(it)
return done()
