/*
 * The agent console: past conversations of the customer, opened read-only from the contact panel.
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts" and "Past conversations").
 *
 * A click (or Enter) on a conversation of "Past conversations" reads its transcript
 * (GET conversations/<id>/transcript: messages, notes, files, events; the one visibility rule decides, a
 * conversation the agent may not see answers 404) and shows it as a thread in the #con-transcript dialog,
 * drawn by static/shared/thread.js with textContent, its labels as chips beside the line above it.
 * `SwitchboardConsole.openTranscript(id, {seq})` opens one from elsewhere (the search opens every
 * conversation that is not in the agent's list here), scrolled to message `seq` and marked (.thread-found).
 */
(function (C) {
  "use strict";

  var $ = C.$, api = C.api, el = C.el, gettext = C.gettext, interpolate = C.interpolate, statusLabel = C.statusLabel,
    safeUrl = C.safeUrl, F = C.format;
  var dialog = $("con-transcript");
  var body = $("con-transcript-body");
  var opening = 0;

  function headLine(conversation) {
    var parts = [conversation.contact && conversation.contact.name, conversation.inbox && conversation.inbox.name];
    if (conversation.queue) parts.push(conversation.queue);
    parts.push(statusLabel(conversation.status));
    if (conversation.assignee) parts.push(conversation.assignee);
    var span = F.dateTime(conversation.created_at);
    if (conversation.closed_at) span += " – " + F.dateTime(conversation.closed_at);
    parts.push(span);
    return parts.filter(Boolean).join(" · ");
  }

  // `options.seq`: the message to scroll to and mark (the search's message found).
  function openTranscript(id, options) {
    var seq = options && options.seq ? Number(options.seq) : null;
    var ticket = ++opening;
    $("con-transcript-title").textContent = interpolate(gettext("Conversation #%s"), [id]);
    $("con-transcript-meta").textContent = "";
    $("con-transcript-page").hidden = true;
    body.textContent = "";
    body.appendChild(el("p", "muted", gettext("Loading…")));
    if (!dialog.open) dialog.showModal();
    return api("conversations/" + Number(id) + "/transcript").then(
      function (data) {
        if (ticket !== opening) return;
        var meta = $("con-transcript-meta");
        meta.textContent = headLine(data.conversation);
        if (data.conversation.labels && data.conversation.labels.length) {
          var chips = window.SwitchboardThread.labelChips(data.conversation.labels);
          chips.classList.add("thread-labels");
          meta.appendChild(chips);
        }
        var page = safeUrl(data.conversation.url || "");
        var link = $("con-transcript-page");
        link.hidden = !page;
        if (page) link.href = page;
        body.textContent = "";
        body.appendChild(window.SwitchboardThread.render(data));
        if (data.truncated) body.appendChild(el("p", "muted", gettext("The conversation is longer: only its first messages are shown.")));
        var found = seq ? body.querySelector('[data-seq="' + seq + '"]') : null;
        if (found) {
          found.classList.add("thread-found");
          found.scrollIntoView({ block: "center" });
        }
      },
      function (err) {
        if (ticket !== opening) return;
        body.textContent = "";
        body.appendChild(el("p", "error", interpolate(gettext("Could not open the conversation: %s"), [err.message])));
      },
    );
  }

  var history = $("con-contact-history");
  function itemOf(event) {
    var item = event.target.closest("li[data-conversation-id]");
    return item && history.contains(item) ? item : null;
  }
  history.addEventListener("click", function (event) {
    var item = itemOf(event);
    if (item) openTranscript(Number(item.dataset.conversationId));
  });
  history.addEventListener("keydown", function (event) {
    var item = itemOf(event);
    if (item && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      openTranscript(Number(item.dataset.conversationId));
    }
  });

  C.openTranscript = openTranscript;
})(window.SwitchboardConsole);
