/*
 * The agent console: the chat pane: history, live messages by seq (the resume point of each thread),
 * delivery states, read and typing.
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var $ = C.$, alertAgent = C.alertAgent, api = C.api, conversationIdOf = C.conversationIdOf, el = C.el,
    safeUrl = C.safeUrl, showNotice = C.showNotice, state = C.state, thread = C.thread,
    timeLabel = C.timeLabel, send = C.send, renderMine = C.renderMine,
    scheduleMineRefresh = C.scheduleMineRefresh, gettext = C.gettext, interpolate = C.interpolate,
    statusLabel = C.statusLabel, conversationName = C.conversationName, pgettext = window.pgettext;

  function onDeliveryStatus(data) {
    var t = thread(Number(data.conversation_id));
    var row = t.bySeq.get(data.seq);
    if (!row) return;
    showDelivery(row, data.status, data.error, Number(data.conversation_id), data.retry_at, data.message_id);
  }
  // Only what an agent acts on is shown: a send that is retrying or failed (with the reason, the next
  // attempt and "Retry now"), and the read state. Stored, pending, sent and delivered say nothing: that
  // is every message's normal course (the row's data-delivery keeps the status).
  var DELIVERY_LABELS = { read: pgettext("delivery status", "Read") };
  function showDelivery(row, status, error, conversationId, retryAt, messageId) {
    row.dataset.delivery = status;
    var label = row.querySelector(".msg-delivery");
    var text = "";
    if (status === "failed") text = interpolate(gettext("Not delivered: %s."), [error || gettext("the platform refused it")]);
    else if (status === "retrying") {
      text = interpolate(gettext("Not sent yet: %s."), [error || gettext("the platform did not answer")]);
      if (retryAt) text += " " + interpolate(gettext("Next try at %s."), [timeLabel(retryAt)]);
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
        retry = el("button", "msg-retry", gettext("Retry now"));
        retry.type = "button";
        retry.addEventListener("click", function () {
          retry.disabled = true;
          api("conversations/" + conversationId + "/messages/" + messageId + "/retry", { method: "POST", body: {} })
            // The outcome arrives as message.status frames (pending, then sent, retrying or failed).
            .catch(function (error) {
              retry.disabled = false;
              showNotice(interpolate(gettext("Could not retry: %s"), [error.message]), "error");
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
      offer = el("button", "msg-template-offer", gettext("Send an approved template…"));
      offer.type = "button";
      offer.addEventListener("click", function () {
        if (state.currentId === conversationId) C.openTemplates();
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
    if (t.loaded && (message.seq > before + 1 || t.seqs.upTo < t.lastSeq)) catchUp(id);
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
      if (!looking) alertAgent("message", (summary.contact && summary.contact.name) || gettext("Customer"), message.text || gettext("Attachment"), id);
    }
    renderMine();
  }

  function onTyping(data) {
    var id = conversationIdOf(data);
    if (id !== state.currentId) return;
    var node = $("con-typing");
    if (data.active === false) {
      node.hidden = true;
      return;
    }
    var name = (data.sender && data.sender.name) || data.name || gettext("Customer");
    node.textContent = interpolate(gettext("%s is typing…"), [name]);
    node.hidden = false;
    clearTimeout(onTyping.timer);
    onTyping.timer = setTimeout(function () {
      node.hidden = true;
    }, 6000);
  }

  // Every error code of docs/protocol.md in words for the agent (a test keeps this list complete).
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
    C.loadContact(id);
    C.showUploadError("");
    C.renderStaged();
    input.focus();
  }

  function renderChatHead() {
    var summary = state.conversations.get(state.currentId);
    if (!summary) return;
    $("con-chat-name").textContent = conversationName(summary);
    var meta = ["#" + summary.id, summary.inbox && summary.inbox.name, summary.queue && summary.queue.name].filter(Boolean);
    $("con-chat-meta").textContent = meta.join(" · ");
    var pill = $("con-chat-status");
    pill.textContent = statusLabel(summary.status);
    pill.className = "status-pill status-" + summary.status;
    var closed = summary.status === "closed";
    $("con-transfer-open").disabled = closed;
    $("con-close-open").disabled = closed;
    $("con-template-open").hidden = !(summary.inbox && summary.inbox.kind === "whatsapp");
    $("con-template-open").disabled = closed;
    input.disabled = closed;
    $("con-send").disabled = closed;
    // Labels and snooze (labels.js, snooze.js) show their part of the header.
    (C.chatHeadDecorators || []).forEach(function (add) {
      add(summary);
    });
    input.placeholder = closed
      ? gettext("This conversation is closed.")
      : privateToggle.checked
        ? gettext("Internal note, only agents see it…")
        : gettext("Reply to the customer…");
    if (C.afterChatHead) C.afterChatHead(summary); // a conversation seen through a mention, its transfer note (notify.js)
  }

  function loadHistory(id) {
    var t = thread(id);
    if (t.loading) return t.loading;
    t.loading = fetchAfter(id, 0)
      .then(function () {
        t.loaded = true;
      })
      .catch(function (err) {
        showNotice(interpolate(gettext("Could not load the history: %s"), [err.message]), "error");
      })
      .finally(function () {
        t.loading = null;
      });
    return t.loading;
  }

  function fetchAfter(id, afterSeq) {
    return api("conversations/" + id + "/messages?after_seq=" + afterSeq).then(function (data) {
      if (C.onThreadInfo) C.onThreadInfo(id, data); // its transfer note, whether this agent may act (notify.js)
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
    t.loading = fetchAfter(id, t.seqs.upTo)
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

  // Who wrote a message without a name: the sender kind in words.
  var SENDER_WORDS = {
    customer: gettext("Customer"),
    agent: gettext("Agent"),
    bot: gettext("Bot"),
    system: gettext("System"),
  };

  function buildRow(message, pending) {
    var kind = (message.sender && message.sender.kind) || "agent";
    var row = el("li", "msg from-" + kind + (message.private ? " private" : ""));
    if (message.seq) row.dataset.seq = String(message.seq);
    if (message.id) row.dataset.messageId = String(message.id);
    if (message.client_id) row.dataset.clientId = message.client_id;
    var head = el("div", "msg-head");
    head.appendChild(el("span", "msg-who", (message.sender && message.sender.name) || SENDER_WORDS[kind] || kind));
    if (message.private) head.appendChild(el("span", "msg-private", gettext("internal note")));
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
        image.alt = attachment.name || gettext("image");
        link.appendChild(image);
      } else {
        link.textContent = "\ud83d\udcce " + (attachment.name || gettext("attachment"));
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
      row.appendChild(el("div", "msg-state", gettext("Sending…")));
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
    t.seqs.add(message.seq);
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


  C.addToThread = addToThread;
  C.buildRow = buildRow;
  C.catchUp = catchUp;
  C.onDeliveryStatus = onDeliveryStatus;
  C.onMessage = onMessage;
  C.onRead = onRead;
  C.onTyping = onTyping;
  C.openConversation = openConversation;
  C.renderChatHead = renderChatHead;
  C.scrollToEnd = scrollToEnd;
})(window.SwitchboardConsole);
