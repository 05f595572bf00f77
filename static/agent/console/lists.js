/*
 * The agent console: presence, offers, and the Mine and Queue lists (kept live by status and assignment
 * frames).
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var $ = C.$, alertAgent = C.alertAgent, api = C.api, config = C.config,
    conversationIdOf = C.conversationIdOf, el = C.el, showNotice = C.showNotice, state = C.state,
    timeLabel = C.timeLabel, waitedLabel = C.waitedLabel, send = C.send, gettext = C.gettext,
    interpolate = C.interpolate, ngettext = window.ngettext, statusLabel = C.statusLabel, conversationName = C.conversationName;
  // Frames published by two server processes may arrive out of order: a lower version is older.
  var isStale = C.protocol.isStale;
  var input = $("con-input");

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
        // A conversation opened through a mention is not the agent's: no list names it (notify.js).
        if (!seen.has(id) && summary.status !== "closed" && !summary.view_only) state.conversations.delete(id);
      });
    }
    renderMine();
    if (state.currentId && state.conversations.has(state.currentId)) C.renderChatHead();
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
        if (state.currentId === id) {
          showNotice(
            data.agent && data.agent.name
              ? interpolate(gettext("This conversation is now with %s."), [data.agent.name])
              : gettext("This conversation is now with another agent."),
          );
        }
      }
      scheduleQueueRefresh();
      return;
    }
    if (data.conversation && typeof data.conversation === "object") mergeSummaries([data.conversation], false);
    refreshMine().then(function () {
      if (state.pickedId === id) showTab("mine");
      if (!state.currentId || state.pickedId === id) C.openConversation(id);
      state.pickedId = null;
    });
    scheduleQueueRefresh();
  }

  function onReleased(data) {
    // Transferred or requeued away from me: it leaves my list; the thread stays readable until I move on.
    var id = conversationIdOf(data);
    if (!id || !state.conversations.has(id)) return;
    state.conversations.delete(id);
    renderMine();
    if (state.currentId === id) {
      showNotice(interpolate(gettext("This conversation left your list (%s)."), [statusLabel(data.status || "moved")]));
      $("con-chat-status").textContent = statusLabel(data.status || "moved");
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
      if (state.currentId === id) showNotice(interpolate(gettext("This conversation left your list (%s)."), [statusLabel(data.status)]));
      return;
    }
    summary.status = data.status;
    renderMine();
    if (state.currentId === id) C.renderChatHead();
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
      showNotice(gettext("Not connected: presence not changed."), "error");
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
    head.appendChild(el("b", null, conversationName(conversation)));
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
    var accept = el("button", "primary", gettext("Accept"));
    accept.type = "button";
    accept.title = "Alt+A";
    var reject = el("button", null, gettext("Reject"));
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
    if (C.offerNote) C.offerNote(card, data); // the transfer's note for this agent (notify.js)
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
      countdown.textContent = C.format.duration(Math.ceil(left / 1000));
      fill.style.width = Math.max(0, (left / total) * 100) + "%";
      card.classList.toggle("urgent", left < 8000);
    }
    tick();
    offer.timer = setInterval(tick, 250);
    state.offers.set(data.offer_id, offer);
    alertAgent("offer", gettext("New conversation offered"), preview || gettext("A customer is waiting"), offer.conversationId);
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
      showNotice(gettext("Not connected."), "error");
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
        showNotice(interpolate(gettext("Could not load your conversations: %s"), [err.message]), "error");
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
    var list = Array.from(state.conversations.values()).filter(function (c) {
      return !c.view_only;
    });
    var order = { assigned: 0, offered: 1, queued: 2, bot: 3, closed: 4 };
    list.sort(function (a, b) {
      var byStatus = (order[a.status] || 0) - (order[b.status] || 0);
      if (byStatus) return byStatus;
      return String(b.last_message_at || "").localeCompare(String(a.last_message_at || "")) || b.id - a.id;
    });
    return list;
  }

  // Other parts add to the lists without changing them here (labels.js, snooze.js): `C.listFilters`
  // (a conversation is shown when every one says yes) and `C.itemDecorators` (each adds to a row).
  C.listFilters = C.listFilters || [];
  C.itemDecorators = C.itemDecorators || [];
  function shown(summary) {
    return C.listFilters.every(function (keep) {
      return keep(summary);
    });
  }
  function decorate(item, summary) {
    C.itemDecorators.forEach(function (add) {
      add(item, summary);
    });
  }
  function isSnoozed(summary) {
    return !!summary.snoozed && summary.status === "assigned";
  }

  function renderMine() {
    var everything = sortedConversations();
    var list = everything.filter(shown);
    // Snoozed conversations leave the active list for a section of their own, below it.
    var snoozed = list.filter(isSnoozed);
    list = list.filter(function (summary) {
      return !isSnoozed(summary);
    });
    mineNode.textContent = "";
    $("con-mine-count").textContent = String(
      everything.filter(function (c) {
        return c.status !== "closed" && !isSnoozed(c);
      }).length,
    );
    if (!list.length && !snoozed.length) {
      mineNode.appendChild(el("li", "con-list-empty muted", gettext("No conversations yet. Set yourself available or pick one from the queue.")));
    }
    if (snoozed.length) {
      list = list.concat([null], snoozed);
    }
    list.forEach(function (summary) {
      if (summary === null) {
        var section = el("li", "con-list-section muted small", interpolate(gettext("Snoozed (%s)"), [snoozed.length]));
        section.id = "con-snoozed-section";
        mineNode.appendChild(section);
        return;
      }
      var item = el("li", "con-item");
      item.dataset.conversationId = String(summary.id);
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", summary.id === state.currentId ? "true" : "false");
      item.tabIndex = -1;
      if (summary.id === state.currentId) item.classList.add("current");
      if (summary.unread) item.classList.add("has-unread");
      var top = el("div", "con-item-top");
      top.appendChild(el("span", "con-item-name", conversationName(summary)));
      top.appendChild(el("span", "con-item-time muted", timeLabel(summary.last_message_at || summary.created_at)));
      item.appendChild(top);
      var bottom = el("div", "con-item-bottom");
      var last = summary.last_message;
      var text = last && (last.text || gettext("Attachment"));
      var preview = !last
        ? ""
        : last.private
          ? interpolate(gettext("Note: %s"), [text])
          : last.sender_kind === "agent"
            ? interpolate(gettext("You: %s"), [text])
            : text;
      bottom.appendChild(el("span", "con-item-preview", preview));
      var badges = el("span", "con-item-badges");
      badges.appendChild(el("span", "status-pill small status-" + summary.status, statusLabel(summary.status)));
      if (summary.unread) {
        var unread = el("span", "unread", summary.unread > 99 ? "99+" : summary.unread);
        unread.title = interpolate(ngettext("%s unread message", "%s unread messages", summary.unread), [summary.unread]);
        badges.appendChild(unread);
      }
      bottom.appendChild(badges);
      item.appendChild(bottom);
      decorate(item, summary);
      item.addEventListener("click", function () {
        C.openConversation(summary.id);
      });
      mineNode.appendChild(item);
    });
    var totalUnread = everything.reduce(function (sum, c) {
      return sum + (c.unread || 0);
    }, 0);
    // notify.js adds the unread mentions and owns the title.
    if (C.updateTitle) C.updateTitle(totalUnread);
    else document.title = (totalUnread ? "(" + totalUnread + ") " : "") + gettext("Agent console") + " · Switchboard";
  }

  function renderQueue() {
    queueNode.textContent = "";
    $("con-queue-count").textContent = String(state.queue.length);
    if (!state.queue.length) queueNode.appendChild(el("li", "con-list-empty muted", gettext("Nobody is waiting in your queues.")));
    state.queue.filter(shown).forEach(function (entry) {
      var item = el("li", "con-item queue-item");
      item.dataset.conversationId = String(entry.id);
      var top = el("div", "con-item-top");
      top.appendChild(el("span", "con-item-name", conversationName(entry)));
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
      decorate(item, entry);
      var pick = el("button", "primary small pick", gettext("Pick"));
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
      showNotice(gettext("Not connected."), "error");
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


  C.addOffer = addOffer;
  C.answerOffer = answerOffer;
  C.mergeSummaries = mergeSummaries;
  C.oldestAnswered = oldestAnswered;
  C.oldestOffer = oldestOffer;
  C.onAssigned = onAssigned;
  C.onReleased = onReleased;
  C.onStatus = onStatus;
  C.pickConversation = pickConversation;
  C.refreshMine = refreshMine;
  C.refreshQueue = refreshQueue;
  C.removeOffer = removeOffer;
  C.renderMine = renderMine;
  C.renderQueue = renderQueue;
  C.scheduleMineRefresh = scheduleMineRefresh;
  C.scheduleQueueRefresh = scheduleQueueRefresh;
  C.setPresence = setPresence;
  C.showPresence = showPresence;
  C.showTab = showTab;
  C.sortedConversations = sortedConversations;
})(window.SwitchboardConsole);
