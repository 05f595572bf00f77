/* The live supervisor dashboard: snapshots from /ws/v1/supervisor/live/ (HTTP polling while the socket is
   down), actions through the JSON endpoints. Everything customers or agents wrote goes in with
   textContent, never innerHTML. Words from the page's catalog (/jsi18n/), figures and times in the page's
   language (static/shared/format.js), both loaded before it. */
(function () {
  "use strict";
  var gettext = window.gettext, gettext_noop = window.gettext_noop, pgettext = window.pgettext;
  var interpolate = window.interpolate;
  var F = window.SwitchboardFormat;
  var config = JSON.parse(document.getElementById("sv-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var last = null;
  var openConversation = null;
  var conversationsFetchedAt = 0;

  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  // Every error code of docs/protocol.md in words for the supervisor (a test keeps this list complete).
  var ERROR_WORDS = {
    bad_json: gettext_noop("The server could not read that request. Reload the page and try again."),
    unknown_type: gettext_noop("The server does not know that action. Reload the page."),
    invalid: gettext_noop("Something in the request was not accepted."),
    too_long: gettext_noop("The text is too long."),
    empty: gettext_noop("Write something first."),
    rate_limited: gettext_noop("Too many actions at once. Wait a moment and try again."),
    auth_required: gettext_noop("Your session has ended. Log in again."),
    auth_failed: gettext_noop("Your session has ended. Log in again."),
    origin_not_allowed: gettext_noop("This page is not allowed to connect to the server."),
    forbidden: gettext_noop("You are not allowed to do that."),
    not_found: gettext_noop("That conversation is not in your queues (any more)."),
    conversation_closed: gettext_noop("The conversation is closed."),
    illegal_transition: gettext_noop("The conversation cannot do that in its current state."),
    unknown_attachment: gettext_noop("A file could not be attached."),
    too_large: gettext_noop("The request is larger than the limit."),
    offer_gone: gettext_noop("The offer expired or someone else took the conversation."),
    not_yours: gettext_noop("That belongs to someone else."),
    over_capacity: gettext_noop("That agent already has as many conversations as they can take."),
    not_waiting: gettext_noop("The conversation is no longer waiting in the queue."),
    unknown_queue: gettext_noop("That queue does not exist."),
    unknown_agent: gettext_noop("That agent does not exist."),
    unknown_work: gettext_noop("The queue has no record of this conversation. Reload the page."),
    bad_request: gettext_noop("The queue refused that request."),
    internal: gettext_noop("The server failed and nothing was changed. Try again."),
    not_retryable: gettext_noop("Nothing to retry: the message was sent, or it does not go to a platform."),
    no_identity: gettext_noop("This contact has no address on that inbox's channel."),
    template_required: gettext_noop("The customer has not written in the last 24 hours: start with an approved template."),
    conversation_open: gettext_noop("This contact already has an open conversation in that inbox."),
    identity_invalid: gettext_noop("The customer's identity could not be verified."),
    identity_required: gettext_noop("This inbox accepts only verified customer ids."),
    method_not_allowed: gettext_noop("That action is not possible here."),
    not_acceptable: gettext_noop("The server could not answer in a form this page reads."),
    unsupported_media_type: gettext_noop("The page sent a request the server does not read. Reload the page."),
  };
  var DETAIL_SAYS_MORE = { invalid: true, too_long: true };

  function errorWords(code, detail) {
    if (DETAIL_SAYS_MORE[code] && detail) return detail;
    return ERROR_WORDS[code] ? gettext(ERROR_WORDS[code]) : detail || gettext("Something went wrong. Try again.");
  }

  function api(method, path, body) {
    return fetch(config.api_base + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        // Every HTTP API answers a refusal {"error": {"code", "detail"}}.
        var refusal = (data && data.error) || {};
        if (!r.ok) throw new Error(refusal.code || refusal.detail ? errorWords(refusal.code, refusal.detail) : interpolate(gettext("The server answered %s."), [r.status]));
        return data;
      });
    });
  }

  function duration(s) { return F.duration(s); }
  function pct(v) { return F.percent(v); }
  function num(v) { return F.number(v); }

  // The words for the values the snapshot sends as codes (the codes stay in data attributes and classes).
  var STATUS_WORDS = {
    bot: pgettext("conversation status", "bot"),
    queued: pgettext("conversation status", "queued"),
    offered: pgettext("conversation status", "offered"),
    assigned: pgettext("conversation status", "assigned"),
    closed: pgettext("conversation status", "closed")
  };
  var PRESENCE_WORDS = {
    available: pgettext("agent state", "available"),
    busy: pgettext("agent state", "busy"),
    away: pgettext("agent state", "away"),
    offline: pgettext("agent state", "offline"),
    disconnected: pgettext("agent state", "disconnected")
  };
  var LEVEL_WORDS = { warning: pgettext("alert level", "warning"), critical: pgettext("alert level", "critical") };
  function word(words, code) { return words[code] || code || ""; }

  function cell(row, text, field, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (field) td.dataset.field = field;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function alertLevel(queue, metric) {
    var found = queue.alerts.find(function (a) { return a.metric === metric; });
    return found ? "sv-" + found.level : "";
  }

  function renderQueues(queues) {
    var body = $("sv-queues").querySelector("tbody");
    body.textContent = "";
    $("sv-no-queues").hidden = queues.length > 0;
    queues.forEach(function (q) {
      var tr = document.createElement("tr");
      tr.dataset.queue = q.queue_id;
      cell(tr, q.name, "name");
      cell(tr, num(q.waiting), "waiting");
      cell(tr, duration(q.longest_wait_s), "longest_wait", alertLevel(q, "longest_wait"));
      cell(tr, duration(q.recent.average_wait_s), "average_wait_recent");
      cell(tr, duration(q.today.average_wait_s), "average_wait_today");
      cell(tr, pct(q.recent.service_level), "service_level_recent", alertLevel(q, "service_level"));
      cell(tr, pct(q.today.service_level), "service_level_today");
      cell(tr, num(q.recent.abandoned), "abandoned_recent");
      cell(tr, num(q.today.abandoned), "abandoned_today");
      cell(tr, num(q.active), "active");
      cell(tr, [q.agents.available, q.agents.busy, q.agents.away, q.agents.offline, q.agents.disconnected || 0].map(num).join(" / "), "agents");
      cell(tr, pct(q.occupancy), "occupancy");
      body.appendChild(tr);
    });
  }

  function renderBot(bot) {
    bot = bot || { total: 0, inboxes: [] };
    $("sv-bot-total").textContent = num(bot.total);
    var body = $("sv-bot").querySelector("tbody");
    body.textContent = "";
    bot.inboxes.forEach(function (i) {
      var tr = document.createElement("tr");
      tr.dataset.inbox = i.inbox_id;
      cell(tr, i.name, "name");
      cell(tr, num(i.count), "bot");
      body.appendChild(tr);
    });
  }

  function renderAlerts(alerts) {
    var box = $("sv-alerts");
    box.textContent = "";
    alerts.forEach(function (a) {
      var p = document.createElement("p");
      p.className = "sv-alert sv-" + a.level;
      p.dataset.queue = a.queue_id;
      p.dataset.metric = a.metric;
      var level = word(LEVEL_WORDS, a.level);
      var what = a.metric === "longest_wait"
        ? interpolate(gettext("longest wait %(value)s (%(level)s at %(threshold)s)"), { value: duration(a.value), level: level, threshold: duration(a.threshold) }, true)
        : interpolate(gettext("service level %(value)s (%(level)s at %(threshold)s)"), { value: pct(a.value / 100), level: level, threshold: pct(a.threshold / 100) }, true);
      p.textContent = interpolate(gettext("%(queue)s: %(alert)s"), { queue: a.queue, alert: what }, true);
      box.appendChild(p);
    });
  }

  function renderAgents(agents, fairness) {
    var body = $("sv-agents").querySelector("tbody");
    body.textContent = "";
    var perAgent = fairness.assignments.per_agent;
    agents.forEach(function (a) {
      var tr = document.createElement("tr");
      tr.dataset.agent = a.agent_id;
      cell(tr, a.name, "name");
      var td = cell(tr, "", "status");
      var select = document.createElement("select");
      select.setAttribute("aria-label", interpolate(gettext("Status of %s"), [a.name]));
      ["available", "away", "offline"].forEach(function (s) {
        var o = document.createElement("option");
        o.value = s; o.textContent = word(PRESENCE_WORDS, s); o.selected = a.status === s;
        select.appendChild(o);
      });
      select.addEventListener("change", function () {
        select.disabled = true;
        api("POST", "agents/" + a.agent_id + "/status", { status: select.value })
          .catch(function (e) { window.alert(e.message); })
          .then(function () { select.disabled = false; });
      });
      td.appendChild(select);
      var state = document.createElement("span");
      state.className = "chip sv-state-" + a.state;
      state.textContent = word(PRESENCE_WORDS, a.state);
      td.appendChild(state);
      cell(tr, num(a.load) + " / " + num(a.capacity), "load");
      cell(tr, pct(a.occupancy), "occupancy");
      cell(tr, num(a.offers_missed_today), "offers_missed");
      cell(tr, num(a.handled_today), "handled_today");
      cell(tr, duration(a.average_handle_s), "average_handle");
      cell(tr, num((perAgent[a.agent_id] || { per_hour: 0 }).per_hour), "assignments_per_hour");
      body.appendChild(tr);
    });
  }

  function spreadText(s, format) {
    if (s.mean === null) return gettext("No data yet.");
    return interpolate(gettext("max %(max)s · min %(min)s · range %(range)s · CV %(cv)s"), {
      max: format(s.max), min: format(s.min), range: format(s.range), cv: num(s.cv)
    }, true);
  }

  function renderFairness(agents, fairness) {
    $("sv-occ-spread").textContent = spreadText(fairness.occupancy, pct);
    var available = agents.filter(function (a) { return a.state === "available" || a.state === "busy"; });
    window.SvCharts.bars($("sv-occ-chart"), {
      labels: available.map(function (a) { return a.name; }),
      series: [{ name: gettext("occupancy"), values: available.map(function (a) { return a.occupancy === null ? null : a.occupancy * 100; }) }],
      max: 100,
      format: function (v) { return F.percent(v / 100); }
    });
    var asg = fairness.assignments;
    $("sv-asg-spread").textContent = interpolate(gettext("per hour: %s"), [spreadText(asg.per_hour_spread, num)]);
    var hours = asg.hours.slice(-12);
    window.SvCharts.bars($("sv-asg-chart"), {
      // Each hour as a clock time in the viewer's zone ("14:00", "02:00 PM").
      labels: hours.map(function (h) { return F.time(h) || h.slice(11, 16); }),
      series: agents.map(function (a) {
        var entry = asg.per_agent[a.agent_id] || { hours: {} };
        return { name: a.name, values: hours.map(function (h) { return entry.hours[h] || 0; }) };
      })
    });
  }

  function renderConversations(rows) {
    var body = $("sv-conversations").querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (c) {
      var tr = document.createElement("tr");
      tr.dataset.conversation = c.id;
      tr.dataset.status = c.status;
      cell(tr, "#" + c.id);
      cell(tr, c.contact);
      cell(tr, c.queue || "–");
      cell(tr, word(STATUS_WORDS, c.status));
      cell(tr, c.assignee || "–");
      // The customer's wait (docs/supervisor.md): counting while waiting, the total once an agent has it.
      cell(tr, duration(c.wait_s), "wait");
      var td = cell(tr, "");
      var open = document.createElement("button");
      open.type = "button"; open.textContent = gettext("Open");
      open.addEventListener("click", function () { openDialog(c.id); });
      td.appendChild(open);
      var transcript = document.createElement("a");
      transcript.href = "/supervisor/conversations/" + c.id + "/";
      transcript.textContent = gettext("Transcript");
      transcript.className = "sv-transcript";
      td.appendChild(document.createTextNode(" "));
      td.appendChild(transcript);
      body.appendChild(tr);
    });
  }

  function refreshConversations(force) {
    var now = Date.now();
    if (!force && now - conversationsFetchedAt < 3000) return;
    conversationsFetchedAt = now;
    api("GET", "conversations").then(function (d) { renderConversations(d.conversations); }).catch(function () {});
  }

  function render(snapshot) {
    last = snapshot;
    $("sv-at").textContent = interpolate(gettext("as of %s"), [F.timeSeconds(snapshot.at)]);
    renderAlerts(snapshot.alerts);
    renderQueues(snapshot.queues);
    renderBot(snapshot.bot);
    renderAgents(snapshot.agents, snapshot.fairness);
    renderFairness(snapshot.agents, snapshot.fairness);
    refreshConversations(false);
  }

  /* --- conversation dialog: read-only history, internal note, transfer --- */
  function transferOptions() {
    var select = $("sv-transfer-target");
    select.textContent = "";
    config.queues.forEach(function (q) {
      var o = document.createElement("option"); o.value = "queue:" + q.id; o.textContent = interpolate(gettext("Queue %s"), [q.name]); select.appendChild(o);
    });
    config.agents.forEach(function (a) {
      var o = document.createElement("option"); o.value = "agent:" + a.id; o.textContent = interpolate(gettext("Agent %s"), [a.name]); select.appendChild(o);
    });
  }

  function openDialog(id) {
    openConversation = id;
    $("sv-dialog-error").textContent = "";
    api("GET", "conversations/" + id).then(function (d) {
      var c = d.conversation;
      $("sv-dialog-title").textContent = interpolate(gettext("Conversation #%s"), [c.id]);
      $("sv-dialog-meta").textContent = [c.contact.name, c.inbox, c.queue || gettext("no queue"), word(STATUS_WORDS, c.status), c.assignee || gettext("unassigned")].join(" · ");
      var list = $("sv-messages");
      list.textContent = "";
      d.messages.forEach(function (m) {
        var li = document.createElement("li");
        li.className = "sv-msg sv-msg-" + m.sender.kind + (m.private ? " sv-msg-private" : "");
        var head = document.createElement("span");
        head.className = "sv-msg-head";
        head.textContent = m.sender.name + (m.private ? " · " + gettext("internal note") : "") + " · " + F.when(m.created_at);
        var text = document.createElement("span");
        text.className = "sv-msg-text";
        text.textContent = m.text;
        li.appendChild(head); li.appendChild(text);
        list.appendChild(li);
      });
      if (!$("sv-dialog").open) $("sv-dialog").showModal();
      list.scrollTop = list.scrollHeight;
    }).catch(function (e) { window.alert(e.message); });
  }

  $("sv-dialog-close").addEventListener("click", function () { $("sv-dialog").close(); openConversation = null; });
  $("sv-note-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = $("sv-note-text").value;
    var clientId = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
    api("POST", "conversations/" + openConversation + "/notes", { text: text, client_id: clientId })
      .then(function () { $("sv-note-text").value = ""; openDialog(openConversation); })
      .catch(function (e) { $("sv-dialog-error").textContent = e.message; });
  });
  $("sv-transfer-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var parts = $("sv-transfer-target").value.split(":");
    var body = parts[0] === "queue" ? { queue_id: +parts[1] } : { agent_id: +parts[1] };
    api("POST", "conversations/" + openConversation + "/transfer", body)
      .then(function () { openDialog(openConversation); refreshConversations(true); })
      .catch(function (e) { $("sv-dialog-error").textContent = e.message; });
  });

  /* --- the live socket, with HTTP polling while it is down --- */
  var socket = null, retry = 0, pollTimer = null;

  function setLink(state, text) { var l = $("sv-link"); l.dataset.state = state; l.textContent = text; }

  function poll() {
    api("GET", "snapshot").then(render).catch(function () {});
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + config.ws_path);
    socket.onopen = function () { retry = 0; setLink("open", gettext("Live")); if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } };
    socket.onmessage = function (ev) {
      var frame = JSON.parse(ev.data);
      if (frame.type === "supervisor.snapshot") render(frame);
      else if (frame.type === "error") setLink("error", errorWords(frame.code, frame.detail));
    };
    socket.onclose = function (ev) {
      if (ev.code === 4401 || ev.code === 4403) { setLink("error", gettext("Not allowed")); return; }
      setLink("closed", gettext("Reconnecting…"));
      if (!pollTimer) pollTimer = setInterval(poll, 2000);
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 500 * Math.pow(2, retry));
    };
  }

  /* --- how far behind the reports' replica is (shown only when one is configured) --- */
  function refreshReplica() {
    api("GET", "replica").then(function (r) {
      var line = $("sv-replica");
      if (!line) return;
      line.dataset.state = r.state;
      line.textContent = r.text;
    }).catch(function () {});
  }

  transferOptions();
  poll();
  connect();
  if ($("sv-replica")) setInterval(refreshReplica, 10000);
  window.svDashboard = { last: function () { return last; } };
})();
