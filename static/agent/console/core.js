/*
 * The agent console: the shared parts: the page config, DOM helpers, the JSON API, the state of the page,
 * notices, sound and notifications.
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var P = C.protocol;
  // The page's catalog (/jsi18n/) and formats (static/shared/format.js), loaded before the console.
  var gettext = window.gettext, interpolate = window.interpolate, pgettext = window.pgettext;
  var F = window.SwitchboardFormat;

  var config = JSON.parse(document.getElementById("console-config").textContent);
  var API = config.api_base; // "/api/v1/agent/"

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
            // Every HTTP API answers a refusal {"error": {"code", "detail", ...}}.
            var refusal = (data && data.error) || {};
            var code = refusal.code;
            var detail = refusal.detail;
            var error = new Error(code || detail ? C.errorWords(code, detail) : interpolate(gettext("The server answered %s."), [response.status]));
            error.status = response.status;
            error.data = data;
            throw error;
          }
          return data;
        });
    });
  }
  // Today's messages show the time, older ones the date too, in the page's language and the viewer's zone.
  function timeLabel(iso) {
    return F.when(iso);
  }
  function waitedLabel(iso) {
    return F.duration(Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000)));
  }
  // A conversation's status in words (the status itself stays in data attributes and class names).
  var STATUS_WORDS = {
    bot: pgettext("conversation status", "bot"),
    queued: pgettext("conversation status", "queued"),
    offered: pgettext("conversation status", "offered"),
    assigned: pgettext("conversation status", "assigned"),
    closed: pgettext("conversation status", "closed"),
    moved: pgettext("conversation status", "moved"),
  };
  function statusLabel(status) {
    return STATUS_WORDS[status] || status || "";
  }
  // "Conversation #12": what a conversation is called while its contact has no name.
  function conversationName(summary) {
    return (summary.contact && summary.contact.name) || interpolate(gettext("Conversation #%s"), [summary.id]);
  }
  function newClientId() {
    return P.newClientId("a");
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
    threads: new Map(), // id -> {bySeq: Map, byClientId: Map, lastSeq, seqs, loaded, loading}
    offers: new Map(), // offer_id -> {offer, node}
    queue: [],
    currentId: null,
    tab: "mine",
    canned: [],
    staged: new Map(), // conversation id -> [{name, state, progress, attachment, xhr}] not yet sent
  };

  function thread(id) {
    var t = state.threads.get(id);
    if (!t) {
      // lastSeq: the highest seq on screen; seqs.upTo: every seq up to it is on screen (the resume
      // point, so a frame lost on the fast path is read again rather than stepped over).
      t = { bySeq: new Map(), byClientId: new Map(), lastSeq: 0, seqs: new P.SeqTracker(0), loaded: false, loading: null };
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
    // Only when the agent opted in, and only while the tab is hidden (notify.js holds the choice).
    if (C.alertsWanted && !C.alertsWanted()) return;
    if (C.alertsWanted && !document.hidden) return;
    var summary = conversationId ? state.conversations.get(conversationId) : null;
    if (kind === "message" && summary && summary.view_only) return; // seen through a mention, not held
    chime(kind);
    if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
    var note = new Notification(title, { body: body, tag: kind + "-" + conversationId, silent: true });
    note.onclick = function () {
      window.focus();
      if (kind === "mention" && C.openMention) C.openMention(conversationId);
      else if (conversationId && state.conversations.has(conversationId)) C.openConversation(conversationId);
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
    notifyButton.textContent = Notification.permission === "default" ? gettext("Enable alerts") : gettext("Enable sound");
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

  // ---- frames --------------------------------------------------------------------------------
  function conversationIdOf(data) {
    if (data.conversation_id) return Number(data.conversation_id);
    if (data.conversation && typeof data.conversation === "object") return Number(data.conversation.id);
    if (data.conversation) return Number(data.conversation);
    if (data.message && data.message.conversation_id) return Number(data.message.conversation_id);
    return null;
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


  C.$ = $;
  C.API = API;
  C.alertAgent = alertAgent;
  C.chime = chime;
  C.unlockAudio = unlockAudio;
  C.api = api;
  C.config = config;
  C.conversationIdOf = conversationIdOf;
  C.conversationName = conversationName;
  C.csrfToken = csrfToken;
  C.el = el;
  C.format = F;
  C.gettext = gettext;
  C.interpolate = interpolate;
  C.newClientId = newClientId;
  C.safeUrl = safeUrl;
  C.showNotice = showNotice;
  C.state = state;
  C.statusLabel = statusLabel;
  C.thread = thread;
  C.timeLabel = timeLabel;
  C.updateNotifyButton = updateNotifyButton;
  C.waitedLabel = waitedLabel;
})(window.SwitchboardConsole);
