/*
 * Switchboard agent console. Plain JS, no build step. Talks to /ws/v1/agent/ (session cookie) for live
 * frames and to /api/v1/agent/ for lists, history and the contact record. Everything customers write is
 * put on the page with textContent only. See docs/interface.md.
 *
 * This script comes last of the console's scripts (templates/imsubsystem/agent_console.html loads them in
 * order into the SwitchboardConsole namespace, after the shared protocol client static/shared/protocol.js):
 * it routes each frame to its part, words every error, binds the keyboard and starts the console.
 */
(function (C) {
  "use strict";

  var $ = C.$, config = C.config, showNotice = C.showNotice, state = C.state, thread = C.thread,
    updateNotifyButton = C.updateNotifyButton, onConnected = C.onConnected, addOffer = C.addOffer,
    answerOffer = C.answerOffer, oldestAnswered = C.oldestAnswered, oldestOffer = C.oldestOffer,
    onAssigned = C.onAssigned, onReleased = C.onReleased, onStatus = C.onStatus,
    pickConversation = C.pickConversation, removeOffer = C.removeOffer, renderMine = C.renderMine,
    renderQueue = C.renderQueue, scheduleMineRefresh = C.scheduleMineRefresh,
    scheduleQueueRefresh = C.scheduleQueueRefresh, setPresence = C.setPresence,
    showPresence = C.showPresence, showTab = C.showTab, sortedConversations = C.sortedConversations,
    onDeliveryStatus = C.onDeliveryStatus, onMessage = C.onMessage, onRead = C.onRead, onTyping = C.onTyping,
    openConversation = C.openConversation, loadCanned = C.loadCanned, submit = C.submit,
    openClose = C.openClose, openTransfer = C.openTransfer, gettext = C.gettext, interpolate = C.interpolate;
  var gettext_noop = window.gettext_noop;
  var input = $("con-input");
  var privateToggle = $("con-private");

  // ---- frames --------------------------------------------------------------------------------
  function handleFrame(data) {
    switch (data.type) {
      case "agent.ready":
        onConnected(data);
        if (C.onNotifyFrame) C.onNotifyFrame(data); // the unread mentions (notify.js)
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
      case "conversation.labels":
        C.onLabels(data);
        break;
      case "conversation.snoozed":
        C.onSnoozed(data);
        break;
      case "conversation.unsnoozed":
        C.onUnsnoozed(data);
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
        if (C.onNotifyFrame) C.onNotifyFrame(data); // notification.new, notification.read (notify.js)
        break;
    }
  }

  function onAck(data) {
    C.outbox.remove(data.client_id);
    if (data.message) onMessage(data.message);
  }

  // In English here, in the page's language on screen (errorWords). Codes whose server detail names the
  // problem exactly (which field, how long) show that detail.
  var ERROR_WORDS = {
    bad_json: gettext_noop("The server could not read that request. Reload the page and try again."),
    unknown_type: gettext_noop("The server does not know that action. Reload the page to get the current console."),
    invalid: gettext_noop("Something in the request was not accepted."),
    too_long: gettext_noop("The message is too long."),
    empty: gettext_noop("Write a message or attach a file first."),
    rate_limited: gettext_noop("Too many actions at once. Wait a moment and try again."),
    auth_required: gettext_noop("Your session has ended. Log in again."),
    auth_failed: gettext_noop("Your session has ended. Log in again."),
    origin_not_allowed: gettext_noop("This page is not allowed to connect to the server."),
    forbidden: gettext_noop("You are not allowed to do that."),
    not_found: gettext_noop("That conversation no longer exists or is not yours."),
    conversation_closed: gettext_noop("The conversation is closed."),
    illegal_transition: gettext_noop("The conversation cannot do that in its current state."),
    unknown_attachment: gettext_noop("A file could not be attached: it is unknown or not yours."),
    too_large: gettext_noop("The file or request is larger than the limit."),
    offer_gone: gettext_noop("The offer expired or someone else took the conversation."),
    not_yours: gettext_noop("That offer or conversation belongs to someone else."),
    over_capacity: gettext_noop("You already have as many conversations as you can take."),
    not_waiting: gettext_noop("The conversation is no longer waiting in the queue: someone else may have taken it."),
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
  var DETAIL_SAYS_MORE = { invalid: true, too_long: true, unknown_attachment: true };

  function errorWords(code, detail) {
    if (DETAIL_SAYS_MORE[code] && detail) return detail;
    return ERROR_WORDS[code] ? gettext(ERROR_WORDS[code]) : detail || gettext("Something went wrong. Try again.");
  }

  function onError(data) {
    var text = errorWords(data.code, data.detail);
    var item = data.client_id ? C.outbox.remove(data.client_id) : undefined;
    if (item) {
      var row = thread(item.conversationId).byClientId.get(data.client_id);
      if (row) {
        row.dataset.state = "failed";
        var status = row.querySelector(".msg-state");
        if (status) status.textContent = interpolate(gettext("Not sent: %s"), [text]);
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

  C.errorWords = errorWords;
  C.handleFrame = handleFrame;

  // ---- start ---------------------------------------------------------------------------------
  showPresence(state.presence);
  updateNotifyButton();
  renderMine();
  renderQueue();
  loadCanned();
  C.connection.connect();

  // For tests and support: the seqs on screen in a thread, in order; open a conversation.
  C.seqs = function (id) {
    return Array.from(thread(id).bySeq.keys()).sort(function (a, b) {
      return a - b;
    });
  };
  C.open = openConversation;
})(window.SwitchboardConsole);
