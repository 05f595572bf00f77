-- Shared by every routing operation. The operations are the functions of one Redis library (redis.py
-- builds it: this prelude, then each lua/<op>.lua as the body of a function), loaded once, so this
-- part runs once at load and each call only runs begin() and its operation. A call's ARGV: [1] key
-- prefix, [2] now (ms), [3] token for offer ids; the operation's own arguments follow. Semantics mirror
-- routing/backends/memory.py line by line. (At load only what the library defines may run: no
-- redis.call, and loops by index, as Redis 7.0 gives the loading code no ipairs.)
--
-- Each call of a script is one decision and reads as little as it can: what it reads it keeps until it
-- returns (each queue's conf and kinds, each agent's hash). An agent's changes are made to the kept
-- copy and written once: its entries in the ready index (the sorted sets match_item reads) before
-- anything reads that index or the call ends, its hash when the call ends (done). The events' decision
-- numbers are taken with one INCRBY at the end; the script is atomic, so they are the numbers one INCR
-- per event would give.
local KINDS = {__KINDS__}
local SEP = '\31'
-- The call's own state, set by begin(): the key prefix, the clock, the offer token, the keys that
-- depend on the prefix, the events so far, and what the call has read (CONF: each queue's settings, QK:
-- each queue's kinds, AG: agents by id, false when there is none, CHANGED: agents changed, in order).
local P, NOW, TOKEN, OFFERS, DUE
local events, noffers
local CONF, QK, AG, CHANGED

local function qkey(q, name) return P .. ':{q:' .. q .. '}:' .. name end
local function akey(a) return P .. ':agent:' .. a end
local function ikey(r) return P .. ':item:' .. r end
local function okey(o) return P .. ':offer:' .. o end

local function num(x) return tonumber(x) or 0 end
-- Numbers go to Redis as integer strings: Redis would format a Lua number with %.17g, several times
-- slower (every number routing stores is an integer).
local function int(x) return string.format('%d', x) end
local function emit(ev) events[#events + 1] = ev end
local function fail(code, detail) return cjson.encode({error = code, detail = detail}) end

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
local function each_queue(queues) return string.gmatch(queues or '', '[^,]+') end

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

-- A queue's settings, read once per call (nil: not configured).
local function conf(q)
  local key = tonumber(q)
  local c = CONF[key]
  if c == nil then
    local raw = redis.call('HMGET', qkey(q, 'conf'), 'policy', 'offer_ms', 'sticky_ms', 'max_wait_ms', 'overflow')
    c = false
    if raw[1] then
      c = {policy = raw[1], offer_ms = num(raw[2]), sticky_ms = num(raw[3]), max_wait_ms = num(raw[4]),
           overflow = num(raw[5])}
    end
    CONF[key] = c
  end
  return c or nil
end

-- {q}:kinds says, per channel kind, whether the queue keeps a ready index for it (the kind is a field)
-- and whether work of that kind may be waiting ('1') or none is ('0'). A kind becomes a field when its
-- first item waits in the queue, so agents are indexed only under the kinds a queue gets; a scan that
-- finds a kind's waiting set empty sets '0', so agents skip it without reading it. The field '*' says
-- the hash is kept; a queue without it (set up before the hash existed) keeps every kind indexed and
-- treats a kind without a field as possibly waiting.
local function queue_kinds(q)
  local key = tonumber(q)
  local kinds = QK[key]
  if kinds == nil then
    kinds = {state = {}}
    local raw = redis.call('HGETALL', qkey(q, 'kinds'))
    for i = 1, #raw, 2 do kinds.state[raw[i]] = raw[i + 1] end
    kinds.kept = kinds.state['*'] ~= nil
    QK[key] = kinds
  end
  return kinds
end
local function indexed(kinds, k) return not kinds.kept or kinds.state[k] ~= nil end
local function may_wait(kinds, k)
  local s = kinds.state[k]
  return s == '1' or (s == nil and not kinds.kept)
end

-- --- work items ---------------------------------------------------------------------------------------
-- it.listed: the item is in its queue's waiting sets; it.in_due: it may be in the timer set. Both say
-- what Redis holds, so leaving a set costs nothing when the item is not in it.
local ITEM_NUMS = {'queue', 'prio', 'pref', 'enq', 'qat', 'agent', 'sticky_until', 'declined', 'declined_until',
                   'overflow_at'}
-- fields: read only these (the first must be 'state'); all of them by default.
local function load_item(ref, fields)
  local it = {}
  if fields then
    local raw = redis.call('HMGET', ikey(ref), unpack(fields))
    if not raw[1] then return nil end
    for i, f in ipairs(fields) do
      if raw[i] then it[f] = raw[i] end
    end
  else
    local raw = redis.call('HGETALL', ikey(ref))
    if #raw == 0 then return nil end
    for i = 1, #raw, 2 do it[raw[i]] = raw[i + 1] end
  end
  for _, f in ipairs(ITEM_NUMS) do it[f] = num(it[f]) end
  it.ref = ref
  it.skill_list = split(it.skills)
  it.listed = it.state == 'waiting'
  it.in_due = it.sticky_until ~= 0 or it.declined_until ~= 0 or it.overflow_at ~= 0
  return it
end
local function save_item(it, fields)
  local args = {}
  for _, f in ipairs(fields) do
    local v = it[f]
    args[#args + 1] = f
    args[#args + 1] = type(v) == 'number' and int(v) or tostring(v)
  end
  redis.call('HSET', ikey(it.ref), unpack(args))
end

local function open_to(it, a)
  if it.declined == a and NOW < it.declined_until then return false end
  if it.pref ~= 0 and it.pref ~= a and NOW < it.sticky_until then return false end
  return true
end

-- --- agents -------------------------------------------------------------------------------------------
local AGENT_FIELDS = {'status', 'queues', 'skills', 'total', 'default', 'idle', 'rr', 'missed', 'away_after'}
for i = 1, #KINDS do
  AGENT_FIELDS[#AGENT_FIELDS + 1] = 'load:' .. KINDS[i]
  AGENT_FIELDS[#AGENT_FIELDS + 1] = 'cap:' .. KINDS[i]
end

-- What the ready index shows of an agent: the values its scores and memberships were computed from.
local function snapshot(ag)
  local load = {}
  for k, n in pairs(ag.load) do load[k] = n end
  return {status = ag.status, total = ag.total, default = ag.default, idle = ag.idle, rr = ag.rr, load = load}
end
local function load_agent(a)
  a = tonumber(a)
  local ag = AG[a]
  if ag == nil then
    local raw = redis.call('HMGET', akey(a), unpack(AGENT_FIELDS))
    ag = false
    if raw[1] then
      ag = {id = a, sid = int(a), status = raw[1], queues = raw[2] or '', skills = raw[3] or '', total = num(raw[4]),
            default = num(raw[5]), idle = num(raw[6]), rr = num(raw[7]), missed = num(raw[8]),
            away_after = num(raw[9]), load = {}, cap = {}}
      for i, k in ipairs(KINDS) do
        ag.load[k] = num(raw[8 + 2 * i])
        ag.cap[k] = num(raw[9 + 2 * i])
      end
      ag.shown = snapshot(ag)
    end
    AG[a] = ag
  end
  return ag or nil
end
local function free(ag, kind) return (ag.load[kind] or 0) < (ag.cap[kind] or 0) end

local function note(ag)
  if not ag.noted then
    ag.noted = true
    CHANGED[#CHANGED + 1] = ag
  end
end
-- The agent's hash and ready entries are out of date (written by done / sync_ready).
local function changed(ag)
  ag.unsaved = true
  ag.unshown = true
  note(ag)
end
-- Rewrite every ready entry of the agent (its queues, skills, capacity or a queue's policy changed).
local function reshow(ag)
  ag.unshown = true
  ag.force = true
  note(ag)
end

local function load_change(a, kind, delta)
  local ag = load_agent(a)
  if not ag then return end
  ag.load[kind] = math.max(0, (ag.load[kind] or 0) + delta)
  ag.total = math.max(0, ag.total + delta)
  changed(ag)
end

-- The agent's place in the ready index of each queue it serves, one sorted set per channel kind: an
-- entry is written only where the membership or the score differs from what the index shows.
local function show(ag)
  local s, force = ag.shown, ag.force
  for q in each_queue(ag.queues) do
    local c = conf(q)
    local policy = (c and c.policy) or 'least_busy'
    local score = agent_score(policy, ag.total, ag.default, ag.idle, ag.rr)
    local moved = force or score ~= agent_score(policy, s.total, s.default, s.idle, s.rr)
    score = int(score)
    local kinds = queue_kinds(q)
    for _, k in ipairs(KINDS) do
      if indexed(kinds, k) then
        local was = s.status == 'available' and (s.load[k] or 0) < (ag.cap[k] or 0)
        if ag.status == 'available' and free(ag, k) then
          if moved or not was then redis.call('ZADD', qkey(q, 'ready:' .. k), score, ag.sid) end
        elseif force or was then
          redis.call('ZREM', qkey(q, 'ready:' .. k), ag.sid)
        end
      end
    end
  end
  ag.shown = snapshot(ag)
  ag.unshown = false
  ag.force = false
end
local function sync_ready()
  for _, ag in ipairs(CHANGED) do
    if ag.unshown then show(ag) end
  end
end

local function done()
  sync_ready()
  for _, ag in ipairs(CHANGED) do
    if ag.unsaved then
      local f = {'status', ag.status, 'total', int(ag.total), 'idle', int(ag.idle), 'rr', int(ag.rr),
                 'missed', int(ag.missed)}
      for k, n in pairs(ag.load) do
        f[#f + 1] = 'load:' .. k
        f[#f + 1] = int(n)
      end
      redis.call('HSET', akey(ag.sid), unpack(f))
      ag.unsaved = false
    end
  end
  local n = #events
  if n > 0 then
    local last = redis.call('INCRBY', P .. ':seq', n)
    for i, ev in ipairs(events) do ev.seq = last - n + i end
  end
  return cjson.encode({events = events})
end

-- --- waiting work -------------------------------------------------------------------------------------
-- A kind's first item in a queue: from now on the queue keeps a ready index for the kind, built here
-- from the queue's members as they stand (an agent changed in this call is rewritten by show as usual).
local function index_kind(q, k)
  local rk = qkey(q, 'ready:' .. k)
  redis.call('DEL', rk)
  local c = conf(q)
  local policy = (c and c.policy) or 'least_busy'
  for _, a in ipairs(redis.call('SMEMBERS', qkey(q, 'members'))) do
    local ag = load_agent(a)
    if ag and ag.status == 'available' and free(ag, k) then
      redis.call('ZADD', rk, int(agent_score(policy, ag.total, ag.default, ag.idle, ag.rr)), ag.sid)
    end
  end
end
-- Work of kind k waits in queue q.
local function note_waiting(q, k)
  local kinds = queue_kinds(q)
  local s = kinds.state[k]
  if s ~= '1' then
    redis.call('HSET', qkey(q, 'kinds'), k, '1')
    kinds.state[k] = '1'
    if s == nil and kinds.kept then index_kind(q, k) end
  end
end

local function overflow_at(q, qat)
  local c = conf(q)
  if not c or c.max_wait_ms == 0 or c.overflow == 0 then return 0 end
  return qat + c.max_wait_ms
end

local function update_due(it)
  local t = 0
  for _, v in ipairs({it.sticky_until, it.declined_until, it.overflow_at}) do
    if v ~= 0 and (t == 0 or v < t) then t = v end
  end
  if t ~= 0 then
    redis.call('ZADD', DUE, int(t), it.ref)
    it.in_due = true
  elseif it.in_due then
    redis.call('ZREM', DUE, it.ref)
    it.in_due = false
  end
end

-- Put an item in its queue's waiting set (its place comes from priority and first enqueue time).
local WAITING_FIELDS = {'state', 'agent', 'offer', 'policy', 'queue', 'qat', 'pref', 'sticky_until', 'declined',
                        'declined_until', 'overflow_at'}
local function set_waiting(it, more)
  it.state = 'waiting'; it.agent = 0; it.offer = ''; it.policy = ''
  local fields = WAITING_FIELDS
  if more then
    fields = {unpack(WAITING_FIELDS)}
    for _, f in ipairs(more) do fields[#fields + 1] = f end
  end
  save_item(it, fields)
  local score = int(work_score(it.prio, it.enq))
  redis.call('ZADD', qkey(it.queue, 'waiting'), score, it.ref)
  -- The same order per channel kind, so an agent looks only at work of the kinds it has room for.
  redis.call('ZADD', qkey(it.queue, 'waiting:' .. it.kind), score, it.ref)
  it.listed = true
  note_waiting(it.queue, it.kind)
  update_due(it)
end
local function leave_waiting(it)
  if it.listed then
    redis.call('ZREM', qkey(it.queue, 'waiting'), it.ref)
    redis.call('ZREM', qkey(it.queue, 'waiting:' .. it.kind), it.ref)
    it.listed = false
  end
  if it.in_due then
    redis.call('ZREM', DUE, it.ref)
    it.in_due = false
  end
end

-- --- decisions ----------------------------------------------------------------------------------------
local function offer(it, a, policy)
  noffers = noffers + 1
  local oid = TOKEN .. '-' .. noffers
  local c = conf(it.queue)
  local expires = NOW + ((c and c.offer_ms) or 0)
  leave_waiting(it)
  it.state = 'offered'; it.agent = a; it.offer = oid; it.policy = policy
  save_item(it, {'state', 'agent', 'offer', 'policy'})
  local ag = load_agent(a)
  ag.load[it.kind] = (ag.load[it.kind] or 0) + 1
  ag.total = ag.total + 1
  ag.rr = redis.call('INCR', P .. ':rr')
  changed(ag)
  redis.call('SADD', akey(ag.sid) .. ':offers', oid)
  redis.call('HSET', okey(oid), 'ref', it.ref, 'agent', ag.sid, 'expires', int(expires), 'policy', policy)
  redis.call('ZADD', OFFERS, int(expires), oid)
  emit({kind = 'offered', ref = tonumber(it.ref), queue = it.queue, agent = a, offer = oid, expires = expires,
        policy = policy})
end

local function assign(it, a, policy)
  leave_waiting(it)
  it.state = 'assigned'; it.agent = a; it.offer = ''; it.policy = policy
  save_item(it, {'state', 'agent', 'offer', 'policy', 'queue'})
  load_change(a, it.kind, 1)
  emit({kind = 'assigned', ref = tonumber(it.ref), queue = it.queue, agent = a, policy = policy})
end

local function match_item(it)
  if it.state ~= 'waiting' then return false end
  local c = conf(it.queue)
  if not c or c.policy == 'manual' then return false end
  local policy = c.policy
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
  sync_ready()
  local rk = qkey(it.queue, 'ready:' .. it.kind)
  local start, size = 0, 8
  while true do
    local batch = redis.call('ZRANGE', rk, start, start + size - 1)
    if #batch == 0 then return false end
    for _, member in ipairs(batch) do
      local a = tonumber(member)
      if open_to(it, a) then
        local ok = #it.skill_list == 0
        if not ok then
          local kept = AG[a]
          ok = skills_ok(kept and kept.skills or redis.call('HGET', akey(a), 'skills'), it.skill_list)
        end
        if ok then
          offer(it, a, policy)
          return true
        end
      end
    end
    start = start + size
    if size < 64 then size = size * 2 end
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
      local c = conf(q)
      if c and c.policy ~= 'manual' then
        local kinds = queue_kinds(q)
        for _, kind in ipairs(KINDS) do
          if may_wait(kinds, kind) and free(ag, kind) then
            local wk = qkey(q, 'waiting:' .. kind)
            local start, size = 0, 8
            local searching = true
            while searching do
              local batch = redis.call('ZRANGE', wk, start, start + size - 1, 'WITHSCORES')
              if #batch == 0 then
                if start == 0 then
                  redis.call('HSET', qkey(q, 'kinds'), kind, '0')
                  kinds.state[kind] = '0'
                end
                break
              end
              for i = 1, #batch, 2 do
                local ref, score = batch[i], tonumber(batch[i + 1])
                if best_score and (score > best_score or (score == best_score and ref > best_ref)) then
                  searching = false
                  break
                end
                local h = redis.call('HMGET', ikey(ref), 'skills', 'pref', 'sticky_until', 'declined',
                                     'declined_until', 'overflow_at')
                local it = {ref = ref, queue = tonumber(q), kind = kind, state = 'waiting', pref = num(h[2]),
                            sticky_until = num(h[3]), declined = num(h[4]), declined_until = num(h[5]),
                            overflow_at = num(h[6]), listed = true}
                if skills_ok(ag.skills, split(h[1])) and open_to(it, a) then
                  -- What offer() needs of the item: it waits in this queue's set of this kind.
                  it.in_due = it.sticky_until ~= 0 or it.declined_until ~= 0 or it.overflow_at ~= 0
                  best, best_score, best_ref, best_policy = it, score, ref, c.policy
                  searching = false
                  break
                end
              end
              start = start + size
              if size < 64 then size = size * 2 end
            end
          end
        end
      end
    end
    if not best then return end
    if best.pref == a then best_policy = 'preferred' end
    offer(best, a, best_policy)
  end
end

-- o: the offer's HMGET ref, agent, policy when the caller read it already.
local function close_offer(oid, o)
  o = o or redis.call('HMGET', okey(oid), 'ref', 'agent', 'policy')
  redis.call('DEL', okey(oid))
  redis.call('ZREM', OFFERS, oid)
  redis.call('SREM', akey(o[2]) .. ':offers', oid)
  return {ref = o[1], agent = tonumber(o[2]), policy = o[3] or ''}
end

-- Free the agent holding or offered the item; returns that agent's id (0 when none). The item is left
-- out of every set with its fields changed in the copy only: every caller then saves it (set_waiting,
-- assign) or deletes it.
local function release_holder(it, detail)
  local holder = it.agent
  if it.state == 'offered' then
    local o = close_offer(it.offer)
    load_change(holder, it.kind, -1)
    emit({kind = 'offer_cancelled', ref = tonumber(it.ref), queue = it.queue, agent = holder, offer = it.offer,
          policy = o.policy})
  elseif it.state == 'assigned' then
    load_change(holder, it.kind, -1)
    local ag = load_agent(holder)
    if ag then ag.idle = NOW end
    emit({kind = 'released', ref = tonumber(it.ref), queue = it.queue, agent = holder, detail = detail})
  end
  it.state = 'waiting'; it.agent = 0; it.offer = ''; it.policy = ''
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
    local c = conf(it.queue)
    it.declined_until = NOW + ((c and c.offer_ms) or 0)
    set_waiting(it)
    requeue(it)
  end
end

-- o: the offer's HMGET ref, agent, policy.
local function decline(oid, reason, o)
  o = close_offer(oid, o)
  local a = o.agent
  local it = load_item(o.ref)
  load_change(a, it.kind, -1)
  it.declined = a
  local c = conf(it.queue)
  it.declined_until = NOW + ((c and c.offer_ms) or 0)
  set_waiting(it)
  emit({kind = reason, ref = tonumber(it.ref), queue = it.queue, agent = a, offer = oid, policy = o.policy})
  local went_away = false
  local ag = load_agent(a)
  if ag then
    if reason == 'expired' then
      ag.missed = ag.missed + 1
      if ag.away_after > 0 and ag.missed >= ag.away_after and ag.status == 'available' then
        ag.status = 'away'
        ag.missed = 0
        went_away = true
      end
    else
      ag.missed = 0
    end
    changed(ag)
  end
  requeue(it)
  if went_away then
    emit({kind = 'agent_status', agent = a, status = 'away', detail = 'missed_offers'})
    withdraw_offers(a)
  else
    match_agent(a)
  end
end

-- The first thing every call does.
local function begin(argv)
  P, NOW, TOKEN = argv[1], tonumber(argv[2]), argv[3]
  OFFERS, DUE = P .. ':offers', P .. ':due'
  events, noffers = {}, 0
  CONF, QK, AG, CHANGED = {}, {}, {}, {}
end
