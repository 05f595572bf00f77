/*
 * Switchboard agent console. Plain JS, no build step. Talks to /ws/v1/agent/ (session cookie) for live
 * frames and to /api/v1/agent/ for lists, history and the contact record. Everything customers write is
 * put on the page with textContent only. See docs/interface.md.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("console-config").textContent);
  var API = config.api_base; // "/api/v1/agent/"
  var BACKOFF_BASE_MS = 500;
  var BACKOFF_MAX_MS = 20000;
  var ACK_TIMEOUT_MS = 8000;

  function $(id) {
    return document.getElementById(id);
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : config.csrf_token;
  }
  function api(path, options) {
    options = options || {};
    var init = { method: options.method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken();
      init.body = JSON.stringify(options.body);
    }
    return fetch(API + path, init).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          if (!response.ok) {
            var code = typeof data.error === "string" ? data.error : data.error && data.error.code;
            var detail = data.detail || (data.error && data.error.detail);
            var error = new Error(code || detail ? errorWords(code, detail) : "The server answered " + response.status + ".");
            error.status = response.status;
            error.data = data;
            throw error;
          }
          return data;
        });
    });
  }
  function timeLabel(iso) {
    var date = iso ? new Date(iso) : new Date();
    if (isNaN(date.getTime())) return "";
    var now = new Date();
    var sameDay = date.toDateString() === now.toDateString();
    return sameDay
      ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleDateString([], { month: "short", day: "numeric" }) +
          " " +
          date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function waitedLabel(iso) {
    var seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (seconds < 60) return seconds + "s";
    if (seconds < 3600) return Math.floor(seconds / 60) + "m " + (seconds % 60) + "s";
    return Math.floor(seconds / 3600) + "h " + Math.floor((seconds % 3600) / 60) + "m";
  }
  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "a-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }
  function safeUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (err) {
      return null;
    }
  }

  // ---- state ----------------------------------------------------------------------------------
  var state = {
    presence: config.presence || "offline",
    conversations: new Map(), // id -> summary from the API, kept live by frames
    threads: new Map(), // id -> {bySeq: Map, byClientId: Map, lastSeq, loaded, loading}
    offers: new Map(), // offer_id -> {offer, node}
    queue: [],
    currentId: null,
    tab: "mine",
    canned: [],
    pending: new Map(), // client_id -> {conversationId, text, private, attachmentIds, timer}
    staged: new Map(), // conversation id -> [{name, state, progress, attachment, xhr}] not yet sent
  };

  function thread(id) {
    var t = state.threads.get(id);
    if (!t) {
      // lastSeq: the highest seq on screen; upTo: every seq up to it is on screen (the resume point,
      // so a frame lost on the fast path is read again rather than stepped over).
      t = { bySeq: new Map(), byClientId: new Map(), lastSeq: 0, upTo: 0, loaded: false, loading: null };
      state.threads.set(id, t);
    }
    return t;
  }

  // ---- sound and notifications (no file fetched: a two-tone chime built with WebAudio) ----------
  var audio = null;
  function unlockAudio() {
    if (audio || !(window.AudioContext || window.webkitAudioContext)) return;
    audio = new (window.AudioContext || window.webkitAudioContext)();
  }
  function chime(kind) {
    if (!audio) return;
    if (audio.state === "suspended") audio.resume();
    var notes = kind === "offer" ? [880, 1175, 880] : [660, 880];
    var start = audio.currentTime;
    notes.forEach(function (frequency, index) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = frequency;
      var at = start + index * 0.14;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.13);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.15);
    });
  }
  function alertAgent(kind, title, body, conversationId) {
    chime(kind);
    if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
    var note = new Notification(title, { body: body, tag: kind + "-" + conversationId, silent: true });
    note.onclick = function () {
      window.focus();
      if (conversationId && state.conversations.has(conversationId)) openConversation(conversationId);
      note.close();
    };
  }
  var notifyButton = $("con-notify");
  function updateNotifyButton() {
    if (!("Notification" in window)) {
      notifyButton.hidden = true;
      return;
    }
    notifyButton.hidden = Notification.permission !== "default" && !!audio;
    notifyButton.textContent = Notification.permission === "default" ? "Enable alerts" : "Enable sound";
  }
  notifyButton.addEventListener("click", function () {
    unlockAudio();
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().then(updateNotifyButton);
    }
    updateNotifyButton();
  });
  // Browsers allow sound only after a user gesture: the first click or key press unlocks it.
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });

  // ---- socket --------------------------------------------------------------------------------
  var socket = null;
  var attempts = 0;
  var reconnectTimer = null;
  var linkNode = $("con-link");

  function setLink(stateName, text) {
    linkNode.dataset.state = stateName;
    linkNode.textContent = text;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (socket) return;
    var url = new URL(config.ws_path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(url.href);
    socket = ws;
    setLink("connecting", attempts ? "Reconnecting…" : "Connecting…");
    ws.onopen = function () {
      attempts = 0;
      setLink("online", "Connected");
      heartbeat();
    };
    ws.onmessage = function (event) {
      lastFrameAt = Date.now();
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      handleFrame(data);
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      if (event.code === 4401 || event.code === 4403) {
        setLink("offline", "Signed out. Reload the page to log in again.");
        return;
      }
      scheduleReconnect();
    };
  }
  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    var cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, attempts));
    var delay = Math.round(cap / 2 + Math.random() * (cap / 2));
    attempts += 1;
    setLink("offline", "Disconnected. Retrying in " + Math.ceil(delay / 1000) + "s…");
    reconnectTimer = setTimeout(connect, delay);
  }
  function dropSocket() {
    if (!socket) return;
    var ws = socket;
    socket = null;
    try {
      ws.close();
    } catch (err) {
      /* already closing */
    }
    scheduleReconnect();
  }
  var lastFrameAt = 0;
  var heartbeatTimer = null;
  function heartbeat() {
    // A socket whose network vanished can look open for minutes: ping, and drop it when nothing
    // came back, so the reconnect + resume cycle starts.
    clearTimeout(heartbeatTimer);
    heartbeatTimer = setTimeout(function () {
      if (!socket) return;
      if (Date.now() - lastFrameAt > 35000) {
        dropSocket();
        return;
      }
      send({ type: "ping" });
      heartbeat();
    }, 25000);
  }

  function send(payload) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(payload));
    return true;
  }
  window.addEventListener("offline", dropSocket);
  window.addEventListener("online", function () {
    attempts = 0;
    if (!socket) connect();
  });

  function onConnected(data) {
    // After any (re)connect: take the server's list, re-read the queue, and ask for every message
    // missed in each thread already on screen.
    if (data && Array.isArray(data.conversations)) mergeSummaries(data.conversations, true);
    refreshMine();
    refreshQueue();
    state.threads.forEach(function (t, id) {
      if (t.loaded && state.conversations.has(id)) {
        send({ type: "resume", conversation_id: id, after_seq: t.upTo });
        catchUp(id);
      }
    });
    state.pending.forEach(function (item, clientId) {
      transmit(clientId);
    });
  }

  // ---- frames --------------------------------------------------------------------------------
  function conversationIdOf(data) {
    if (data.conversation_id) return Number(data.conversation_id);
    if (data.conversation && typeof data.conversation === "object") return Number(data.conversation.id);
    if (data.conversation) return Number(data.conversation);
    if (data.message && data.message.conversation_id) return Number(data.message.conversation_id);
    return null;
  }

  function handleFrame(data) {
    switch (data.type) {
      case "agent.ready":
        onConnected(data);
        break;
      case "offer":
        addOffer(data);
        break;
      case "offer.closed":
        removeOffer(data.offer_id);
        break;
      case "conversation.assigned":
        onAssigned(data);
        break;
      case "conversation.status":
        onStatus(data);
        break;
      case "conversation.released":
        onReleased(data);
        break;
      case "queue.changed":
        scheduleQueueRefresh();
        break;
      case "message.status":
        onDeliveryStatus(data);
        break;
      case "message.new":
        onMessage(data.message);
        break;
      case "message.ack":
        onAck(data);
        break;
      case "typing":
        onTyping(data);
        break;
      case "read":
        onRead(data);
        break;
      case "presence":
        // "disconnected" is how routing counted this agent while no console was open; the console shows
        // the status the agent chose (it comes back as soon as a console connects).
        if (Number(data.agent_id) === config.user.id && data.status && data.status !== "disconnected") showPresence(data.status);
        break;
      case "ok":
        if (data.command === "conversation.close" || data.command === "conversation.transfer") scheduleMineRefresh();
        break;
      case "error":
        onError(data);
        break;
      default:
        break;
    }
  }

  function mergeSummaries(summaries, complete) {
    var seen = new Set();
    summaries.forEach(function (summary) {
      seen.add(summary.id);
      var known = state.conversations.get(summary.id);
      if (known && isStale(summary.status_version, known.status_version)) {
        // An older picture of the status than the one shown (frames and list fetches race).
        summary = Object.assign({}, summary, { status: known.status, status_version: known.status_version });
      }
      if (known && known.queue && summary.queue === undefined && summary.queue_id !== known.queue.id) {
        // Moved to another queue (a transfer): the old queue's name no longer describes it.
        known.queue = summary.queue_id ? { id: summary.queue_id, name: "" } : null;
      }
      state.conversations.set(summary.id, Object.assign(known || {}, summary));
    });
    if (complete) {
      state.conversations.forEach(function (summary, id) {
        if (!seen.has(id) && summary.status !== "closed") state.conversations.delete(id);
      });
    }
    renderMine();
    if (state.currentId && state.conversations.has(state.currentId)) renderChatHead();
  }

  function onAssigned(data) {
    var id = conversationIdOf(data);
    if (!id) return;
    var agentId = data.agent && data.agent.id;
    if (!agentId && data.conversation && data.conversation.assignee_id) agentId = data.conversation.assignee_id;
    removeOffersFor(id);
    if (agentId && Number(agentId) !== config.user.id) {
      // Someone else took it (or it was transferred away): it leaves my list.
      if (state.conversations.has(id)) {
        state.conversations.delete(id);
        renderMine();
        if (state.currentId === id) showNotice("This conversation is now with " + ((data.agent && data.agent.name) || "another agent") + ".");
      }
      scheduleQueueRefresh();
      return;
    }
    if (data.conversation && typeof data.conversation === "object") mergeSummaries([data.conversation], false);
    refreshMine().then(function () {
      if (state.pickedId === id) showTab("mine");
      if (!state.currentId || state.pickedId === id) openConversation(id);
      state.pickedId = null;
    });
    scheduleQueueRefresh();
  }

  function onDeliveryStatus(data) {
    var t = thread(Number(data.conversation_id));
    var row = t.bySeq.get(data.seq);
    if (!row) return;
    showDelivery(row, data.status, data.error, Number(data.conversation_id), data.retry_at, data.message_id);
  }
  // Only what an agent acts on is shown: a send that is retrying or failed (with the reason, the next
  // attempt and "Retry now"), and the read state. Stored, pending, sent and delivered say nothing: that
  // is every message's normal course (the row's data-delivery keeps the status).
  var DELIVERY_LABELS = { read: "Read" };
  function showDelivery(row, status, error, conversationId, retryAt, messageId) {
    row.dataset.delivery = status;
    var label = row.querySelector(".msg-delivery");
    var text = "";
    if (status === "failed") text = "Not delivered: " + (error || "the platform refused it") + ".";
    else if (status === "retrying") {
      text = "Not sent yet: " + (error || "the platform did not answer") + ".";
      if (retryAt) text += " Next try at " + timeLabel(retryAt) + ".";
    } else text = DELIVERY_LABELS[status] || "";
    if (!text) {
      if (label) label.remove();
    } else {
      if (!label) {
        label = el("div", "msg-delivery");
        row.appendChild(label);
      }
      label.textContent = text;
    }
    messageId = messageId || Number(row.dataset.messageId) || 0;
    var retry = row.querySelector(".msg-retry");
    if ((status === "failed" || status === "retrying") && messageId) {
      if (!retry) {
        retry = el("button", "msg-retry", "Retry now");
        retry.type = "button";
        retry.addEventListener("click", function () {
          retry.disabled = true;
          api("conversations/" + conversationId + "/messages/" + messageId + "/retry", { method: "POST", body: {} })
            // The outcome arrives as message.status frames (pending, then sent, retrying or failed).
            .catch(function (error) {
              retry.disabled = false;
              showNotice("Could not retry: " + error.message, "error");
            });
        });
        row.appendChild(retry);
      }
      retry.disabled = false;
    } else if (retry) {
      retry.remove();
    }
    var offer = row.querySelector(".msg-template-offer");
    // The outbox's 24-hour refusal: the way on is an approved template.
    var windowClosed = status === "failed" && /24-hour/.test(error || "") && /template/i.test(error || "");
    if (windowClosed && !offer) {
      offer = el("button", "msg-template-offer", "Send an approved template…");
      offer.type = "button";
      offer.addEventListener("click", function () {
        if (state.currentId === conversationId) openTemplates();
      });
      row.appendChild(offer);
    } else if (!windowClosed && offer) {
      offer.remove();
    }
  }

  function onRead(data) {
    if (data.by !== "customer") return;
    var t = thread(Number(data.conversation_id));
    t.customerReadUpTo = Math.max(t.customerReadUpTo || 0, data.up_to_seq);
    t.bySeq.forEach(function (row, seq) {
      if (seq <= t.customerReadUpTo && row.classList.contains("from-agent") && !row.classList.contains("private")) {
        row.classList.add("seen");
      }
    });
  }

  function onReleased(data) {
    // Transferred or requeued away from me: it leaves my list; the thread stays readable until I move on.
    var id = conversationIdOf(data);
    if (!id || !state.conversations.has(id)) return;
    state.conversations.delete(id);
    renderMine();
    if (state.currentId === id) {
      showNotice("This conversation left your list (" + (data.status || "moved") + ").");
      $("con-chat-status").textContent = data.status || "moved";
      input.disabled = true;
      $("con-send").disabled = true;
      $("con-transfer-open").disabled = true;
      $("con-close-open").disabled = true;
    }
    scheduleQueueRefresh();
  }

  function onStatus(data) {
    var id = conversationIdOf(data);
    scheduleQueueRefresh();
    if (!id) return;
    var summary = state.conversations.get(id);
    if (!summary) return;
    // Frames published by two server processes may arrive out of order: keep the newest status.
    if (isStale(data.version, summary.status_version)) return;
    if (typeof data.version === "number") summary.status_version = data.version;
    if (data.status !== "assigned" && data.status !== "closed") {
      // Back with the bot, or waiting in a queue again: I no longer hold it, so it leaves my list
      // (as it does from the server's list on the next load).
      state.conversations.delete(id);
      renderMine();
      if (state.currentId === id) showNotice("This conversation left your list (" + data.status + ").");
      return;
    }
    summary.status = data.status;
    renderMine();
    if (state.currentId === id) renderChatHead();
  }

  function isStale(version, shownVersion) {
    return typeof version === "number" && typeof shownVersion === "number" && version < shownVersion;
  }

  function onMessage(message) {
    if (!message) return;
    var id = Number(message.conversation_id);
    var t = thread(id);
    var summary = state.conversations.get(id);
    if (!summary) {
      // A message for a conversation I do not list yet (just assigned): fetch the list.
      scheduleMineRefresh();
      return;
    }
    var before = t.lastSeq;
    var added = addToThread(id, message);
    if (!added) return;
    if (t.loaded && (message.seq > before + 1 || t.upTo < t.lastSeq)) catchUp(id);
    summary.last_message = {
      text: message.text,
      sender_kind: message.sender && message.sender.kind,
      private: message.private,
      created_at: message.created_at,
    };
    summary.last_message_at = message.created_at;
    summary.last_seq = Math.max(summary.last_seq || 0, message.seq);
    var fromCustomer = message.sender && message.sender.kind === "customer";
    if (fromCustomer) {
      var looking = state.currentId === id && !document.hidden;
      if (looking) markRead(id);
      else summary.unread = (summary.unread || 0) + 1;
      if (!looking) alertAgent("message", (summary.contact && summary.contact.name) || "Customer", message.text || "Attachment", id);
    }
    renderMine();
  }

  function onAck(data) {
    var item = state.pending.get(data.client_id);
    if (item) clearTimeout(item.timer);
    state.pending.delete(data.client_id);
    if (data.message) onMessage(data.message);
  }

  function onTyping(data) {
    var id = conversationIdOf(data);
    if (id !== state.currentId) return;
    var node = $("con-typing");
    if (data.active === false) {
      node.hidden = true;
      return;
    }
    var name = (data.sender && data.sender.name) || data.name || "Customer";
    node.textContent = name + " is typing…";
    node.hidden = false;
    clearTimeout(onTyping.timer);
    onTyping.timer = setTimeout(function () {
      node.hidden = true;
    }, 6000);
  }

  // Every error code of docs/protocol.md in words for the agent (a test keeps this list complete).
  // Codes whose server detail names the problem exactly (which field, how long) show that detail.
  var ERROR_WORDS = {
    bad_json: "The server could not read that request. Reload the page and try again.",
    unknown_type: "The server does not know that action. Reload the page to get the current console.",
    invalid: "Something in the request was not accepted.",
    too_long: "The message is too long.",
    empty: "Write a message or attach a file first.",
    rate_limited: "Too many actions at once. Wait a moment and try again.",
    auth_required: "Your session has ended. Log in again.",
    auth_failed: "Your session has ended. Log in again.",
    origin_not_allowed: "This page is not allowed to connect to the server.",
    forbidden: "You are not allowed to do that.",
    not_found: "That conversation no longer exists or is not yours.",
    conversation_closed: "The conversation is closed.",
    illegal_transition: "The conversation cannot do that in its current state.",
    unknown_attachment: "A file could not be attached: it is unknown or not yours.",
    offer_gone: "The offer expired or someone else took the conversation.",
    not_yours: "That offer or conversation belongs to someone else.",
    over_capacity: "You already have as many conversations as you can take.",
    not_waiting: "The conversation is no longer waiting in the queue: someone else may have taken it.",
    unknown_queue: "That queue does not exist.",
    unknown_agent: "That agent does not exist.",
    unknown_work: "The queue has no record of this conversation. Reload the page.",
    bad_request: "The queue refused that request.",
    internal: "The server failed and nothing was changed. Try again.",
    not_retryable: "Nothing to retry: the message was sent, or it does not go to a platform.",
  };
  var DETAIL_SAYS_MORE = { invalid: true, too_long: true, unknown_attachment: true };

  function errorWords(code, detail) {
    if (DETAIL_SAYS_MORE[code] && detail) return detail;
    return ERROR_WORDS[code] || detail || "Something went wrong. Try again.";
  }

  function onError(data) {
    var text = errorWords(data.code, data.detail);
    if (data.client_id && state.pending.has(data.client_id)) {
      var item = state.pending.get(data.client_id);
      clearTimeout(item.timer);
      state.pending.delete(data.client_id);
      var row = thread(item.conversationId).byClientId.get(data.client_id);
      if (row) {
        row.dataset.state = "failed";
        var status = row.querySelector(".msg-state");
        if (status) status.textContent = "Not sent: " + text;
      }
    }
    if (data.command === "resume" || data.command === "read" || data.command === "typing") return;
    if (data.command === "conversation.pick") {
      state.pickedId = null;
      scheduleQueueRefresh();
    }
    if (data.command === "offer.accept" || data.command === "offer.reject") {
      var offerId = oldestAnswered();
      if (offerId) removeOffer(offerId);
    }
    showNotice(text, "error");
  }

  // ---- notices -------------------------------------------------------------------------------
  var noticeTimer = null;
  function showNotice(text, kind) {
    var node = $("con-notice");
    if (!node) {
      node = el("div", "con-notice");
      node.id = "con-notice";
      node.setAttribute("role", "alert");
      document.body.appendChild(node);
    }
    node.textContent = text;
    node.dataset.kind = kind || "info";
    node.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () {
      node.hidden = true;
    }, 5000);
  }

  // ---- presence ------------------------------------------------------------------------------
  function showPresence(status) {
    state.presence = status;
    document.querySelectorAll("[data-presence]").forEach(function (button) {
      var on = button.dataset.presence === status;
      button.setAttribute("aria-checked", on ? "true" : "false");
      button.classList.toggle("on", on);
    });
  }
  function setPresence(status) {
    if (!send({ type: "presence.set", status: status })) {
      showNotice("Not connected: presence not changed.", "error");
      return;
    }
    showPresence(status);
  }
  document.querySelectorAll("[data-presence]").forEach(function (button) {
    button.addEventListener("click", function () {
      setPresence(button.dataset.presence);
    });
  });

  // ---- offers --------------------------------------------------------------------------------
  var offersNode = $("con-offers");
  function addOffer(data) {
    if (!data.offer_id || state.offers.has(data.offer_id)) return;
    var conversation = typeof data.conversation === "object" && data.conversation ? data.conversation : { id: data.conversation };
    var card = el("div", "offer");
    card.dataset.offerId = data.offer_id;
    var head = el("div", "offer-head");
    head.appendChild(el("b", null, (conversation.contact && conversation.contact.name) || "Conversation #" + conversation.id));
    var countdown = el("span", "offer-countdown");
    head.appendChild(countdown);
    card.appendChild(head);
    var meta = [conversation.inbox && conversation.inbox.name, "#" + conversation.id].filter(Boolean).join(" · ");
    if (meta) card.appendChild(el("div", "muted small", meta));
    var preview = conversation.last_message && conversation.last_message.text;
    if (preview) card.appendChild(el("div", "offer-preview", preview));
    var bar = el("div", "offer-bar");
    var fill = el("i");
    bar.appendChild(fill);
    card.appendChild(bar);
    var actions = el("div", "offer-actions");
    var accept = el("button", "primary", "Accept");
    accept.type = "button";
    accept.title = "Alt+A";
    var reject = el("button", null, "Reject");
    reject.type = "button";
    reject.title = "Alt+R";
    accept.addEventListener("click", function () {
      answerOffer(data.offer_id, true);
    });
    reject.addEventListener("click", function () {
      answerOffer(data.offer_id, false);
    });
    actions.appendChild(accept);
    actions.appendChild(reject);
    card.appendChild(actions);
    offersNode.appendChild(card);
    offersNode.hidden = false;

    var expires = data.expires_at ? new Date(data.expires_at).getTime() : Date.now() + 30000;
    var total = Math.max(1000, expires - Date.now());
    var offer = { data: data, conversationId: Number(conversation.id), node: card, timer: null };
    function tick() {
      var left = expires - Date.now();
      if (left <= 0) {
        removeOffer(data.offer_id);
        return;
      }
      countdown.textContent = Math.ceil(left / 1000) + "s";
      fill.style.width = Math.max(0, (left / total) * 100) + "%";
      card.classList.toggle("urgent", left < 8000);
    }
    tick();
    offer.timer = setInterval(tick, 250);
    state.offers.set(data.offer_id, offer);
    alertAgent("offer", "New conversation offered", preview || "A customer is waiting", offer.conversationId);
  }
  function removeOffer(offerId) {
    var offer = state.offers.get(offerId);
    if (!offer) return;
    clearInterval(offer.timer);
    offer.node.remove();
    state.offers.delete(offerId);
    offersNode.hidden = state.offers.size === 0;
  }
  function removeOffersFor(conversationId) {
    state.offers.forEach(function (offer, offerId) {
      if (offer.conversationId === conversationId) removeOffer(offerId);
    });
  }
  function answerOffer(offerId, accept) {
    if (!state.offers.has(offerId)) return;
    if (!send({ type: accept ? "offer.accept" : "offer.reject", offer_id: offerId })) {
      showNotice("Not connected.", "error");
      return;
    }
    var offer = state.offers.get(offerId);
    offer.node.classList.add("answered");
    if (!accept) removeOffer(offerId);
  }
  function oldestAnswered() {
    var found = null;
    state.offers.forEach(function (offer, offerId) {
      if (!found && offer.node.classList.contains("answered")) found = offerId;
    });
    return found;
  }
  function oldestOffer() {
    var first = null;
    state.offers.forEach(function (offer, offerId) {
      if (!first && !offer.node.classList.contains("answered")) first = offerId;
    });
    return first;
  }

  // ---- lists ---------------------------------------------------------------------------------
  var mineNode = $("con-mine");
  var queueNode = $("con-queue");
  var mineRefresh = null;
  var queueRefreshTimer = null;

  function refreshMine() {
    if (mineRefresh) return mineRefresh;
    mineRefresh = api("conversations")
      .then(function (data) {
        mergeSummaries(data.conversations || [], true);
      })
      .catch(function (err) {
        showNotice("Could not load your conversations: " + err.message, "error");
      })
      .finally(function () {
        mineRefresh = null;
      });
    return mineRefresh;
  }
  function scheduleMineRefresh() {
    clearTimeout(scheduleMineRefresh.timer);
    scheduleMineRefresh.timer = setTimeout(refreshMine, 150);
  }
  function refreshQueue() {
    return api("queue")
      .then(function (data) {
        state.queue = data.conversations || [];
        renderQueue();
      })
      .catch(function () {
        /* the queue view shows the last good list */
      });
  }
  function scheduleQueueRefresh() {
    clearTimeout(queueRefreshTimer);
    queueRefreshTimer = setTimeout(refreshQueue, 200);
  }

  function sortedConversations() {
    var list = Array.from(state.conversations.values());
    var order = { assigned: 0, offered: 1, queued: 2, bot: 3, closed: 4 };
    list.sort(function (a, b) {
      var byStatus = (order[a.status] || 0) - (order[b.status] || 0);
      if (byStatus) return byStatus;
      return String(b.last_message_at || "").localeCompare(String(a.last_message_at || "")) || b.id - a.id;
    });
    return list;
  }

  function renderMine() {
    var list = sortedConversations();
    mineNode.textContent = "";
    $("con-mine-count").textContent = String(list.filter((c) => c.status !== "closed").length);
    if (!list.length) {
      mineNode.appendChild(el("li", "con-list-empty muted", "No conversations yet. Set yourself available or pick one from the queue."));
    }
    list.forEach(function (summary) {
      var item = el("li", "con-item");
      item.dataset.conversationId = String(summary.id);
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", summary.id === state.currentId ? "true" : "false");
      item.tabIndex = -1;
      if (summary.id === state.currentId) item.classList.add("current");
      if (summary.unread) item.classList.add("has-unread");
      var top = el("div", "con-item-top");
      top.appendChild(el("span", "con-item-name", (summary.contact && summary.contact.name) || "Conversation #" + summary.id));
      top.appendChild(el("span", "con-item-time muted", timeLabel(summary.last_message_at || summary.created_at)));
      item.appendChild(top);
      var bottom = el("div", "con-item-bottom");
      var last = summary.last_message;
      var preview = last ? (last.private ? "Note: " : last.sender_kind === "agent" ? "You: " : "") + (last.text || "Attachment") : "";
      bottom.appendChild(el("span", "con-item-preview", preview));
      var badges = el("span", "con-item-badges");
      badges.appendChild(el("span", "status-pill small status-" + summary.status, summary.status));
      if (summary.unread) {
        var unread = el("span", "unread", summary.unread > 99 ? "99+" : summary.unread);
        unread.title = summary.unread + " unread";
        badges.appendChild(unread);
      }
      bottom.appendChild(badges);
      item.appendChild(bottom);
      item.addEventListener("click", function () {
        openConversation(summary.id);
      });
      mineNode.appendChild(item);
    });
    var totalUnread = list.reduce(function (sum, c) {
      return sum + (c.unread || 0);
    }, 0);
    document.title = (totalUnread ? "(" + totalUnread + ") " : "") + "Agent console · Switchboard";
  }

  function renderQueue() {
    queueNode.textContent = "";
    $("con-queue-count").textContent = String(state.queue.length);
    if (!state.queue.length) queueNode.appendChild(el("li", "con-list-empty muted", "Nobody is waiting in your queues."));
    state.queue.forEach(function (entry) {
      var item = el("li", "con-item queue-item");
      item.dataset.conversationId = String(entry.id);
      var top = el("div", "con-item-top");
      top.appendChild(el("span", "con-item-name", (entry.contact && entry.contact.name) || "Conversation #" + entry.id));
      var waited = el("span", "con-item-time muted waited");
      waited.dataset.since = entry.waiting_since || "";
      waited.textContent = entry.waiting_since ? waitedLabel(entry.waiting_since) : "";
      top.appendChild(waited);
      item.appendChild(top);
      var bottom = el("div", "con-item-bottom");
      bottom.appendChild(el("span", "con-item-preview", (entry.last_message && entry.last_message.text) || ""));
      var badges = el("span", "con-item-badges");
      if (entry.queue) badges.appendChild(el("span", "chip", entry.queue.name));
      if (entry.position) badges.appendChild(el("span", "chip", "#" + entry.position));
      bottom.appendChild(badges);
      item.appendChild(bottom);
      var pick = el("button", "primary small pick", "Pick");
      pick.type = "button";
      pick.addEventListener("click", function (event) {
        event.stopPropagation();
        pickConversation(entry.id);
      });
      item.appendChild(pick);
      queueNode.appendChild(item);
    });
  }
  setInterval(function () {
    queueNode.querySelectorAll(".waited").forEach(function (node) {
      if (node.dataset.since) node.textContent = waitedLabel(node.dataset.since);
    });
  }, 1000);

  function pickConversation(id) {
    state.pickedId = id;
    if (!send({ type: config.pick_frame, conversation_id: id })) {
      showNotice("Not connected.", "error");
      return;
    }
    var row = queueNode.querySelector('[data-conversation-id="' + id + '"]');
    if (row) row.classList.add("answered");
  }

  function showTab(tab) {
    state.tab = tab;
    document.querySelectorAll("[data-tab]").forEach(function (button) {
      button.setAttribute("aria-selected", button.dataset.tab === tab ? "true" : "false");
    });
    mineNode.hidden = tab !== "mine";
    queueNode.hidden = tab !== "queue";
    if (tab === "queue") refreshQueue();
  }
  document.querySelectorAll("[data-tab]").forEach(function (button) {
    button.addEventListener("click", function () {
      showTab(button.dataset.tab);
    });
  });

  // ---- the chat pane -------------------------------------------------------------------------
  var messagesNode = $("con-messages");
  var input = $("con-input");
  var privateToggle = $("con-private");
  var composer = $("con-composer");

  function openConversation(id) {
    if (!state.conversations.has(id)) return;
    state.currentId = id;
    $("con-placeholder").hidden = true;
    $("con-chat-inner").hidden = false;
    $("con-typing").hidden = true;
    renderChatHead();
    renderMine();
    messagesNode.textContent = "";
    var t = thread(id);
    var rows = Array.from(t.bySeq.keys()).sort(function (a, b) {
      return a - b;
    });
    rows.forEach(function (seq) {
      messagesNode.appendChild(t.bySeq.get(seq));
    });
    t.byClientId.forEach(function (row) {
      if (!row.dataset.seq) messagesNode.appendChild(row);
    });
    scrollToEnd();
    (t.loaded ? catchUp(id) : loadHistory(id)).then(function () {
      if (state.currentId === id) markRead(id);
    });
    loadContact(id);
    showUploadError("");
    renderStaged();
    input.focus();
  }

  function renderChatHead() {
    var summary = state.conversations.get(state.currentId);
    if (!summary) return;
    $("con-chat-name").textContent = (summary.contact && summary.contact.name) || "Conversation #" + summary.id;
    var meta = ["#" + summary.id, summary.inbox && summary.inbox.name, summary.queue && summary.queue.name].filter(Boolean);
    $("con-chat-meta").textContent = meta.join(" · ");
    var pill = $("con-chat-status");
    pill.textContent = summary.status;
    pill.className = "status-pill status-" + summary.status;
    var closed = summary.status === "closed";
    $("con-transfer-open").disabled = closed;
    $("con-close-open").disabled = closed;
    $("con-template-open").hidden = !(summary.inbox && summary.inbox.kind === "whatsapp");
    $("con-template-open").disabled = closed;
    input.disabled = closed;
    $("con-send").disabled = closed;
    input.placeholder = closed ? "This conversation is closed." : privateToggle.checked ? "Internal note, only agents see it…" : "Reply to the customer…";
  }

  function loadHistory(id) {
    var t = thread(id);
    if (t.loading) return t.loading;
    t.loading = fetchAfter(id, 0)
      .then(function () {
        t.loaded = true;
      })
      .catch(function (err) {
        showNotice("Could not load the history: " + err.message, "error");
      })
      .finally(function () {
        t.loading = null;
      });
    return t.loading;
  }

  function fetchAfter(id, afterSeq) {
    return api("conversations/" + id + "/messages?after_seq=" + afterSeq).then(function (data) {
      var last = afterSeq;
      (data.messages || []).forEach(function (message) {
        addToThread(id, message);
        last = Math.max(last, message.seq);
      });
      if (data.has_more && last > afterSeq) return fetchAfter(id, last);
    });
  }

  function catchUp(id) {
    // Reads from MySQL everything after the last seq on screen: fills gaps the fast path dropped.
    var t = thread(id);
    if (t.loading) return t.loading;
    t.loading = fetchAfter(id, t.upTo)
      .catch(function () {
        /* the next reconnect or gap tries again */
      })
      .finally(function () {
        t.loading = null;
      });
    return t.loading;
  }

  // Attachment links are signed and short-lived: a thread kept open past their lifetime asks for fresh
  // ones when an image answers 403 or an expired link is clicked.
  var LINK_MARGIN_MS = 10000;
  function linkExpired(link) {
    var at = Date.parse(link.dataset.expiresAt || "");
    return !isNaN(at) && at - LINK_MARGIN_MS < Date.now();
  }
  function refreshLinks(ids) {
    return api("attachments/links", { method: "POST", body: { attachment_ids: ids.slice(0, 100) } })
      .then(function (data) {
        (data.attachments || []).forEach(function (fresh) {
          var href = safeUrl(fresh.url);
          if (!href) return;
          var selector = 'a.msg-attachment[data-attachment-id="' + Number(fresh.id) + '"]';
          document.querySelectorAll(selector).forEach(function (link) {
            link.href = href;
            if (fresh.expires_at) link.dataset.expiresAt = fresh.expires_at;
            var image = link.querySelector("img");
            if (image) image.src = safeUrl(fresh.thumbnail_url) || href;
          });
        });
      })
      .catch(function () {
        /* offline or logged out: the next error or click asks again */
      });
  }

  function buildRow(message, pending) {
    var kind = (message.sender && message.sender.kind) || "agent";
    var row = el("li", "msg from-" + kind + (message.private ? " private" : ""));
    if (message.seq) row.dataset.seq = String(message.seq);
    if (message.id) row.dataset.messageId = String(message.id);
    if (message.client_id) row.dataset.clientId = message.client_id;
    var head = el("div", "msg-head");
    head.appendChild(el("span", "msg-who", (message.sender && message.sender.name) || kind));
    if (message.private) head.appendChild(el("span", "msg-private", "internal note"));
    head.appendChild(el("span", "msg-time", timeLabel(message.created_at)));
    row.appendChild(head);
    var body = el("div", "msg-body");
    body.appendChild(el("div", "msg-text", message.text || ""));
    (message.attachments || []).forEach(function (attachment) {
      var href = safeUrl(attachment.url);
      if (!href) return;
      var link = el("a", "msg-attachment");
      link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.dataset.attachmentId = String(attachment.id);
      if (attachment.expires_at) link.dataset.expiresAt = attachment.expires_at;
      if (/^image\//.test(attachment.content_type || "")) {
        var image = el("img");
        image.addEventListener("error", function () {
          // An expired link answers 403: ask for a fresh one once.
          if (image.dataset.refreshed) return;
          image.dataset.refreshed = "1";
          refreshLinks([attachment.id]);
        });
        image.src = safeUrl(attachment.thumbnail_url) || href;
        image.alt = attachment.name || "image";
        link.appendChild(image);
      } else {
        link.textContent = "\ud83d\udcce " + (attachment.name || "attachment");
      }
      link.addEventListener("click", function (event) {
        if (!linkExpired(link)) return;
        event.preventDefault();
        refreshLinks([attachment.id]).then(function () {
          window.open(link.href, "_blank", "noopener");
        });
      });
      body.appendChild(link);
    });
    row.appendChild(body);
    if (message.delivery_status && message.sender && message.sender.kind !== "customer") {
      showDelivery(
        row,
        message.delivery_status,
        message.delivery_error,
        Number(message.conversation_id),
        message.delivery_retry_at,
        message.id
      );
    }
    if (pending) {
      row.dataset.state = "sending";
      row.appendChild(el("div", "msg-state", "Sending…"));
    }
    return row;
  }

  function addToThread(id, message) {
    if (!message || typeof message.seq !== "number") return false;
    var t = thread(id);
    if (t.bySeq.has(message.seq)) return false;
    var row = message.client_id ? t.byClientId.get(message.client_id) : null;
    if (row) {
      row.dataset.seq = String(message.seq);
      if (message.id) row.dataset.messageId = String(message.id);
      row.dataset.state = "sent";
      var status = row.querySelector(".msg-state");
      if (status) status.remove();
      row.querySelector(".msg-time").textContent = timeLabel(message.created_at);
    } else {
      row = buildRow(message, false);
    }
    t.bySeq.set(message.seq, row);
    if (message.client_id) t.byClientId.set(message.client_id, row);
    if (message.seq > t.lastSeq) t.lastSeq = message.seq;
    while (t.bySeq.has(t.upTo + 1)) t.upTo += 1;
    if (state.currentId === id) {
      var nearBottom = messagesNode.scrollHeight - messagesNode.scrollTop - messagesNode.clientHeight < 80;
      placeBySeq(row, message.seq);
      if (nearBottom || message.sender.kind === "agent") scrollToEnd();
      if (message.sender && message.sender.kind === "customer") $("con-typing").hidden = true;
    }
    return true;
  }

  function placeBySeq(row, seq) {
    var children = messagesNode.children;
    for (var i = 0; i < children.length; i++) {
      var other = children[i];
      if (other === row) continue;
      if (!other.dataset.seq || Number(other.dataset.seq) > seq) {
        messagesNode.insertBefore(row, other);
        return;
      }
    }
    messagesNode.appendChild(row);
  }

  function scrollToEnd() {
    messagesNode.scrollTop = messagesNode.scrollHeight;
  }

  function markRead(id) {
    var summary = state.conversations.get(id);
    var t = thread(id);
    if (summary) {
      summary.unread = 0;
      renderMine();
    }
    if (t.lastSeq) send({ type: "read", conversation_id: id, up_to_seq: t.lastSeq });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && state.currentId) markRead(state.currentId);
  });

  // ---- composing -----------------------------------------------------------------------------
  var typingActive = false;
  var typingTimer = null;
  function noteTyping() {
    if (!state.currentId || privateToggle.checked) return;
    if (!typingActive) {
      typingActive = true;
      send({ type: "typing", conversation_id: state.currentId, active: true });
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  }
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingActive && state.currentId) send({ type: "typing", conversation_id: state.currentId, active: false });
    typingActive = false;
  }

  function submit() {
    var id = state.currentId;
    var text = input.value.trim();
    if (!id) return;
    var staged = stagedFor(id);
    if (staged.some(function (item) {
      return item.state === "uploading";
    })) {
      showUploadError("Wait for the files to finish uploading.");
      return;
    }
    var ready = staged.filter(function (item) {
      return item.state === "ready";
    });
    if (!text && !ready.length) return;
    var attachments = ready.map(function (item) {
      return item.attachment;
    });
    var clientId = newClientId();
    var isPrivate = privateToggle.checked;
    state.pending.set(clientId, {
      conversationId: id,
      text: text,
      private: isPrivate,
      attachmentIds: attachments.map(function (a) {
        return a.id;
      }),
      timer: null,
    });
    var row = buildRow(
      {
        client_id: clientId,
        text: text,
        private: isPrivate,
        attachments: attachments,
        sender: { kind: "agent", name: config.user.name },
        created_at: new Date().toISOString(),
      },
      true,
    );
    thread(id).byClientId.set(clientId, row);
    messagesNode.appendChild(row);
    scrollToEnd();
    input.value = "";
    state.staged.set(id, []);
    renderStaged();
    stopTyping();
    closePicker();
    transmit(clientId);
  }

  function transmit(clientId) {
    var item = state.pending.get(clientId);
    if (!item) return;
    var frame = { type: "message.send", conversation_id: item.conversationId, client_id: clientId, text: item.text, private: item.private };
    if (item.attachmentIds && item.attachmentIds.length) frame.attachment_ids = item.attachmentIds;
    var sent = send(frame);
    if (!sent) return; // resent with the same client_id once the socket is back
    clearTimeout(item.timer);
    item.timer = setTimeout(function () {
      if (state.pending.has(clientId)) dropSocket();
    }, ACK_TIMEOUT_MS);
  }

  // ---- attachments ---------------------------------------------------------------------------
  // Each file is uploaded as soon as it is picked (POST uploads?conversation_id=N), staged as a chip,
  // and sent by id with the next message.send. Uploads belong to the conversation they were made in.
  var stagedNode = $("con-staged");
  var fileInput = $("con-file");
  var uploadErrorNode = $("con-upload-error");

  function stagedFor(id) {
    if (!state.staged.has(id)) state.staged.set(id, []);
    return state.staged.get(id);
  }

  function showUploadError(text) {
    uploadErrorNode.textContent = text || "";
    uploadErrorNode.hidden = !text;
  }

  function sizeLabel(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function renderStaged() {
    var items = state.currentId ? stagedFor(state.currentId) : [];
    stagedNode.textContent = "";
    stagedNode.hidden = items.length === 0;
    items.forEach(function (item) {
      var chip = el("li", "con-chip");
      chip.dataset.state = item.state;
      var attachment = item.attachment;
      var thumb = attachment && safeUrl(attachment.thumbnail_url || (/^image\//.test(attachment.content_type || "") ? attachment.url : ""));
      if (thumb) {
        var image = el("img");
        image.src = thumb;
        image.alt = item.name;
        chip.appendChild(image);
      }
      // Once stored, the name the server kept (it makes unsafe names safe) is the one the customer sees.
      chip.appendChild(el("span", "con-chip-name", attachment ? attachment.name : item.name));
      if (item.state === "uploading") {
        var progress = el("progress", "con-chip-progress");
        progress.max = 100;
        progress.value = item.progress;
        progress.setAttribute("aria-label", "Uploading " + item.name);
        chip.appendChild(progress);
      } else if (item.state === "ready") {
        chip.appendChild(el("span", "muted small", sizeLabel(attachment.size || 0)));
      } else {
        chip.appendChild(el("span", "error small", "failed"));
      }
      var remove = el("button", "con-chip-remove", "\u00d7");
      remove.type = "button";
      remove.title = "Remove " + item.name;
      remove.setAttribute("aria-label", "Remove " + item.name);
      remove.addEventListener("click", function () {
        if (item.xhr && item.state === "uploading") item.xhr.abort();
        var list = stagedFor(item.conversationId);
        var index = list.indexOf(item);
        if (index >= 0) list.splice(index, 1);
        renderStaged();
      });
      chip.appendChild(remove);
      stagedNode.appendChild(chip);
    });
  }

  function uploadError(xhr) {
    var data = null;
    try {
      data = JSON.parse(xhr.responseText);
    } catch (err) {
      data = null;
    }
    if (data && data.detail) return data.detail;
    if (xhr.status === 413) return "The file is too large.";
    if (xhr.status === 403) return "Refused: reload the page and log in again.";
    if (xhr.status === 0) return "The upload was interrupted. Check the connection and try again.";
    return "Upload failed (HTTP " + xhr.status + ").";
  }

  function uploadFile(file) {
    var id = state.currentId;
    if (!id) return;
    var item = { conversationId: id, name: file.name || "file", state: "uploading", progress: 0, attachment: null, xhr: null };
    stagedFor(id).push(item);
    var xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", API + "uploads?conversation_id=" + encodeURIComponent(id));
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      item.progress = Math.round((event.loaded / event.total) * 100);
      var bar = item.state === "uploading" && state.currentId === id ? findProgress(item) : null;
      if (bar) bar.value = item.progress;
    });
    xhr.addEventListener("load", function () {
      item.xhr = null;
      if (xhr.status === 201) {
        try {
          item.attachment = JSON.parse(xhr.responseText);
          item.state = "ready";
        } catch (err) {
          item.state = "failed";
        }
      } else {
        item.state = "failed";
        var list = stagedFor(id);
        list.splice(list.indexOf(item), 1);
        showUploadError(item.name + ": " + uploadError(xhr));
      }
      renderStaged();
    });
    xhr.addEventListener("error", function () {
      item.xhr = null;
      var list = stagedFor(id);
      if (list.indexOf(item) >= 0) list.splice(list.indexOf(item), 1);
      showUploadError(item.name + ": " + uploadError(xhr));
      renderStaged();
    });
    var form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
    renderStaged();
  }

  function findProgress(item) {
    var items = stagedFor(item.conversationId);
    var chip = stagedNode.children[items.indexOf(item)];
    return chip ? chip.querySelector("progress") : null;
  }

  function uploadFiles(files) {
    if (!state.currentId || !files) return;
    showUploadError("");
    Array.from(files).forEach(uploadFile);
  }

  $("con-attach").addEventListener("click", function () {
    fileInput.click();
  });
  fileInput.addEventListener("change", function () {
    uploadFiles(fileInput.files);
    fileInput.value = "";
  });
  var dragDepth = 0;
  function hasFiles(event) {
    return event.dataTransfer && Array.from(event.dataTransfer.types || []).indexOf("Files") >= 0;
  }
  composer.addEventListener("dragenter", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    composer.classList.add("dragging");
    $("con-drop-hint").hidden = false;
  });
  composer.addEventListener("dragover", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  function endDrag() {
    dragDepth = 0;
    composer.classList.remove("dragging");
    $("con-drop-hint").hidden = true;
  }
  composer.addEventListener("dragleave", function () {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) endDrag();
  });
  composer.addEventListener("drop", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    endDrag();
    uploadFiles(event.dataTransfer.files);
  });

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  privateToggle.addEventListener("change", function () {
    composer.dataset.private = privateToggle.checked ? "true" : "false";
    if (privateToggle.checked) stopTyping();
    renderChatHead();
  });

  // ---- canned responses picker -----------------------------------------------------------------
  var picker = $("con-picker");
  var pickerIndex = 0;
  var pickerItems = [];

  function loadCanned() {
    return api("canned")
      .then(function (data) {
        state.canned = data.canned_responses || [];
      })
      .catch(function () {
        state.canned = [];
      });
  }
  function pickerQuery() {
    var match = input.value.match(/^\/(\S*)$/);
    return match ? match[1].toLowerCase() : null;
  }
  function updatePicker() {
    var query = pickerQuery();
    if (query === null) {
      closePicker();
      return;
    }
    pickerItems = state.canned.filter(function (item) {
      return (
        !query ||
        String(item.shortcut || "").toLowerCase().indexOf(query) !== -1 ||
        String(item.title || "").toLowerCase().indexOf(query) !== -1
      );
    });
    pickerIndex = Math.min(pickerIndex, Math.max(0, pickerItems.length - 1));
    picker.textContent = "";
    if (!pickerItems.length) picker.appendChild(el("div", "picker-empty muted", "No canned response matches /" + query));
    pickerItems.forEach(function (item, index) {
      var option = el("div", "picker-item" + (index === pickerIndex ? " active" : ""));
      option.setAttribute("role", "option");
      option.appendChild(el("span", "picker-shortcut", "/" + item.shortcut));
      option.appendChild(el("span", "picker-title", item.title || ""));
      option.appendChild(el("span", "picker-text muted", item.text));
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();
        applyCanned(index);
      });
      picker.appendChild(option);
    });
    picker.hidden = false;
  }
  function closePicker() {
    picker.hidden = true;
    pickerIndex = 0;
  }
  function applyCanned(index) {
    var item = pickerItems[index];
    if (!item) return;
    var summary = state.conversations.get(state.currentId);
    var customer = (summary && summary.contact && summary.contact.name) || "";
    input.value = item.text.replace(/\{\{\s*contact\.name\s*\}\}/g, customer).replace(/\{\{\s*agent\.name\s*\}\}/g, config.user.name);
    closePicker();
    input.focus();
  }

  input.addEventListener("input", function () {
    updatePicker();
    if (input.value.trim() && pickerQuery() === null) noteTyping();
  });
  input.addEventListener("blur", stopTyping);
  input.addEventListener("keydown", function (event) {
    if (!picker.hidden) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var step = event.key === "ArrowDown" ? 1 : -1;
        pickerIndex = (pickerIndex + step + pickerItems.length) % Math.max(1, pickerItems.length);
        updatePicker();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        applyCanned(pickerIndex);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closePicker();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });

  // ---- transfer and close --------------------------------------------------------------------
  var transferDialog = $("con-transfer");
  var closeDialog = $("con-close");
  var targetsLoaded = false;

  function fillSelect(select, items) {
    select.textContent = "";
    select.appendChild(el("option", null, "—")).value = "";
    items.forEach(function (item) {
      var option = el("option", null, item.name + (item.detail ? " · " + item.detail : ""));
      option.value = String(item.id);
      select.appendChild(option);
    });
  }
  function openTransfer() {
    if (!state.currentId) return;
    $("con-transfer-error").textContent = "";
    var load = targetsLoaded
      ? Promise.resolve()
      : api("transfer-targets").then(function (data) {
          fillSelect($("con-transfer-queue"), data.queues || []);
          fillSelect($("con-transfer-agent"), data.agents || []);
          targetsLoaded = true;
        });
    load.then(
      function () {
        $("con-transfer-queue").value = "";
        $("con-transfer-agent").value = "";
        transferDialog.showModal();
      },
      function (err) {
        showNotice("Could not load transfer targets: " + err.message, "error");
      },
    );
  }
  transferDialog.addEventListener("close", function () {
    if (transferDialog.returnValue !== "ok") return;
    var queueId = $("con-transfer-queue").value;
    var agentId = $("con-transfer-agent").value;
    if (!queueId && !agentId) {
      showNotice("Choose a queue or an agent to transfer to.", "error");
      return;
    }
    var frame = { type: "conversation.transfer", conversation_id: state.currentId };
    if (agentId) frame.agent_id = Number(agentId);
    else frame.queue_id = Number(queueId);
    if (!send(frame)) showNotice("Not connected.", "error");
    else showNotice("Transfer requested.");
  });
  function openClose() {
    if (!state.currentId) return;
    $("con-close-note").value = "";
    closeDialog.showModal();
  }
  closeDialog.addEventListener("close", function () {
    if (closeDialog.returnValue !== "ok") return;
    var note = $("con-close-note").value.trim();
    var frame = { type: "conversation.close", conversation_id: state.currentId };
    if (note) frame.wrap_up = note;
    if (!send(frame)) showNotice("Not connected.", "error");
  });
  // ---- approved templates (WhatsApp's 24-hour window) ----------------------------------------
  var templateDialog = $("con-template");
  var templateSelect = $("con-template-name");
  var templateParams = $("con-template-params");
  var templateState = { conversationId: null, templates: [], clientId: null };

  function chosenTemplate() {
    return templateState.templates[Number(templateSelect.value)] || null;
  }
  function paramValues() {
    return Array.from(templateParams.querySelectorAll("input")).map(function (input) {
      return input.value.trim();
    });
  }
  function fillPreview(text, values) {
    // Plain replacement of {{n}}, in one pass; shown with textContent, so nothing is interpreted.
    return String(text || "").replace(/\{\{(\d+)\}\}/g, function (whole, number) {
      var value = values[Number(number) - 1];
      return value ? value : whole;
    });
  }
  function renderTemplatePreview() {
    var template = chosenTemplate();
    $("con-template-preview").textContent = template ? fillPreview(template.text, paramValues()) || "(no preview text)" : "";
  }
  function renderTemplateParams() {
    templateParams.textContent = "";
    var template = chosenTemplate();
    for (var i = 1; template && i <= template.params; i++) {
      var label = el("label", null, "{{" + i + "}} ");
      var input = el("input");
      input.type = "text";
      input.maxLength = 1024;
      input.required = true;
      input.addEventListener("input", renderTemplatePreview);
      label.appendChild(input);
      templateParams.appendChild(label);
    }
    templateState.clientId = newClientId();
    renderTemplatePreview();
  }
  templateSelect.addEventListener("change", renderTemplateParams);

  function openTemplates() {
    var id = state.currentId;
    if (!id) return;
    $("con-template-error").textContent = "";
    api("conversations/" + id + "/templates").then(
      function (data) {
        if (state.currentId !== id) return;
        templateState.conversationId = id;
        templateState.templates = data.templates || [];
        templateSelect.textContent = "";
        templateState.templates.forEach(function (template, index) {
          var option = el("option", null, template.name + " (" + template.language + ")");
          option.value = String(index);
          templateSelect.appendChild(option);
        });
        var none = templateState.templates.length === 0;
        $("con-template-empty").hidden = !none;
        templateSelect.disabled = none;
        $("con-template-send").disabled = none;
        renderTemplateParams();
        templateDialog.showModal();
      },
      function (err) {
        showNotice("Could not load the templates: " + err.message, "error");
      },
    );
  }
  $("con-template-form").addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (submitter && submitter.value === "cancel") return;
    event.preventDefault();
    var template = chosenTemplate();
    if (!template) return;
    var values = paramValues();
    if (values.some(function (v) { return !v; })) {
      $("con-template-error").textContent = "Fill in every parameter.";
      return;
    }
    var sendButton = $("con-template-send");
    sendButton.disabled = true;
    var conversationId = templateState.conversationId;
    api("conversations/" + conversationId + "/template", {
      method: "POST",
      body: { name: template.name, language: template.language, params: values, client_id: templateState.clientId },
    })
      .then(function (data) {
        if (data.message) addToThread(conversationId, data.message);
        templateDialog.close("sent");
        showNotice("Template sent.");
      })
      .catch(function (err) {
        $("con-template-error").textContent = err.message;
      })
      .finally(function () {
        sendButton.disabled = false;
      });
  });
  $("con-template-open").addEventListener("click", openTemplates);

  $("con-transfer-open").addEventListener("click", openTransfer);
  $("con-close-open").addEventListener("click", openClose);

  // ---- contact record ------------------------------------------------------------------------
  var contactForm = $("con-contact-form");
  var noteForm = $("con-note-form");
  var contactConversationId = null;

  function loadContact(id) {
    contactConversationId = id;
    return api("conversations/" + id + "/contact").then(
      function (data) {
        if (contactConversationId !== id) return;
        renderContact(data.contact || data);
      },
      function (err) {
        $("con-contact-body").hidden = true;
        $("con-contact-empty").hidden = false;
        $("con-contact-empty").textContent = "Could not load the record: " + err.message;
      },
    );
  }
  function renderContact(contact) {
    $("con-contact-empty").hidden = true;
    $("con-contact-body").hidden = false;
    $("con-contact-name").textContent = contact.display_name || contact.name || "Contact #" + contact.id;
    var link = $("con-contact-link");
    var href = safeUrl(contact.url || "");
    link.hidden = !href;
    if (href) link.href = href;
    var tags = $("con-contact-tags");
    tags.textContent = "";
    (contact.tags || []).forEach(function (tag) {
      var chip = el("span", "tag", tag.name);
      if (/^#[0-9a-fA-F]{6}$/.test(tag.color || "")) chip.style.setProperty("--tag", tag.color);
      tags.appendChild(chip);
    });
    contactForm.elements.name.value = contact.name || "";
    contactForm.elements.emails.value = (contact.emails || []).join(", ");
    contactForm.elements.phones.value = (contact.phones || []).join(", ");
    contactForm.elements.language.value = contact.language || "";
    contactForm.elements.timezone.value = contact.timezone || "";
    var editable = contact.can_edit !== false;
    Array.from(contactForm.elements).forEach(function (field) {
      field.disabled = !editable;
    });
    $("con-contact-saved").textContent = "";

    var identities = $("con-contact-identities");
    identities.textContent = "";
    (contact.identities || []).forEach(function (identity) {
      var item = el("li");
      item.appendChild(el("span", "chip", identity.kind_label || identity.kind));
      item.appendChild(document.createTextNode(" " + identity.external_id));
      if (identity.display_name) item.appendChild(el("span", "muted", " (" + identity.display_name + ")"));
      identities.appendChild(item);
    });
    if (!identities.children.length) identities.appendChild(el("li", "muted", "No channel identities."));

    var notes = $("con-contact-notes");
    notes.textContent = "";
    (contact.notes || []).forEach(function (note) {
      var item = el("li");
      item.appendChild(el("div", "note-body", note.body));
      item.appendChild(el("div", "muted small", (note.author || "system") + " · " + timeLabel(note.created_at)));
      notes.appendChild(item);
    });
    if (!notes.children.length) notes.appendChild(el("li", "muted", "No notes yet."));

    var history = $("con-contact-history");
    history.textContent = "";
    (contact.conversations || []).forEach(function (conversation) {
      var item = el("li");
      var line = el("div", "history-line");
      line.appendChild(el("b", null, "#" + conversation.id));
      line.appendChild(el("span", "status-pill small status-" + conversation.status, conversation.status));
      line.appendChild(el("span", "muted small", [conversation.channel, timeLabel(conversation.created_at)].filter(Boolean).join(" · ")));
      item.appendChild(line);
      if (conversation.last_message && conversation.last_message.text) item.appendChild(el("div", "muted small clip", conversation.last_message.text));
      if (conversation.id === state.currentId) item.classList.add("current");
      history.appendChild(item);
    });
    if (!history.children.length) history.appendChild(el("li", "muted", "No other conversations."));
  }
  function splitList(value) {
    return value
      .split(",")
      .map(function (part) {
        return part.trim();
      })
      .filter(Boolean);
  }
  contactForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var id = contactConversationId;
    var saved = $("con-contact-saved");
    saved.textContent = "Saving…";
    saved.className = "small";
    api("conversations/" + id + "/contact", {
      method: "POST",
      body: {
        name: contactForm.elements.name.value.trim(),
        emails: splitList(contactForm.elements.emails.value),
        phones: splitList(contactForm.elements.phones.value),
        language: contactForm.elements.language.value.trim(),
        timezone: contactForm.elements.timezone.value.trim(),
      },
    }).then(
      function (data) {
        renderContact(data.contact || data);
        saved.textContent = "Saved";
        saved.className = "small ok";
        var summary = state.conversations.get(id);
        if (summary && summary.contact) {
          summary.contact.name = (data.contact || data).display_name;
          renderMine();
          if (state.currentId === id) renderChatHead();
        }
      },
      function (err) {
        var errors = err.data && err.data.errors;
        saved.textContent = errors ? Object.keys(errors).map((k) => k + ": " + errors[k].join(" ")).join("; ") : err.message;
        saved.className = "small error";
      },
    );
  });
  noteForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = noteForm.elements.body.value.trim();
    if (!body) return;
    var id = contactConversationId;
    api("conversations/" + id + "/contact/notes", { method: "POST", body: { body: body } }).then(
      function (data) {
        noteForm.elements.body.value = "";
        renderContact(data.contact || data);
      },
      function (err) {
        showNotice("Note not saved: " + err.message, "error");
      },
    );
  });

  // ---- keyboard ------------------------------------------------------------------------------
  var helpDialog = $("con-help");
  $("con-help-open").addEventListener("click", function () {
    helpDialog.showModal();
  });

  function moveConversation(step) {
    var list = sortedConversations();
    if (!list.length) return;
    var index = list.findIndex(function (c) {
      return c.id === state.currentId;
    });
    var next = index === -1 ? 0 : (index + step + list.length) % list.length;
    showTab("mine");
    openConversation(list[next].id);
  }
  function typingInField(event) {
    var target = event.target;
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey && !event.ctrlKey && !event.metaKey) {
      // event.code, not event.key: Alt+letter types a special character on some layouts.
      var actions = {
        KeyA: function () {
          var offerId = oldestOffer();
          if (offerId) answerOffer(offerId, true);
        },
        KeyR: function () {
          var offerId = oldestOffer();
          if (offerId) answerOffer(offerId, false);
        },
        KeyJ: function () {
          moveConversation(1);
        },
        KeyK: function () {
          moveConversation(-1);
        },
        KeyM: function () {
          showTab("mine");
        },
        KeyQ: function () {
          showTab("queue");
        },
        KeyP: function () {
          if (state.queue.length) pickConversation(state.queue[0].id);
        },
        KeyN: function () {
          privateToggle.checked = !privateToggle.checked;
          privateToggle.dispatchEvent(new Event("change"));
          input.focus();
        },
        KeyT: openTransfer,
        KeyW: openClose,
        Digit1: function () {
          setPresence("available");
        },
        Digit2: function () {
          setPresence("away");
        },
        Digit3: function () {
          setPresence("offline");
        },
      };
      var action = actions[event.code];
      if (action) {
        event.preventDefault();
        action();
      }
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target === input) {
      event.preventDefault();
      submit();
      return;
    }
    if (event.key === "?" && !typingInField(event) && !helpDialog.open) {
      event.preventDefault();
      helpDialog.showModal();
    }
  });

  // ---- start ---------------------------------------------------------------------------------
  showPresence(state.presence);
  updateNotifyButton();
  renderMine();
  renderQueue();
  loadCanned();
  connect();

  window.SwitchboardConsole = {
    seqs: function (id) {
      return Array.from(thread(id).bySeq.keys()).sort(function (a, b) {
        return a - b;
      });
    },
    open: openConversation,
  };
})();
