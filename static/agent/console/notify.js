/*
 * The agent console: mentions, a transfer's note, alerts and the title.
 *
 * - Mentions: the unread ones come with agent.ready (so a reconnect shows them again), new ones as
 *   notification.new; the "Mentions" list in the side panel with its unread count. Clicking one marks it
 *   read (notification.read, on every console of the agent) and opens the conversation: the agent's own
 *   one as usual, anyone else's read-only ("view only": no transfer or close, internal notes only).
 * - A transfer's note: on the offer card, and above the thread (the history answers `transfer_note`).
 * - Alerts: opted in with "Alerts when hidden" (kept in localStorage), a chime and a browser notification
 *   for a new offer, a customer's message in a held conversation and a mention, while the tab is hidden;
 *   the browser's permission is asked when the agent opts in and respected afterwards.
 * - The title: "(n) Agent console · Switchboard", n the unread customer messages plus unread mentions.
 * Names and notes go on the page with textContent only.
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var $ = C.$, el = C.el, state = C.state, send = C.send, gettext = C.gettext, interpolate = C.interpolate,
    conversationName = C.conversationName, timeLabel = C.timeLabel;
  var ALERTS_KEY = "switchboard.console.alerts";

  // ---- alerts: the agent's choice ----------------------------------------------------------------
  var alertsBox = $("con-alerts");
  function storedChoice() {
    try {
      return window.localStorage.getItem(ALERTS_KEY) === "on";
    } catch (err) {
      return false;
    }
  }
  function alertsWanted() {
    return alertsBox.checked;
  }
  alertsBox.checked = storedChoice();
  alertsBox.addEventListener("change", function () {
    try {
      window.localStorage.setItem(ALERTS_KEY, alertsBox.checked ? "on" : "off");
    } catch (err) {
      /* private mode: the choice lasts this page */
    }
    if (!alertsBox.checked) return;
    C.unlockAudio();
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().then(C.updateNotifyButton, C.updateNotifyButton);
    }
    C.updateNotifyButton();
  });

  // ---- the title ------------------------------------------------------------------------------
  var messagesUnread = 0;
  var notifications = new Map(); // id -> payload, unread only
  function updateTitle(unreadMessages) {
    if (typeof unreadMessages === "number") messagesUnread = unreadMessages;
    var total = messagesUnread + notifications.size;
    document.title = (total ? "(" + total + ") " : "") + gettext("Agent console") + " · Switchboard";
  }

  // ---- mentions -------------------------------------------------------------------------------
  var listNode = $("con-mentions");
  var openButton = $("con-mentions-open");
  var countNode = $("con-mentions-count");

  function renderMentions() {
    countNode.textContent = String(notifications.size);
    countNode.dataset.unread = notifications.size ? "true" : "false";
    listNode.textContent = "";
    var list = Array.from(notifications.values()).sort(function (a, b) {
      return b.id - a.id;
    });
    if (!list.length) listNode.appendChild(el("li", "con-list-empty muted", gettext("No unread mentions.")));
    list.forEach(function (n) {
      var item = el("li", "con-item mention-item");
      item.dataset.notificationId = String(n.id);
      item.dataset.conversationId = String(n.conversation.id);
      item.tabIndex = 0;
      var top = el("div", "con-item-top");
      top.appendChild(el("span", "con-item-name", n.by ? interpolate(gettext("%s mentioned you"), [n.by.name]) : gettext("You were mentioned")));
      top.appendChild(el("span", "con-item-time muted", timeLabel(n.created_at)));
      item.appendChild(top);
      item.appendChild(el("div", "con-item-preview muted", conversationName(n.conversation)));
      item.appendChild(el("div", "con-item-preview", n.text));
      function open() {
        openMention(n.conversation.id, n);
      }
      item.addEventListener("click", open);
      item.addEventListener("keydown", function (event) {
        if (event.key === "Enter") open();
      });
      listNode.appendChild(item);
    });
    updateTitle();
  }
  openButton.addEventListener("click", function () {
    listNode.hidden = !listNode.hidden;
    openButton.setAttribute("aria-expanded", listNode.hidden ? "false" : "true");
  });

  function markRead(ids) {
    ids = ids.filter(function (id) {
      return notifications.has(id);
    });
    if (!ids.length) return;
    ids.forEach(function (id) {
      notifications.delete(id);
    });
    send({ type: "notification.read", notification_ids: ids });
    renderMentions();
  }

  // Open the conversation a mention names: read-only unless the agent holds it.
  function openMention(conversationId, notification) {
    conversationId = Number(conversationId);
    var matching = [];
    notifications.forEach(function (n, id) {
      if (n.conversation.id !== conversationId) return;
      matching.push(id);
      notification = notification || n;
    });
    markRead(matching);
    if (!state.conversations.has(conversationId)) {
      var summary = notification ? notification.conversation : null;
      if (!summary) return;
      state.conversations.set(conversationId, Object.assign({}, summary, { view_only: true, unread: 0 }));
      // Live frames of it: the server checks the visibility rule (a mention lets this agent see it).
      send({ type: "resume", conversation_id: conversationId, after_seq: 0 });
    }
    C.openConversation(conversationId);
  }

  function onNotifyFrame(data) {
    if (data.type === "agent.ready") {
      notifications.clear();
      (data.notifications || []).forEach(function (n) {
        if (!n.read) notifications.set(n.id, n);
      });
      renderMentions();
    } else if (data.type === "notification.new" && data.notification) {
      var n = data.notification;
      if (!n.read) notifications.set(n.id, n);
      renderMentions();
      C.alertAgent("mention", n.by ? interpolate(gettext("%s mentioned you"), [n.by.name]) : gettext("You were mentioned"), n.text, n.conversation.id);
    } else if (data.type === "notification.read") {
      (data.notification_ids || []).forEach(function (id) {
        notifications.delete(id);
      });
      renderMentions();
    }
  }

  // ---- a transfer's note and the read-only view --------------------------------------------------
  var threadInfo = new Map(); // conversation id -> {transfer_note, acting}
  var banner = $("con-transfer-banner");
  var viewOnlyNode = $("con-view-only");

  function noteNode(note, className) {
    var node = el("div", className);
    node.appendChild(el("b", null, interpolate(gettext("Transfer note from %s:"), [(note.by && note.by.name) || gettext("Agent")])));
    node.appendChild(document.createTextNode(" "));
    node.appendChild(el("span", "transfer-note-text", note.text));
    return node;
  }
  function offerNote(card, data) {
    if (data.note && data.note.text) card.appendChild(noteNode(data.note, "offer-note"));
  }
  function onThreadInfo(id, data) {
    if (!("transfer_note" in data)) return;
    threadInfo.set(id, { transfer_note: data.transfer_note, acting: data.acting !== false });
    if (state.currentId === id) afterChatHead(state.conversations.get(id));
  }
  function afterChatHead(summary) {
    if (!summary) return;
    var info = threadInfo.get(summary.id) || {};
    banner.textContent = "";
    if (info.transfer_note && info.transfer_note.text) banner.appendChild(noteNode(info.transfer_note, "transfer-note"));
    banner.hidden = !banner.firstChild;
    var viewOnly = !!summary.view_only || info.acting === false;
    viewOnlyNode.hidden = !viewOnly;
    $("con-chat-inner").dataset.viewOnly = viewOnly ? "true" : "false";
    if (!viewOnly) {
      $("con-private").disabled = false;
      return;
    }
    $("con-transfer-open").disabled = true;
    $("con-close-open").disabled = true;
    $("con-template-open").hidden = true;
    var toggle = $("con-private");
    if (!toggle.checked) {
      toggle.checked = true;
      $("con-composer").dataset.private = "true";
    }
    toggle.disabled = true;
    $("con-input").placeholder = gettext("Internal note, only agents see it…");
  }
  C.afterChatHead = afterChatHead;
  C.alertsWanted = alertsWanted;
  C.offerNote = offerNote;
  C.onNotifyFrame = onNotifyFrame;
  C.onThreadInfo = onThreadInfo;
  C.openMention = openMention;
  C.updateTitle = updateTitle;
  renderMentions();
})(window.SwitchboardConsole);
