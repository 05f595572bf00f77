/*
 * Switchboard chat widget. Embed with one tag:
 *   <script src="https://host/static/widget/widget.js" data-inbox="demo" async></script>
 * Plain JS, no build step, no dependencies. Everything the customer or an agent writes is put on the
 * page with textContent only. See docs/interface.md for the options and the resume rules.
 *
 * The socket, resume point and unacknowledged sends are the shared protocol client
 * (static/shared/protocol.js, the console's too): this script loads it from the server it came from,
 * into its own namespace, then starts. The host page gets one global, SwitchboardWidget.
 *
 * One file of about 1,200 lines on purpose: it runs on other people's pages, where every extra script is
 * another request and another entry in their Content-Security-Policy; what it shares with the console
 * (the protocol client) is already a module of its own, and the rest (panel, history, uploads, survey
 * buttons, its words in the customer's language) is one closure over the page's one widget. Its words come
 * with the session's answer in the customer's language (docs/interface.md, "The widget's language").
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector("script[data-inbox][src*='widget.js']");
  if (!script || window.SwitchboardWidget) return;

  var scriptUrl = new URL(script.src, window.location.href);
  var options = {
    inbox: script.dataset.inbox || "",
    server: (script.dataset.server || scriptUrl.origin).replace(/\/+$/, ""),
    // Empty: the words of the customer's language (the session's answer), else the built-in English ones.
    title: script.dataset.title || "",
    subtitle: script.dataset.subtitle || "",
    // The language the page asks for (a BCP 47 tag, e.g. zh-Hans); empty: the browser's.
    lang: script.dataset.lang || "",
    color: script.dataset.color || "#1f6feb",
    position: script.dataset.position === "left" ? "left" : "right",
    open: script.dataset.open === "true",
    name: script.dataset.name || "",
    email: script.dataset.email || "",
    // A logged-in customer of the site: their id and HMAC-SHA256(inbox identity secret, id) in hex, made
    // on the site's server (docs/interface.md, "Identified visitors").
    userId: script.dataset.userId || "",
    userHash: script.dataset.userHash || "",
    // What the site tells about the visitor (plan, cart value...): shown beside the conversation.
    customAttributes: parseAttributes(script.dataset.customAttributes),
  };
  // The same, set by the page before the script tag: window.SwitchboardSettings = {user: {id, hash, name,
  // email}, customAttributes: {...}}.
  var settings = window.SwitchboardSettings && typeof window.SwitchboardSettings === "object" ? window.SwitchboardSettings : {};
  if (settings.user && typeof settings.user === "object") {
    if (settings.user.id !== undefined && settings.user.id !== null) options.userId = String(settings.user.id);
    if (typeof settings.user.hash === "string") options.userHash = settings.user.hash;
    if (typeof settings.user.name === "string") options.name = settings.user.name;
    if (typeof settings.user.email === "string") options.email = settings.user.email;
  }
  if (settings.customAttributes && typeof settings.customAttributes === "object") options.customAttributes = settings.customAttributes;
  function parseAttributes(raw) {
    if (!raw) return null;
    try {
      var parsed = JSON.parse(raw);
      return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : null;
    } catch (err) {
      console.error("Switchboard widget: data-custom-attributes is not a JSON object.");
      return null;
    }
  }
  if (!options.inbox) {
    console.error("Switchboard widget: the script tag needs a data-inbox attribute.");
    return;
  }

  // The one global: the page API (open() and close() called before the widget started are kept) and
  // the shared protocol client once loaded.
  var namespace = (window.SwitchboardWidget = {});
  var openWish = null;
  namespace.open = function () {
    openWish = true;
  };
  namespace.close = function () {
    openWish = false;
  };
  namespace.setCustomAttributes = function (attributes) {
    options.customAttributes = attributes && typeof attributes === "object" ? attributes : null;
  };
  loadProtocol(widget);

  function loadProtocol(then) {
    // A script beside this one on the same server (a CDN serving widget.js serves shared/ too); it puts
    // itself in the namespace its tag names, and the tag goes once it has run.
    var tag = document.createElement("script");
    tag.src = new URL("../shared/protocol.js", scriptUrl).href;
    tag.async = true;
    tag.dataset.namespace = "SwitchboardWidget";
    tag.onload = function () {
      tag.remove();
      then(namespace.protocol);
    };
    tag.onerror = function () {
      tag.remove();
      console.error("Switchboard widget: could not load " + tag.src);
    };
    (document.head || document.documentElement).appendChild(tag);
  }

  function widget(P) {
    var STORAGE_KEY = "switchboard.widget." + options.server + "." + options.inbox;
    var BACKOFF_BASE_MS = 500;
    var BACKOFF_MAX_MS = 30000;
    var ACK_TIMEOUT_MS = 8000;
    var HEARTBEAT_MS = 25000;
    var HEARTBEAT_GRACE_MS = 10000;
    var TYPING_IDLE_MS = 3000;
    var REMOTE_TYPING_MS = 6000;

    // ---- persisted state (survives a reload) -------------------------------------------------
    function loadStored() {
      try {
        var raw = window.localStorage.getItem(STORAGE_KEY);
        return raw ? JSON.parse(raw) : {};
      } catch (err) {
        return {};
      }
    }
    var stored = loadStored();
    // A session belongs to one customer: another one logged in (or logged out) on this browser starts a
    // new session, so nobody sees the previous customer's conversation.
    if (stored.token && (stored.userId || "") !== options.userId) stored = { open: stored.open };
    // The widget's words in English, until the session's answer brings them in the customer's language
    // (interface/widget_strings.py holds the same list; a test keeps the two equal). %(name)s is a value
    // put in with textContent, like everything else.
    var STRINGS = {
      title: "Chat with us",
      subtitle: "We usually answer within a few minutes",
      open_chat: "Open chat",
      close_chat: "Close chat",
      empty: "Ask us anything, we are here to help.",
      attach: "Attach a file",
      remove_attachment: "Remove attachment",
      placeholder: "Write a message…",
      message: "Message",
      send: "Send",
      offline: "You are offline. We will reconnect.",
      reconnecting: "Reconnecting…",
      unreachable: "Could not reach the chat service. Retrying…",
      image: "image",
      attachment: "attachment",
      sending: "Sending…",
      retrying: "Not sent, retrying",
      read: "Read",
      not_sent: "Not sent: %(reason)s",
      uploading: "Uploading %(name)s…",
      upload_failed: "Upload failed: %(reason)s",
      session_ended: "The chat session ended. Please attach the file again.",
      queue_position: "You are number %(position)s in the queue.",
      queue_position_eta: "You are number %(position)s in the queue · about %(minutes)s min.",
      waiting: "Waiting for the next available agent…",
      chatting_with: "You are chatting with %(name)s.",
      an_agent: "an agent",
      closed: "This conversation was closed. Write again any time.",
      typing: "%(name)s is typing…",
      agent: "Agent",
      not_available: "Chat is not available on this site.",
      error: "Something went wrong. Please try again.",
      bot_name: "Assistant",
    };
    function validStrings(value) {
      if (!value || typeof value !== "object") return null;
      var found = {};
      Object.keys(value).forEach(function (key) {
        if (typeof value[key] === "string" && value[key]) found[key] = value[key];
      });
      return found;
    }
    var state = {
      token: stored.token || null,
      conversationId: stored.conversationId || null,
      // The messages on screen, so a reload shows them at once and only asks for what came after.
      history: Array.isArray(stored.history) ? stored.history : [],
      open: typeof stored.open === "boolean" ? stored.open : options.open,
      readUpTo: 0, // the highest of my messages an agent has read
      unread: 0,
      status: null,
      // The version of the status shown (conversation.status `version`, ready `status_version`): frames
      // from two server processes may arrive out of order, and an older one must not replace a newer.
      statusVersion: null,
      // The customer's language and the widget's words in it, from the session's answer (kept with it).
      language: typeof stored.language === "string" ? stored.language : "",
      strings: validStrings(stored.strings),
    };

    function t(key, values) {
      var text = (state.strings && state.strings[key]) || STRINGS[key] || key;
      if (!values) return text;
      return text.replace(/%\((\w+)\)s/g, function (whole, name) {
        return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
      });
    }
    function displayLanguage() {
      return state.language || options.lang || navigator.language || "en";
    }

    // seqs.upTo is the resume point: every seq up to it is here (shown, or known not to be ours). Seqs
    // seen above a hole are held, so a frame lost on the fast path is asked for again on the next gap or
    // reconnect instead of being stepped over.
    var seqs = new P.SeqTracker(stored.lastSeq || 0);
    var conn = new P.Connection({
      url: socketUrl,
      requireReady: true,
      backoffBaseMs: BACKOFF_BASE_MS,
      backoffMaxMs: BACKOFF_MAX_MS,
      heartbeatMs: HEARTBEAT_MS,
      silenceMs: HEARTBEAT_MS + HEARTBEAT_GRACE_MS,
      beforeConnect: function () {
        if (refused) return false;
        if (!state.token) {
          // No session yet (or it was refused and dropped): create one first, with the same backoff.
          if (outbox.size) ensureSession().then(conn.connect, conn.scheduleReconnect);
          return false;
        }
        return true;
      },
      canReconnect: function () {
        return !refused && (!!state.token || outbox.size > 0);
      },
      onOpen: function () {
        // The token travels in the first frame, never in the URL (proxies and logs keep URLs).
        conn.sendNow({ type: "auth", token: state.token, after_seq: seqs.upTo });
      },
      onFrame: handleFrame,
      onWait: function () {
        setConnection(navigator.onLine === false ? t("offline") : t("reconnecting"));
      },
      onFinalClose: function () {
        // A 4401 follows an error frame the widget has acted on (auth_failed: a new session;
        // origin_not_allowed: it stops); otherwise try again, and the server says why.
        conn.scheduleReconnect();
      },
    });
    // Messages sent but not yet acknowledged: resent with the same client_id after a reconnect or a
    // reload, so the server stores each one once.
    var outbox = new P.Outbox(conn, {
      ackTimeoutMs: ACK_TIMEOUT_MS,
      onAckTimeout: function (clientId) {
        // No ack in time: the socket is probably dead without knowing it. Reconnecting resends the same
        // client_id, which the server answers with the first result.
        var row = rowsByClientId.get(clientId);
        if (row && !row.dataset.seq) setRowState(row, "failed");
      },
    });
    (Array.isArray(stored.pending) ? stored.pending : []).forEach(function (item) {
      outbox.put(item.client_id, messageFrame(item), item);
    });
    function messageFrame(item) {
      var frameData = { type: "message.send", client_id: item.client_id, text: item.text };
      if (item.attachment_ids && item.attachment_ids.length) frameData.attachment_ids = item.attachment_ids;
      return frameData;
    }
    function persist() {
      try {
        window.localStorage.setItem(
          STORAGE_KEY,
          JSON.stringify({
            token: state.token,
            conversationId: state.conversationId,
            lastSeq: seqs.upTo,
            pending: outbox.list(),
            history: state.history,
            open: state.open,
            language: state.language,
            strings: state.strings,
            userId: options.userId,
          }),
        );
      } catch (err) {
        /* private mode or full storage: the widget still works for this page view */
      }
    }

    // ---- DOM (inside a shadow root so the host page's CSS and ours never mix) ------------------
    var host = document.createElement("div");
    host.className = "switchboard-widget-host";
    host.setAttribute("data-switchboard-widget", options.inbox);
    var root = host.attachShadow({ mode: "open" });
    var style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = new URL("widget.css", scriptUrl).href;
    root.appendChild(style);

    function el(tag, className, attrs) {
      var node = document.createElement(tag);
      if (className) node.className = className;
      if (attrs) {
        Object.keys(attrs).forEach(function (key) {
          node.setAttribute(key, attrs[key]);
        });
      }
      return node;
    }

    var frame = el("div", "sbw sbw-" + options.position);
    frame.style.setProperty("--sbw-accent", /^#[0-9a-fA-F]{3,8}$/.test(options.color) ? options.color : "#1f6feb");
    root.appendChild(frame);

    var launcher = el("button", "sbw-launcher", { type: "button", part: "launcher" });
    launcher.innerHTML =
      '<svg viewBox="0 0 24 24" aria-hidden="true" width="26" height="26"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
    var badge = el("span", "sbw-badge", { hidden: "" });
    launcher.appendChild(badge);

    var panel = el("section", "sbw-panel", { role: "dialog", hidden: "" });
    var header = el("header", "sbw-header");
    var titleBox = el("div", "sbw-titles");
    var title = el("div", "sbw-title");
    var subtitle = el("div", "sbw-subtitle");
    titleBox.appendChild(title);
    titleBox.appendChild(subtitle);
    var closeButton = el("button", "sbw-close", { type: "button" });
    closeButton.textContent = "\u00d7";
    header.appendChild(titleBox);
    header.appendChild(closeButton);

    var banner = el("div", "sbw-banner", { hidden: "", "aria-live": "polite" });
    var connection = el("div", "sbw-connection", { hidden: "", role: "status" });
    var list = el("ol", "sbw-messages", { "aria-live": "polite" });
    var empty = el("li", "sbw-empty");
    list.appendChild(empty);
    var typing = el("div", "sbw-typing", { hidden: "" });
    typing.appendChild(el("span", "sbw-dots"));
    var typingText = el("span");
    typing.appendChild(typingText);

    var composer = el("form", "sbw-composer");
    var fileInput = el("input", "sbw-file", { type: "file", hidden: "" });
    var attachButton = el("button", "sbw-attach", { type: "button" });
    attachButton.innerHTML =
      '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7L14 4.5a3.5 3.5 0 0 1 5 5L10.5 18a2 2 0 0 1-3-3L15 7.5"/></svg>';
    var input = el("textarea", "sbw-input", { rows: "1" });
    var sendButton = el("button", "sbw-send", { type: "submit" });
    var staged = el("div", "sbw-staged", { hidden: "" });
    composer.appendChild(staged);
    composer.appendChild(fileInput);
    composer.appendChild(attachButton);
    composer.appendChild(input);
    composer.appendChild(sendButton);

    panel.appendChild(header);
    panel.appendChild(banner);
    panel.appendChild(connection);
    panel.appendChild(list);
    panel.appendChild(typing);
    panel.appendChild(composer);
    frame.appendChild(panel);
    frame.appendChild(launcher);

    // Every fixed word of the panel, again whenever the words of another language arrive.
    function applyStrings() {
      frame.lang = displayLanguage();
      launcher.setAttribute("aria-label", t("open_chat"));
      title.textContent = options.title || t("title");
      subtitle.textContent = options.subtitle || t("subtitle");
      panel.setAttribute("aria-label", title.textContent);
      closeButton.setAttribute("aria-label", t("close_chat"));
      empty.textContent = t("empty");
      attachButton.setAttribute("aria-label", t("attach"));
      attachButton.title = t("attach");
      input.placeholder = t("placeholder");
      input.setAttribute("aria-label", t("message"));
      sendButton.textContent = t("send");
      timeFormat = null;
    }
    applyStrings();

    // ---- message list: one row per seq, pending rows keyed by client_id -----------------------
    // Seqs restart at 1 in each conversation, so a row's key is "<conversation id>:<seq>".
    var rowsBySeq = new Map();
    var rowsByClientId = new Map();
    function rowKey(conversationId, seq) {
      return (conversationId || 0) + ":" + seq;
    }
    function rowOrder(row) {
      return [Number(row.dataset.conversationId || 0), Number(row.dataset.seq || 0)];
    }

    // Times in the customer's language (Intl), made once per language.
    var timeFormat = null;
    function formatTime(iso) {
      var date = iso ? new Date(iso) : new Date();
      if (isNaN(date.getTime())) return "";
      if (!timeFormat) {
        try {
          timeFormat = new Intl.DateTimeFormat(displayLanguage(), { hour: "2-digit", minute: "2-digit" });
        } catch (err) {
          timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
        }
      }
      return timeFormat.format(date);
    }

    function safeUrl(url) {
      try {
        var parsed = new URL(url, options.server);
        return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
      } catch (err) {
        return null;
      }
    }

    function renderAttachments(container, attachments) {
      (attachments || []).forEach(function (attachment) {
        var href = safeUrl(attachment.url);
        if (!href) return;
        var link = el("a", "sbw-attachment", { href: href, target: "_blank", rel: "noopener noreferrer" });
        link.dataset.attachmentId = String(attachment.id);
        if (attachment.expires_at) link.dataset.expiresAt = attachment.expires_at;
        if (/^image\//.test(attachment.content_type || "")) {
          var image = el("img", "sbw-thumb", { alt: "" });
          image.addEventListener("error", function () {
            // An expired link answers 403: ask for a fresh one once, then show it again.
            if (image.dataset.refreshed) return;
            image.dataset.refreshed = "1";
            refreshLinks([attachment.id]);
          });
          image.src = href;
          image.alt = attachment.name || t("image");
          link.appendChild(image);
        } else {
          link.textContent = "\ud83d\udcce " + (attachment.name || t("attachment"));
        }
        link.addEventListener("click", function (event) {
          if (!linkExpired(link)) return;
          // Past its lifetime: open a fresh link instead of one that answers 403.
          event.preventDefault();
          refreshLinks([attachment.id]).then(function () {
            window.open(link.href, "_blank", "noopener");
          });
        });
        container.appendChild(link);
      });
    }

    // ---- attachment links are signed and short-lived: fresh ones replace them when they expire ----
    var LINK_MARGIN_MS = 10000;
    function linkExpired(link) {
      var at = Date.parse(link.dataset.expiresAt || "");
      return !isNaN(at) && at - LINK_MARGIN_MS < Date.now();
    }
    function applyFreshLink(fresh) {
      var href = safeUrl(fresh.url);
      if (!href) return;
      root.querySelectorAll('a.sbw-attachment[data-attachment-id="' + Number(fresh.id) + '"]').forEach(function (link) {
        link.href = href;
        if (fresh.expires_at) link.dataset.expiresAt = fresh.expires_at;
        var image = link.querySelector("img");
        if (image) image.src = href;
      });
      state.history.forEach(function (kept) {
        (kept.attachments || []).forEach(function (attachment) {
          if (attachment.id !== fresh.id) return;
          attachment.url = fresh.url;
          attachment.thumbnail_url = fresh.thumbnail_url;
          attachment.expires_at = fresh.expires_at;
        });
      });
    }
    function refreshLinks(ids) {
      ids = ids.filter(function (id, index) {
        return typeof id === "number" && ids.indexOf(id) === index;
      });
      if (!ids.length || !state.token) return Promise.resolve();
      return fetch(options.server + "/api/v1/widget/attachments/links", {
        method: "POST",
        headers: { Authorization: "Bearer " + state.token, "Content-Type": "application/json" },
        body: JSON.stringify({ attachment_ids: ids.slice(0, 100) }),
        credentials: "omit",
      })
        .then(function (response) {
          return response.ok ? response.json() : { attachments: [] };
        })
        .then(function (data) {
          (data.attachments || []).forEach(applyFreshLink);
          persist();
        })
        .catch(function () {
          /* offline: the next error or click asks again */
        });
    }
    function refreshExpiredLinks() {
      var ids = [];
      root.querySelectorAll("a.sbw-attachment[data-attachment-id]").forEach(function (link) {
        if (linkExpired(link)) ids.push(Number(link.dataset.attachmentId));
      });
      return refreshLinks(ids);
    }

    function buildRow(message, pending) {
      var kind = (message.sender && message.sender.kind) || "customer";
      var row = el("li", "sbw-msg sbw-from-" + kind);
      if (message.seq) row.dataset.seq = String(message.seq);
      if (message.conversation_id) row.dataset.conversationId = String(message.conversation_id);
      if (message.client_id) row.dataset.clientId = message.client_id;
      if (kind !== "customer" && kind !== "system" && message.sender && message.sender.name) {
        var who = el("div", "sbw-who");
        // The bot is named in the customer's language; an agent by their own name.
        who.textContent = kind === "bot" ? t("bot_name") : message.sender.name;
        row.appendChild(who);
      }
      var bubble = el("div", "sbw-bubble");
      var text = el("div", "sbw-text");
      text.textContent = message.text || "";
      bubble.appendChild(text);
      renderAttachments(bubble, message.attachments);
      row.appendChild(bubble);
      if (kind === "bot" && Array.isArray(message.buttons) && message.buttons.length) {
        row.appendChild(buildChoices(message));
      }
      var meta = el("div", "sbw-meta");
      var time = el("span", "sbw-time");
      time.textContent = formatTime(message.created_at);
      meta.appendChild(time);
      if (kind === "customer") {
        var receipt = el("span", "sbw-receipt");
        meta.appendChild(receipt);
      }
      row.appendChild(meta);
      setRowState(row, pending ? "sending" : "sent");
      return row;
    }

    function buildChoices(message) {
      // A bot's choices: clicking one sends its label as the customer's own text (the bot reads labels
      // and numbers alike) and retires the choices of that message, also after a reload.
      var choices = el("div", "sbw-choices", { role: "group" });
      message.buttons.forEach(function (choice) {
        if (!choice || typeof choice.label !== "string") return;
        var button = el("button", "sbw-choice", { type: "button" });
        button.textContent = choice.label;
        button.disabled = !!message.answered;
        button.addEventListener("click", function () {
          if (button.disabled) return;
          choices.querySelectorAll("button").forEach(function (b) {
            b.disabled = true;
          });
          button.classList.add("sbw-chosen");
          message.answered = true;
          state.history.forEach(function (kept) {
            if (kept.conversation_id === message.conversation_id && kept.seq === message.seq) kept.answered = true;
          });
          persist();
          sendText(choice.label, []);
        });
        choices.appendChild(button);
      });
      return choices;
    }

    function setRowState(row, value) {
      // Only what the customer needs to know: still on its way, a problem, or read. A message that
      // simply arrived says nothing (the row's data-state says "sent").
      row.dataset.state = value;
      var receipt = row.querySelector(".sbw-receipt");
      if (!receipt) return;
      var seq = Number(row.dataset.seq || 0);
      if (value === "sending") receipt.textContent = t("sending");
      else if (value === "failed") receipt.textContent = t("retrying");
      else if (seq && seq <= state.readUpTo && Number(row.dataset.conversationId) === state.conversationId) {
        receipt.textContent = t("read");
      }
      else receipt.textContent = "";
    }

    function placeInOrder(row) {
      // Rows stay ordered by (conversation, seq); pending rows (no seq yet) stay at the bottom.
      var mine = rowOrder(row);
      var children = list.children;
      for (var i = 0; i < children.length; i++) {
        var other = children[i];
        if (other === row || other === empty) continue;
        if (!other.dataset.seq) {
          list.insertBefore(row, other);
          return;
        }
        var theirs = rowOrder(other);
        if (theirs[0] > mine[0] || (theirs[0] === mine[0] && theirs[1] > mine[1])) {
          list.insertBefore(row, other);
          return;
        }
      }
      list.appendChild(row);
    }

    function scrollToEnd() {
      list.scrollTop = list.scrollHeight;
    }

    function followConversation(conversationId) {
      // Conversation ids only grow: a message of a newer conversation means the old one was closed and
      // the customer's next message opened a new one, whose seqs start again at 1.
      if (!conversationId || conversationId === state.conversationId) return;
      if (state.conversationId && conversationId < state.conversationId) return;
      state.conversationId = conversationId;
      seqs.reset(0);
      state.statusVersion = null;
      persist();
    }

    function accountSeq(seq) {
      if (seqs.add(seq)) persist();
    }

    function accountUpTo(seq) {
      // A finished replay: everything up to seq has been sent.
      if (seqs.addUpTo(seq)) persist();
    }

    var HISTORY_KEPT = 200;
    var restoring = false;

    function addMessage(message) {
      if (!message || typeof message.seq !== "number") return false;
      var conversationId = message.conversation_id || state.conversationId;
      followConversation(conversationId);
      var key = rowKey(conversationId, message.seq);
      if (rowsBySeq.has(key)) {
        // Already on screen (a replay overlapping): still part of what this client has.
        if (conversationId === state.conversationId && !restoring) accountSeq(message.seq);
        return false;
      }
      if (message.private) {
        // Never shown to customers, even if a server sent one; its seq is still accounted for.
        if (conversationId === state.conversationId) accountSeq(message.seq);
        return false;
      }
      empty.hidden = true;
      var row = message.client_id ? rowsByClientId.get(message.client_id) : null;
      if (row && row.dataset.seq) row = null; // the same client_id in another conversation
      if (row) {
        // My own pending message came back (ack or echo): the same row becomes the stored one.
        row.dataset.seq = String(message.seq);
        row.dataset.conversationId = String(conversationId);
        row.querySelector(".sbw-time").textContent = formatTime(message.created_at);
        setRowState(row, "sent");
      } else {
        row = buildRow(message, false);
      }
      rowsBySeq.set(key, row);
      if (message.client_id) rowsByClientId.set(message.client_id, row);
      placeInOrder(row);
      if (!restoring) {
        state.history.push(message);
        if (state.history.length > HISTORY_KEPT) state.history.splice(0, state.history.length - HISTORY_KEPT);
      }
      dropPending(message.client_id);
      if (conversationId === state.conversationId) accountSeq(message.seq);
      var kind = message.sender && message.sender.kind;
      if (kind && kind !== "customer") {
        hideRemoteTyping();
        if (!state.open || document.hidden) {
          state.unread += 1;
          updateBadge();
        }
      }
      return true;
    }

    function addPendingRow(item) {
      if (rowsByClientId.has(item.client_id)) return;
      empty.hidden = true;
      var row = buildRow(
        {
          client_id: item.client_id,
          text: item.text,
          attachments: item.attachments || [],
          sender: { kind: "customer" },
          created_at: item.created_at,
        },
        true,
      );
      rowsByClientId.set(item.client_id, row);
      list.appendChild(row);
      scrollToEnd();
    }

    function dropPending(clientId) {
      if (!clientId) return;
      if (outbox.remove(clientId) !== undefined) persist();
    }

    function updateReceipts() {
      rowsBySeq.forEach(function (row) {
        if (row.classList.contains("sbw-from-customer") && Number(row.dataset.conversationId) === state.conversationId) {
          setRowState(row, row.dataset.state);
        }
      });
    }

    function updateBadge() {
      if (state.unread > 0 && !state.open) {
        badge.hidden = false;
        badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
      } else {
        badge.hidden = true;
      }
    }

    // ---- conversation status (queue position, agent name, closed) -----------------------------
    function statusIsCurrent(frameData) {
      // Another conversation's status (one this socket has left) is not this one's.
      if (frameData.conversation_id && state.conversationId && frameData.conversation_id !== state.conversationId) {
        return false;
      }
      var version = P.statusVersion(frameData);
      if (version === null) return true;
      // Equal: the same status with news (a new queue position). Lower: older than what is shown.
      if (P.isStale(version, state.statusVersion)) return false;
      state.statusVersion = version;
      return true;
    }

    function showStatus(frameData) {
      state.status = frameData.status;
      var text = "";
      if (frameData.status === "queued" || frameData.status === "offered") {
        var queue = frameData.queue;
        if (queue && queue.position) {
          if (typeof queue.eta_s === "number" && queue.eta_s > 0) {
            var minutes = Math.max(1, Math.round(queue.eta_s / 60));
            text = t("queue_position_eta", { position: queue.position, minutes: minutes });
          } else {
            text = t("queue_position", { position: queue.position });
          }
        } else {
          text = t("waiting");
        }
      } else if (frameData.status === "assigned") {
        text = t("chatting_with", { name: frameData.agent && frameData.agent.name ? frameData.agent.name : t("an_agent") });
      } else if (frameData.status === "closed") {
        text = t("closed");
      }
      banner.textContent = text;
      banner.hidden = !text;
      banner.dataset.status = frameData.status || "";
    }

    // ---- typing ----------------------------------------------------------------------------
    var remoteTypingTimer = null;
    function showRemoteTyping(name) {
      typingText.textContent = t("typing", { name: name || t("agent") });
      typing.hidden = false;
      clearTimeout(remoteTypingTimer);
      remoteTypingTimer = setTimeout(hideRemoteTyping, REMOTE_TYPING_MS);
    }
    function hideRemoteTyping() {
      clearTimeout(remoteTypingTimer);
      typing.hidden = true;
    }

    var localTyping = false;
    var localTypingTimer = null;
    function noteLocalTyping() {
      if (!localTyping) {
        localTyping = true;
        sendFrame({ type: "typing", active: true });
      }
      clearTimeout(localTypingTimer);
      localTypingTimer = setTimeout(stopLocalTyping, TYPING_IDLE_MS);
    }
    function stopLocalTyping() {
      clearTimeout(localTypingTimer);
      if (localTyping) {
        localTyping = false;
        sendFrame({ type: "typing", active: false });
      }
    }

    // ---- session -----------------------------------------------------------------------------
    var sessionPromise = null;
    function ensureSession() {
      if (state.token) return Promise.resolve(state.token);
      if (sessionPromise) return sessionPromise;
      // The page's language, else the browser's: the server answers with the words in it (v1 servers read locale).
      var body = { locale: navigator.language || "", language: options.lang || navigator.language || "" };
      if (options.name) body.name = options.name;
      if (options.email) body.email = options.email;
      body.metadata = { page: window.location.href.slice(0, 500), referrer: document.referrer.slice(0, 500) };
      body.context = visitorContext();
      if (options.userId) {
        body.identifier = options.userId;
        if (options.userHash) body.identifier_hash = options.userHash;
      }
      sessionPromise = fetch(options.server + "/api/v1/widget/" + encodeURIComponent(options.inbox) + "/sessions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
      })
        .then(function (response) {
          if (!response.ok) {
            return response.json().then(
              function (data) {
                var error = new Error("session refused: " + response.status);
                error.code = (data && data.error && data.error.code) || "";
                error.detail = (data && data.error && data.error.detail) || "";
                throw error;
              },
              function () {
                throw new Error("session refused: " + response.status);
              },
            );
          }
          return response.json();
        })
        .then(function (data) {
          state.token = data.session_token;
          state.conversationId = data.conversation_id || null;
          var words = validStrings(data.strings);
          if (words && typeof data.language === "string") {
            state.language = data.language;
            state.strings = words;
            applyStrings();
          }
          seqs.reset(0);
          persist();
          contextSent = true;
          return state.token;
        })
        .catch(function (err) {
          if (err && /^identity_/.test(err.code || "")) {
            // The site's customer id was refused (a wrong hash, or none where the inbox requires one):
            // the widget says so and stops; it never falls back to an anonymous chat.
            refused = true;
            setConnection(errorWords(err.code));
          } else if (err && err.code === "invalid" && options.customAttributes) {
            // The site's attributes are out of bounds (docs/interface.md, "Visitor context"): say so to
            // the site's developer and chat without them rather than not at all (the retry goes without).
            console.error("Switchboard widget: custom attributes refused: " + err.detail);
            options.customAttributes = null;
          }
          throw err;
        })
        .finally(function () {
          sessionPromise = null;
        });
      return sessionPromise;
    }

    // ---- visitor context: the page and browser, told at the session's start and on every page -----
    function visitorContext() {
      var context = {
        url: window.location.href.slice(0, 2048),
        title: (document.title || "").replace(/[\x00-\x1f\x7f]/g, " ").slice(0, 300),
        referrer: document.referrer.slice(0, 2048),
        language: (navigator.language || "").slice(0, 35),
      };
      try {
        context.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
      } catch (err) {
        /* no Intl: no time zone */
      }
      if (options.customAttributes) context.custom_attributes = options.customAttributes;
      return context;
    }
    var contextSent = false;
    var contextTimer = null;
    function sendContext() {
      // Only a visitor with a session is told about; a new session carries the context itself.
      clearTimeout(contextTimer);
      contextTimer = setTimeout(function () {
        if (!state.token || refused) return;
        contextSent = true;
        fetch(options.server + "/api/v1/widget/context", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: "Bearer " + state.token },
          body: JSON.stringify(visitorContext()),
          credentials: "omit",
        }).catch(function () {
          /* the context is a courtesy to the agent: the chat goes on without it */
        });
      }, 300);
    }
    // A single-page site moves without a reload: tell each new address.
    ["pushState", "replaceState"].forEach(function (name) {
      var original = window.history[name];
      if (typeof original !== "function") return;
      window.history[name] = function () {
        var answer = original.apply(this, arguments);
        sendContext();
        return answer;
      };
    });
    window.addEventListener("popstate", sendContext);
    window.addEventListener("hashchange", sendContext);

    function forgetSession() {
      state.token = null;
      state.conversationId = null;
      seqs.reset(0);
      persist();
      rowsBySeq.forEach(function (row) {
        row.remove();
      });
      rowsBySeq.clear();
      state.history = [];
      persist();
      empty.hidden = outbox.size > 0;
    }

    // ---- socket with reconnect, backoff + jitter, and resume (the shared client's Connection) ------
    var lastResumeRequest = 0;

    function socketUrl() {
      var url = new URL(options.server + "/ws/v1/widget/");
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      return url.href;
    }

    function setConnection(text) {
      connection.textContent = text || "";
      connection.hidden = !text;
    }

    var refused = false; // the inbox does not accept this site: retrying cannot help

    function sendFrame(payload) {
      return conn.send(payload);
    }

    function requestResume(afterSeq) {
      // A gap in seq means a frame was lost on the fast path: MySQL replays everything after the last
      // seq known before the gap; rows already on screen are skipped by seq.
      var now = Date.now();
      if (now - lastResumeRequest < 2000) return;
      lastResumeRequest = now;
      sendFrame({ type: "resume", after_seq: afterSeq });
    }

    function flushPending() {
      outbox.resendAll();
    }

    function handleFrame(data) {
      switch (data.type) {
        case "ready":
          conn.markReady();
          setConnection("");
          if (data.conversation_id && state.conversationId && data.conversation_id !== state.conversationId) {
            // The server shows another conversation than the one stored (mine was closed and a new one
            // began): its seqs are not comparable with my last seq, so read it from the start.
            followConversation(data.conversation_id);
            requestResume(0);
          } else if (data.conversation_id) {
            state.conversationId = data.conversation_id;
          }
          // ready carries the agent's name or the queue position too; with only the status, keep a
          // banner that already says more about that status.
          if (statusIsCurrent(data) && (data.agent || data.queue || data.status !== state.status || banner.hidden)) {
            showStatus(data);
          }
          persist();
          flushPending();
          if (state.open) markRead();
          break;
        case "message.new":
          var message = data.message || {};
          var sameConversation = !message.conversation_id || message.conversation_id === state.conversationId;
          var known = seqs.upTo;
          if (addMessage(message)) {
            if (sameConversation && message.seq > known + 1 && conn.ready) requestResume(known);
            scrollToEnd();
            if (state.open && !document.hidden) markRead();
          }
          break;
        case "message.hidden":
          // An internal note took this seq: nothing to show, but it is not a gap.
          if (!data.conversation_id || data.conversation_id === state.conversationId) accountSeq(data.seq);
          break;
        case "resume.done":
          if ((!data.conversation_id || data.conversation_id === state.conversationId) && data.last_seq > seqs.upTo) {
            accountUpTo(data.last_seq);
          }
          break;
        case "conversation.started":
          // The new conversation's first status frame went out before this socket joined it, so
          // reconnect at once: the ready frame brings the current status, and the replay after the
          // last seq brings whatever this socket would have replayed.
          followConversation(data.conversation_id);
          conn.restart();
          break;
        case "message.ack":
          if (data.message) addMessage(data.message);
          dropPending(data.client_id);
          scrollToEnd();
          break;
        case "conversation.status":
          if (statusIsCurrent(data)) showStatus(data);
          break;
        case "typing":
          if (data.active === false) hideRemoteTyping();
          else showRemoteTyping(data.name || (data.sender && data.sender.name));
          break;
        case "read":
          if (data.by === "customer") break; // my own read pointer, echoed from another tab
          if (data.conversation_id && data.conversation_id !== state.conversationId) break;
          if (typeof data.up_to_seq === "number" && data.up_to_seq > state.readUpTo) {
            state.readUpTo = data.up_to_seq;
            updateReceipts();
          }
          break;
        case "error":
          handleError(data);
          break;
        default:
          break;
      }
    }

    // Every error code of docs/protocol.md in words for the customer (a test keeps this list complete).
    var ERROR_WORDS = {
      bad_json: "Your message could not be sent. Reload the page and try again.",
      unknown_type: "Your message could not be sent. Reload the page and try again.",
      invalid: "Your message could not be sent. Reload the page and try again.",
      too_long: "Your message is too long. Please shorten it.",
      empty: "Write a message or attach a file first.",
      rate_limited: "You are sending very fast. Your message will go in a moment.",
      auth_required: "Reconnecting to the chat…",
      auth_failed: "Reconnecting to the chat…",
      origin_not_allowed: "Chat is not available on this site.",
      forbidden: "That is not allowed here.",
      not_found: "This conversation is no longer available.",
      conversation_closed: "This conversation was closed. Write again to start a new one.",
      illegal_transition: "This conversation cannot do that right now.",
      unknown_attachment: "A file could not be attached. Please upload it again.",
      too_large: "The file is too large to send.",
      offer_gone: "Please try again.",
      not_yours: "That is not allowed here.",
      over_capacity: "Please try again in a moment.",
      not_waiting: "Please try again.",
      unknown_queue: "Please try again.",
      unknown_agent: "Please try again.",
      unknown_work: "Please try again.",
      bad_request: "Please try again.",
      not_retryable: "That message cannot be sent again.",
      internal: "Something went wrong on our side. Please try again.",
      no_identity: "Please try again.",
      template_required: "Please try again.",
      conversation_open: "Please try again.",
      identity_invalid: "We could not confirm your account. Please sign in again.",
      identity_required: "Please sign in to chat with us.",
      method_not_allowed: "Please reload the page and try again.",
      not_acceptable: "Please reload the page and try again.",
      unsupported_media_type: "Please reload the page and try again.",
      executable: "Programs and scripts cannot be sent.",
      markup: "This kind of file cannot be sent.",
      type_mismatch: "The file's content does not match its name.",
      type_not_allowed: "This kind of file cannot be sent.",
      bad_image: "The image could not be read.",
      missing_file: "Choose a file to send.",
    };

    function errorWords(code) {
      return (state.strings && state.strings["error." + code]) || ERROR_WORDS[code] || t("error");
    }

    function handleError(data) {
      var code = String(data.code || "");
      if (code === "origin_not_allowed") {
        refused = true;
        setConnection(t("not_available"));
        return;
      }
      if (code === "auth_failed" || (code === "auth_required" && !conn.ready)) {
        // The stored session is unknown, revoked (a contact merge) or expired (idle too long), as
        // data.reason says: start a fresh one, keep unsent messages.
        conn.discard();
        forgetSession();
        ensureSession().then(conn.connect, conn.scheduleReconnect);
        return;
      }
      if (data.command === "auth") {
        // The server failed half-way through auth (Redis restarting, say) and sent no ready: start
        // again on a new socket, with the same session and backoff.
        conn.drop();
        return;
      }
      if (code === "rate_limited" && data.client_id) {
        // Too many frames or messages at once (a burst of resends after a reconnect): the message stays
        // pending and goes again, with the same client_id, once the allowance has refilled (the server
        // says when in retry_after_s for messages).
        outbox.retryLater(data.client_id, (data.retry_after_s || 1) * 1000 + Math.random() * 1000);
        return;
      }
      if (data.client_id) {
        var row = rowsByClientId.get(data.client_id);
        dropPending(data.client_id);
        if (row && !row.dataset.seq) {
          row.dataset.state = "failed";
          var receipt = row.querySelector(".sbw-receipt");
          if (receipt) receipt.textContent = t("not_sent", { reason: errorWords(code) });
        }
      }
    }

    function markRead() {
      state.unread = 0;
      updateBadge();
      if (seqs.upTo) sendFrame({ type: "read", up_to_seq: seqs.upTo });
    }

    // ---- sending -----------------------------------------------------------------------------
    var stagedAttachments = [];
    function renderStaged() {
      staged.textContent = "";
      staged.hidden = stagedAttachments.length === 0;
      stagedAttachments.forEach(function (attachment, index) {
        var chip = el("span", "sbw-chip");
        chip.textContent = attachment.name;
        var remove = el("button", "sbw-chip-remove", { type: "button", "aria-label": t("remove_attachment") });
        remove.textContent = "\u00d7";
        remove.addEventListener("click", function () {
          stagedAttachments.splice(index, 1);
          renderStaged();
        });
        chip.appendChild(remove);
        staged.appendChild(chip);
      });
    }

    function submit() {
      var text = input.value.trim();
      if (!text && stagedAttachments.length === 0) return;
      var attachments = stagedAttachments.slice();
      input.value = "";
      autosize();
      stagedAttachments = [];
      renderStaged();
      stopLocalTyping();
      sendText(text, attachments);
    }

    function sendText(text, attachments) {
      var item = {
        client_id: P.newClientId("c"),
        text: text,
        attachment_ids: attachments.map(function (a) {
          return a.id;
        }),
        attachments: attachments,
        created_at: new Date().toISOString(),
      };
      outbox.put(item.client_id, messageFrame(item), item);
      persist();
      addPendingRow(item);
      ensureSession().then(
        function () {
          if (!conn.socket) conn.connect();
          else outbox.transmit(item.client_id);
        },
        function () {
          if (refused) return; // said why already (ensureSession)
          setConnection(t("unreachable"));
          conn.scheduleReconnect();
        },
      );
    }

    function upload(file) {
      attachButton.disabled = true;
      setConnection(t("uploading", { name: file.name }));
      ensureSession()
        .then(function (token) {
          var form = new FormData();
          form.append("file", file);
          return fetch(options.server + "/api/v1/widget/uploads", {
            method: "POST",
            headers: { Authorization: "Bearer " + token },
            body: form,
            credentials: "omit",
          });
        })
        .then(function (response) {
          if (response.status === 401) {
            // The session was revoked or expired (auth_failed): start a new one, as the socket does.
            handleError({ code: "auth_failed" });
            throw new Error(t("session_ended"));
          }
          return response.json().then(function (data) {
            // The widget API answers {"error": {"code", "detail"}}: the code's words in the customer's
            // language, else the detail (what the media checks found wrong with the file).
            var error = data.error || {};
            if (!response.ok) {
              throw new Error((state.strings && state.strings["error." + error.code]) || error.detail || t("error"));
            }
            return data;
          });
        })
        .then(
          function (data) {
            stagedAttachments.push(data);
            renderStaged();
            setConnection("");
          },
          function (err) {
            setConnection(t("upload_failed", { reason: err.message }));
            setTimeout(function () {
              if (conn.ready) setConnection("");
            }, 4000);
          },
        )
        .finally(function () {
          attachButton.disabled = false;
          fileInput.value = "";
        });
    }

    // ---- open / close ------------------------------------------------------------------------
    function setOpen(open) {
      state.open = open;
      persist();
      panel.hidden = !open;
      launcher.setAttribute("aria-expanded", open ? "true" : "false");
      frame.classList.toggle("sbw-is-open", open);
      if (open) {
        markRead();
        scrollToEnd();
        input.focus();
        if (!state.token) {
          // A first visit: the panel shows once the customer's words have come (or could not), so it
          // never flashes English at someone who reads another language.
          if (!state.strings) panel.style.visibility = "hidden";
          ensureSession()
            .then(conn.connect, conn.scheduleReconnect)
            .finally(function () {
              panel.style.visibility = "";
            });
        }
      }
      updateBadge();
    }

    function autosize() {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, 120) + "px";
    }

    launcher.addEventListener("click", function () {
      setOpen(!state.open);
    });
    closeButton.addEventListener("click", function () {
      setOpen(false);
    });
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    input.addEventListener("input", function () {
      autosize();
      if (input.value.trim()) noteLocalTyping();
    });
    input.addEventListener("blur", stopLocalTyping);
    attachButton.addEventListener("click", function () {
      fileInput.click();
    });
    fileInput.addEventListener("change", function () {
      if (fileInput.files && fileInput.files[0]) upload(fileInput.files[0]);
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && state.open) markRead();
    });
    // The browser knows the network is gone before the socket does: start the retry cycle now.
    conn.watchNetwork(window);

    // ---- start -------------------------------------------------------------------------------
    function start() {
      document.body.appendChild(host);
      var savedLastSeq = seqs.upTo;
      var savedConversation = state.conversationId;
      restoring = true;
      state.history.forEach(addMessage);
      restoring = false;
      // Restoring must not move the resume point: it stays what the last session had confirmed.
      seqs.reset(savedLastSeq);
      state.conversationId = savedConversation;
      state.unread = 0;
      outbox.list().forEach(addPendingRow);
      if (openWish !== null) state.open = openWish;
      setOpen(state.open);
      // A history kept from an earlier visit carries links that have expired since: fresh ones at once.
      refreshExpiredLinks();
      if (state.token) {
        // A new page of a visitor who already chats: the agent sees where they are now.
        if (!contextSent) sendContext();
        conn.connect();
      }
    }
    if (document.body) start();
    else document.addEventListener("DOMContentLoaded", start);

    namespace.open = function () {
      setOpen(true);
    };
    namespace.close = function () {
      setOpen(false);
    };
    /** The site's attributes of this visitor (a flat object of texts, numbers, booleans): told at once. */
    namespace.setCustomAttributes = function (attributes) {
      options.customAttributes = attributes && typeof attributes === "object" ? attributes : null;
      sendContext();
    };
    /** For tests and support: the seqs on screen, in order. */
    namespace.seqs = function () {
      return Array.from(list.querySelectorAll(".sbw-msg[data-seq]")).map(function (row) {
        return Number(row.dataset.seq);
      });
    };
  }
})();
