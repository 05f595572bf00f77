-- Shared by every routing script. ARGV[1] key prefix, ARGV[2] now (ms), ARGV[3] token for offer ids;
-- the operation's own arguments follow. Semantics mirror routing/backends/memory.py line by line.
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local TOKEN = ARGV[3]
local KINDS = {__KINDS__}
local SEP = '\31'
local events = {}
local noffers = 0

local function qkey(q, name) return P .. ':{q:' .. q .. '}:' .. name end
local function akey(a) return P .. ':agent:' .. a end
local function ikey(r) return P .. ':item:' .. r end
local function okey(o) return P .. ':offer:' .. o end
local OFFERS = P .. ':offers'
local DUE = P .. ':due'

local function num(x) return tonumber(x) or 0 end
local function emit(ev)
  ev.seq = redis.call('INCR', P .. ':seq')
  events[#events + 1] = ev
end
local function fail(code, detail) return cjson.encode({error = code, detail = detail}) end
local function done() return cjson.encode({events = events}) end

local function split(s)
  local out = {}
  if s and s ~= '' then
    for part in string.gmatch(s, '[^' .. SEP .. ']+') do out[#out + 1] = part end
  end
  return out
end
local function skills_ok(agent_skills, item_skills)
  for _, s in ipairs(item_skills) do
    if not string.find(agent_skills or '', SEP .. s .. SEP, 1, true) then return false end
  end
  return true
end
local function serves(queues, q) return string.find(queues or '', ',' .. q .. ',', 1, true) ~= nil end

local function work_score(prio, enq) return (100 - prio) * 1e13 + enq end
local function agent_score(policy, total, default, idle, rr)
  local idle_cs = math.floor(idle / 10)
  if policy == 'round_robin' then return rr end
  if policy == 'longest_idle' then
    if total > 0 then return 1e12 + idle_cs end
    return idle_cs
  end
  local d = default
  if d < 1 then d = 1 end
  local permille = math.floor(total * 1000 / d)
  if permille > 8000 then permille = 8000 end
  return permille * 1e12 + idle_cs
end

local ITEM_NUMS = {'queue', 'prio', 'pref', 'enq', 'qat', 'agent', 'sticky_until', 'declined', 'declined_until', 'overflow_at'}
local function load_item(ref)
  local raw = redis.call('HGETALL', ikey(ref))
  if #raw == 0 then return nil end
  local it = {}
  for i = 1, #raw, 2 do it[raw[i]] = raw[i + 1] end
  for _, f in ipairs(ITEM_NUMS) do it[f] = num(it[f]) end
  it.ref = ref
  it.skill_list = split(it.skills)
  return it
end
local function save_item(it, ...)
  local args = {}
  for _, f in ipairs({...}) do
    args[#args + 1] = f
    args[#args + 1] = tostring(it[f])
  end
  redis.call('HSET', ikey(it.ref), unpack(args))
end

local function open_to(it, a)
  if it.declined == a and NOW < it.declined_until then return false end
  if it.pref ~= 0 and it.pref ~= a and NOW < it.sticky_until then return false end
  return true
end

local AGENT_FIELDS = {'status', 'queues', 'skills', 'total', 'default', 'idle', 'rr'}
for _, k in ipairs(KINDS) do
  AGENT_FIELDS[#AGENT_FIELDS + 1] = 'load:' .. k
  AGENT_FIELDS[#AGENT_FIELDS + 1] = 'cap:' .. k
end
local function load_agent(a)
  local raw = redis.call('HMGET', akey(a), unpack(AGENT_FIELDS))
  if not raw[1] then return nil end
  local ag = {id = a, status = raw[1], queues = raw[2] or '', skills = raw[3] or '', total = num(raw[4]),
              default = num(raw[5]), idle = num(raw[6]), rr = num(raw[7]), load = {}, cap = {}}
  for i, k in ipairs(KINDS) do
    ag.load[k] = num(raw[6 + 2 * i])
    ag.cap[k] = num(raw[7 + 2 * i])
  end
  return ag
end
local function free(ag, kind) return (ag.load[kind] or 0) < (ag.cap[kind] or 0) end

local function each_queue(queues)
  return string.gmatch(queues or '', '[^,]+')
end

-- The agent's place in the ready index of each queue it serves, one sorted set per channel kind.
local function refresh_agent(a)
  local ag = load_agent(a)
  if not ag then return end
  for q in each_queue(ag.queues) do
    local policy = redis.call('HGET', qkey(q, 'conf'), 'policy') or 'least_busy'
    local score = agent_score(policy, ag.total, ag.default, ag.idle, ag.rr)
    for _, k in ipairs(KINDS) do
      local rk = qkey(q, 'ready:' .. k)
      if ag.status == 'available' and free(ag, k) then
        redis.call('ZADD', rk, score, a)
      else
        redis.call('ZREM', rk, a)
      end
    end
  end
end

local function overflow_at(q, qat)
  local c = redis.call('HMGET', qkey(q, 'conf'), 'max_wait_ms', 'overflow')
  if num(c[1]) == 0 or num(c[2]) == 0 then return 0 end
  return qat + num(c[1])
end

local function update_due(it)
  local t = 0
  for _, v in ipairs({it.sticky_until, it.declined_until, it.overflow_at}) do
    if v ~= 0 and (t == 0 or v < t) then t = v end
  end
  if t == 0 then redis.call('ZREM', DUE, it.ref) else redis.call('ZADD', DUE, t, it.ref) end
end

-- Put an item in its queue's waiting set (its place comes from priority and first enqueue time).
local function set_waiting(it)
  it.state = 'waiting'; it.agent = 0; it.offer = ''; it.policy = ''
  save_item(it, 'state', 'agent', 'offer', 'policy', 'queue', 'qat', 'pref', 'sticky_until', 'declined',
            'declined_until', 'overflow_at')
  local score = work_score(it.prio, it.enq)
  redis.call('ZADD', qkey(it.queue, 'waiting'), score, it.ref)
  -- The same order per channel kind, so an agent looks only at work of the kinds it has room for.
  redis.call('ZADD', qkey(it.queue, 'waiting:' .. it.kind), score, it.ref)
  update_due(it)
end
local function leave_waiting(it)
  redis.call('ZREM', qkey(it.queue, 'waiting'), it.ref)
  redis.call('ZREM', qkey(it.queue, 'waiting:' .. it.kind), it.ref)
  redis.call('ZREM', DUE, it.ref)
end

local function load_change(a, kind, delta)
  local k = akey(a)
  local cur = num(redis.call('HGET', k, 'load:' .. kind))
  local tot = num(redis.call('HGET', k, 'total'))
  if delta < 0 then
    cur = math.max(0, cur + delta); tot = math.max(0, tot + delta)
  else
    cur = cur + delta; tot = tot + delta
  end
  redis.call('HSET', k, 'load:' .. kind, cur, 'total', tot)
end

local function offer(it, a, policy)
  noffers = noffers + 1
  local oid = TOKEN .. '-' .. noffers
  local expires = NOW + num(redis.call('HGET', qkey(it.queue, 'conf'), 'offer_ms'))
  leave_waiting(it)
  it.state = 'offered'; it.agent = a; it.offer = oid; it.policy = policy
  save_item(it, 'state', 'agent', 'offer', 'policy')
  load_change(a, it.kind, 1)
  redis.call('HSET', akey(a), 'rr', redis.call('INCR', P .. ':rr'))
  redis.call('SADD', akey(a) .. ':offers', oid)
  redis.call('HSET', okey(oid), 'ref', it.ref, 'agent', a, 'expires', expires, 'policy', policy)
  redis.call('ZADD', OFFERS, expires, oid)
  refresh_agent(a)
  emit({kind = 'offered', ref = tonumber(it.ref), queue = it.queue, agent = a, offer = oid, expires = expires,
        policy = policy})
end

local function assign(it, a, policy)
  leave_waiting(it)
  it.state = 'assigned'; it.agent = a; it.offer = ''; it.policy = policy
  save_item(it, 'state', 'agent', 'offer', 'policy', 'queue')
  load_change(a, it.kind, 1)
  refresh_agent(a)
  emit({kind = 'assigned', ref = tonumber(it.ref), queue = it.queue, agent = a, policy = policy})
end

local function match_item(it)
  if it.state ~= 'waiting' then return false end
  local policy = redis.call('HGET', qkey(it.queue, 'conf'), 'policy')
  if not policy or policy == 'manual' then return false end
  local pref = it.pref
  if pref ~= 0 and open_to(it, pref) then
    local ag = load_agent(pref)
    if ag and ag.status == 'available' and serves(ag.queues, it.queue) and free(ag, it.kind)
        and skills_ok(ag.skills, it.skill_list) then
      offer(it, pref, 'preferred')
      return true
    end
  end
  if pref ~= 0 and NOW < it.sticky_until then return false end
  local rk = qkey(it.queue, 'ready:' .. it.kind)
  local start = 0
  while true do
    local batch = redis.call('ZRANGE', rk, start, start + 63)
    if #batch == 0 then return false end
    for _, member in ipairs(batch) do
      local a = tonumber(member)
      if open_to(it, a) and (#it.skill_list == 0 or skills_ok(redis.call('HGET', akey(a), 'skills'), it.skill_list)) then
        offer(it, a, policy)
        return true
      end
    end
    start = start + 64
  end
end

local function requeue(it)
  if not match_item(it) then
    emit({kind = 'queued', ref = tonumber(it.ref), queue = it.queue})
  end
end

-- Offer the agent the oldest waiting work it can take, across its queues, until it is full.
local function match_agent(a)
  for _ = 1, 1000 do
    local ag = load_agent(a)
    if not ag or ag.status ~= 'available' then return end
    local best, best_score, best_ref, best_policy = nil, nil, nil, nil
    for q in each_queue(ag.queues) do
      local policy = redis.call('HGET', qkey(q, 'conf'), 'policy')
      for _, kind in ipairs(KINDS) do
       if policy and policy ~= 'manual' and free(ag, kind) then
        local wk = qkey(q, 'waiting:' .. kind)
        local start = 0
        local searching = true
        while searching do
          local batch = redis.call('ZRANGE', wk, start, start + 63, 'WITHSCORES')
          if #batch == 0 then break end
          for i = 1, #batch, 2 do
            local ref, score = batch[i], tonumber(batch[i + 1])
            if best_score and (score > best_score or (score == best_score and ref > best_ref)) then
              searching = false
              break
            end
            local h = redis.call('HMGET', ikey(ref), 'kind', 'skills', 'pref', 'sticky_until', 'declined',
                                 'declined_until')
            local it = {pref = num(h[3]), sticky_until = num(h[4]), declined = num(h[5]),
                        declined_until = num(h[6])}
            if skills_ok(ag.skills, split(h[2])) and open_to(it, a) then
              best, best_score, best_ref, best_policy = ref, score, ref, policy
              searching = false
              break
            end
          end
          start = start + 64
        end
       end
      end
    end
    if not best then return end
    local it = load_item(best)
    if it.pref == a then best_policy = 'preferred' end
    offer(it, a, best_policy)
  end
end

local function close_offer(oid)
  local o = redis.call('HMGET', okey(oid), 'ref', 'agent', 'policy')
  redis.call('DEL', okey(oid))
  redis.call('ZREM', OFFERS, oid)
  redis.call('SREM', akey(o[2]) .. ':offers', oid)
  return {ref = o[1], agent = tonumber(o[2]), policy = o[3] or ''}
end

-- Free the agent holding or offered the item; returns that agent's id (0 when none).
local function release_holder(it, detail)
  local holder = it.agent
  if it.state == 'offered' then
    local o = close_offer(it.offer)
    load_change(holder, it.kind, -1)
    refresh_agent(holder)
    emit({kind = 'offer_cancelled', ref = tonumber(it.ref), queue = it.queue, agent = holder, offer = it.offer,
          policy = o.policy})
  elseif it.state == 'assigned' then
    load_change(holder, it.kind, -1)
    if redis.call('EXISTS', akey(holder)) == 1 then redis.call('HSET', akey(holder), 'idle', NOW) end
    refresh_agent(holder)
    emit({kind = 'released', ref = tonumber(it.ref), queue = it.queue, agent = holder, detail = detail})
  end
  it.state = 'waiting'; it.agent = 0; it.offer = ''; it.policy = ''
  save_item(it, 'state', 'agent', 'offer', 'policy')
  return holder
end

local function withdraw_offers(a)
  -- In the order of the items' refs, as the memory backend does.
  local refs = {}
  for _, oid in ipairs(redis.call('SMEMBERS', akey(a) .. ':offers')) do
    refs[#refs + 1] = tonumber(redis.call('HGET', okey(oid), 'ref'))
  end
  table.sort(refs)
  for _, ref in ipairs(refs) do
    local it = load_item(tostring(ref))
    release_holder(it, 'withdrawn')
    it.declined = a
    it.declined_until = NOW + num(redis.call('HGET', qkey(it.queue, 'conf'), 'offer_ms'))
    set_waiting(it)
    requeue(it)
  end
end

local function decline(oid, reason)
  local o = close_offer(oid)
  local a = o.agent
  local it = load_item(o.ref)
  load_change(a, it.kind, -1)
  it.declined = a
  it.declined_until = NOW + num(redis.call('HGET', qkey(it.queue, 'conf'), 'offer_ms'))
  set_waiting(it)
  refresh_agent(a)
  emit({kind = reason, ref = tonumber(it.ref), queue = it.queue, agent = a, offer = oid, policy = o.policy})
  local went_away = false
  local k = akey(a)
  if reason == 'expired' then
    local missed = num(redis.call('HINCRBY', k, 'missed', 1))
    local after = num(redis.call('HGET', k, 'away_after'))
    if after > 0 and missed >= after and redis.call('HGET', k, 'status') == 'available' then
      redis.call('HSET', k, 'status', 'away', 'missed', 0)
      refresh_agent(a)
      went_away = true
    end
  else
    redis.call('HSET', k, 'missed', 0)
  end
  requeue(it)
  if went_away then
    emit({kind = 'agent_status', agent = a, status = 'away', detail = 'missed_offers'})
    withdraw_offers(a)
  else
    match_agent(a)
  end
end
