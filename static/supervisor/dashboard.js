/* The live supervisor dashboard: snapshots from /ws/v1/supervisor/live/ (HTTP polling while the socket is
   down), actions through the JSON endpoints. Everything customers or agents wrote goes in with
   textContent, never innerHTML. */
(function () {
  "use strict";
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
    bad_json: "The server could not read that request. Reload the page and try again.",
    unknown_type: "The server does not know that action. Reload the page.",
    invalid: "Something in the request was not accepted.",
    too_long: "The text is too long.",
    empty: "Write something first.",
    rate_limited: "Too many actions at once. Wait a moment and try again.",
    auth_required: "Your session has ended. Log in again.",
    auth_failed: "Your session has ended. Log in again.",
    origin_not_allowed: "This page is not allowed to connect to the server.",
    forbidden: "You are not allowed to do that.",
    not_found: "That conversation is not in your queues (any more).",
    conversation_closed: "The conversation is closed.",
    illegal_transition: "The conversation cannot do that in its current state.",
    unknown_attachment: "A file could not be attached.",
    too_large: "The request is larger than the limit.",
    offer_gone: "The offer expired or someone else took the conversation.",
    not_yours: "That belongs to someone else.",
    over_capacity: "That agent already has as many conversations as they can take.",
    not_waiting: "The conversation is no longer waiting in the queue.",
    unknown_queue: "That queue does not exist.",
    unknown_agent: "That agent does not exist.",
    unknown_work: "The queue has no record of this conversation. Reload the page.",
    bad_request: "The queue refused that request.",
    not_retryable: "Nothing to retry: the message was already sent, or it does not go to a platform.",
    internal: "The server failed and nothing was changed. Try again.",
    not_retryable: "Nothing to retry: the message was sent, or it does not go to a platform.",
    no_identity: "This contact has no address on that inbox's channel.",
    template_required: "The customer has not written in the last 24 hours: start with an approved template.",
    conversation_open: "This contact already has an open conversation in that inbox.",
    method_not_allowed: "That action is not possible here.",
    not_acceptable: "The server could not answer in a form this page reads.",
    unsupported_media_type: "The page sent a request the server does not read. Reload the page.",
  };
  var DETAIL_SAYS_MORE = { invalid: true, too_long: true };

  function errorWords(code, detail) {
    if (DETAIL_SAYS_MORE[code] && detail) return detail;
    return ERROR_WORDS[code] || detail || "Something went wrong. Try again.";
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
        if (!r.ok) throw new Error(refusal.code || refusal.detail ? errorWords(refusal.code, refusal.detail) : "The server answered " + r.status + ".");
        return data;
      });
    });
  }

  function duration(s) {
    if (s === null || s === undefined) return "–";
    s = Math.round(s);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " m " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " m";
  }
  function pct(v) { return v === null || v === undefined ? "–" : Math.round(v * 1000) / 10 + "%"; }

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
      cell(tr, q.waiting, "waiting");
      cell(tr, duration(q.longest_wait_s), "longest_wait", alertLevel(q, "longest_wait"));
      cell(tr, duration(q.recent.average_wait_s), "average_wait_recent");
      cell(tr, duration(q.today.average_wait_s), "average_wait_today");
      cell(tr, pct(q.recent.service_level), "service_level_recent", alertLevel(q, "service_level"));
      cell(tr, pct(q.today.service_level), "service_level_today");
      cell(tr, q.recent.abandoned, "abandoned_recent");
      cell(tr, q.today.abandoned, "abandoned_today");
      cell(tr, q.active, "active");
      cell(tr, q.agents.available + " / " + q.agents.busy + " / " + q.agents.away + " / " + q.agents.offline + " / " + (q.agents.disconnected || 0), "agents");
      cell(tr, pct(q.occupancy), "occupancy");
      body.appendChild(tr);
    });
  }

  function renderBot(bot) {
    bot = bot || { total: 0, inboxes: [] };
    $("sv-bot-total").textContent = bot.total;
    var body = $("sv-bot").querySelector("tbody");
    body.textContent = "";
    bot.inboxes.forEach(function (i) {
      var tr = document.createElement("tr");
      tr.dataset.inbox = i.inbox_id;
      cell(tr, i.name, "name");
      cell(tr, i.count, "bot");
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
      var what = a.metric === "longest_wait"
        ? "longest wait " + duration(a.value) + " (" + a.level + " at " + duration(a.threshold) + ")"
        : "service level " + a.value + "% (" + a.level + " at " + a.threshold + "%)";
      p.textContent = a.queue + ": " + what;
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
      select.setAttribute("aria-label", "Status of " + a.name);
      ["available", "away", "offline"].forEach(function (s) {
        var o = document.createElement("option");
        o.value = s; o.textContent = s; o.selected = a.status === s;
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
      state.textContent = a.state;
      td.appendChild(state);
      cell(tr, a.load + " / " + a.capacity, "load");
      cell(tr, pct(a.occupancy), "occupancy");
      cell(tr, a.offers_missed_today, "offers_missed");
      cell(tr, a.handled_today, "handled_today");
      cell(tr, duration(a.average_handle_s), "average_handle");
      cell(tr, (perAgent[a.agent_id] || { per_hour: 0 }).per_hour, "assignments_per_hour");
      body.appendChild(tr);
    });
  }

  function spreadText(s, format) {
    if (s.mean === null) return "No data yet.";
    return "max " + format(s.max) + " · min " + format(s.min) + " · range " + format(s.range) + " · CV " + s.cv;
  }

  function renderFairness(agents, fairness) {
    $("sv-occ-spread").textContent = spreadText(fairness.occupancy, pct);
    var available = agents.filter(function (a) { return a.state === "available" || a.state === "busy"; });
    window.SvCharts.bars($("sv-occ-chart"), {
      labels: available.map(function (a) { return a.name; }),
      series: [{ name: "occupancy %", values: available.map(function (a) { return a.occupancy === null ? null : a.occupancy * 100; }) }],
      max: 100
    });
    var asg = fairness.assignments;
    $("sv-asg-spread").textContent = "per hour: " + spreadText(asg.per_hour_spread, function (v) { return v; });
    var hours = asg.hours.slice(-12);
    window.SvCharts.bars($("sv-asg-chart"), {
      labels: hours.map(function (h) { return h.slice(11, 16); }),
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
      cell(tr, c.status);
      cell(tr, c.assignee || "–");
      // The customer's wait (docs/supervisor.md): counting while waiting, the total once an agent has it.
      cell(tr, duration(c.wait_s), "wait");
      var td = cell(tr, "");
      var open = document.createElement("button");
      open.type = "button"; open.textContent = "Open";
      open.addEventListener("click", function () { openDialog(c.id); });
      td.appendChild(open);
      var transcript = document.createElement("a");
      transcript.href = "/supervisor/conversations/" + c.id + "/";
      transcript.textContent = "Transcript";
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
    $("sv-at").textContent = "as of " + new Date(snapshot.at).toLocaleTimeString();
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
      var o = document.createElement("option"); o.value = "queue:" + q.id; o.textContent = "Queue " + q.name; select.appendChild(o);
    });
    config.agents.forEach(function (a) {
      var o = document.createElement("option"); o.value = "agent:" + a.id; o.textContent = "Agent " + a.name; select.appendChild(o);
    });
  }

  function openDialog(id) {
    openConversation = id;
    $("sv-dialog-error").textContent = "";
    api("GET", "conversations/" + id).then(function (d) {
      var c = d.conversation;
      $("sv-dialog-title").textContent = "Conversation #" + c.id;
      $("sv-dialog-meta").textContent = [c.contact.name, c.inbox, c.queue || "no queue", c.status, c.assignee || "unassigned"].join(" · ");
      var list = $("sv-messages");
      list.textContent = "";
      d.messages.forEach(function (m) {
        var li = document.createElement("li");
        li.className = "sv-msg sv-msg-" + m.sender.kind + (m.private ? " sv-msg-private" : "");
        var head = document.createElement("span");
        head.className = "sv-msg-head";
        head.textContent = m.sender.name + (m.private ? " · internal note" : "") + " · " + new Date(m.created_at).toLocaleTimeString();
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
    socket.onopen = function () { retry = 0; setLink("open", "Live"); if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } };
    socket.onmessage = function (ev) {
      var frame = JSON.parse(ev.data);
      if (frame.type === "supervisor.snapshot") render(frame);
      else if (frame.type === "error") setLink("error", errorWords(frame.code, frame.detail));
    };
    socket.onclose = function (ev) {
      if (ev.code === 4401 || ev.code === 4403) { setLink("error", "Not allowed"); return; }
      setLink("closed", "Reconnecting…");
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
