/*
 * The agent console: snooze. A snoozed conversation moves to the "Snoozed" section of Mine (lists.js) until
 * its time comes or its customer writes; the server says so with conversation.snoozed and
 * conversation.unsnoozed frames (docs/protocol.md), and the conversation moves back.
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var $ = C.$, api = C.api, el = C.el, state = C.state, gettext = C.gettext, interpolate = C.interpolate,
    showNotice = C.showNotice, conversationName = C.conversationName;

  C.itemDecorators.push(function (item, summary) {
    if (!summary.snoozed || summary.status !== "assigned") return;
    item.classList.add("snoozed");
    item.appendChild(
      el(
        "div",
        "con-item-snooze muted small",
        summary.snoozed_until
          ? interpolate(gettext("Snoozed until %s"), [C.timeLabel(summary.snoozed_until)])
          : gettext("Snoozed until the customer writes"),
      ),
    );
  });

  var button = $("con-snooze-open");
  C.chatHeadDecorators.push(function (summary) {
    var snoozed = !!summary.snoozed && summary.status === "assigned";
    button.textContent = snoozed ? gettext("Wake") : gettext("Snooze");
    button.dataset.snoozed = snoozed ? "true" : "false";
    button.disabled = summary.status !== "assigned";
  });

  function changed(id, fields) {
    var summary = state.conversations.get(id);
    if (!summary) return;
    Object.assign(summary, fields);
    C.renderMine();
    if (state.currentId === id) C.renderChatHead();
  }

  // datetime-local wants the local wall time, "YYYY-MM-DDTHH:MM:SS".
  function localValue(date) {
    function two(n) {
      return String(n).padStart(2, "0");
    }
    return (
      date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate()) + "T" +
      two(date.getHours()) + ":" + two(date.getMinutes()) + ":" + two(date.getSeconds())
    );
  }

  var dialog = $("con-snooze");
  function openSnooze() {
    var id = state.currentId;
    if (!id) return;
    if (button.dataset.snoozed === "true") {
      wake(id);
      return;
    }
    $("con-snooze-reply").checked = true;
    $("con-snooze-until").value = localValue(new Date(Date.now() + 3600 * 1000));
    dialog.dataset.conversationId = String(id);
    dialog.showModal();
  }
  $("con-snooze-until").addEventListener("input", function () {
    $("con-snooze-time").checked = true;
  });
  dialog.addEventListener("close", function () {
    if (dialog.returnValue !== "ok") return;
    var id = Number(dialog.dataset.conversationId);
    var until = null;
    if ($("con-snooze-time").checked) {
      var when = new Date($("con-snooze-until").value);
      if (isNaN(when.getTime())) {
        showNotice(gettext("Choose when the conversation comes back."), "error");
        return;
      }
      until = when.toISOString();
    }
    api("conversations/" + id + "/snooze", { method: "POST", body: { until: until } })
      .then(function (data) {
        changed(id, { snoozed: true, snoozed_until: data.snoozed_until });
        showNotice(gettext("Snoozed."));
      })
      .catch(function (err) {
        showNotice(interpolate(gettext("Not snoozed: %s"), [err.message]), "error");
      });
  });
  function wake(id) {
    api("conversations/" + id + "/unsnooze", { method: "POST", body: {} })
      .then(function () {
        changed(id, { snoozed: false, snoozed_until: null });
      })
      .catch(function (err) {
        showNotice(err.message, "error");
      });
  }
  button.addEventListener("click", openSnooze);

  function onSnoozed(data) {
    changed(Number(data.conversation_id), { snoozed: true, snoozed_until: data.until || null });
  }
  function onUnsnoozed(data) {
    var id = Number(data.conversation_id);
    var summary = state.conversations.get(id);
    changed(id, { snoozed: false, snoozed_until: null });
    var name = summary ? conversationName(summary) : interpolate(gettext("Conversation #%s"), [id]);
    var text =
      data.reason === "customer"
        ? interpolate(gettext("%s is back: the customer wrote."), [name])
        : data.reason === "time"
          ? interpolate(gettext("%s is back: its snooze ended."), [name])
          : interpolate(gettext("%s is back."), [name]);
    showNotice(text);
    C.alertAgent("message", gettext("A snoozed conversation is back"), text, id);
    if (data.status !== "assigned") C.scheduleMineRefresh();
  }

  C.onSnoozed = onSnoozed;
  C.onUnsnoozed = onUnsnoozed;
  C.openSnooze = openSnooze;
})(window.SwitchboardConsole);
