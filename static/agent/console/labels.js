/*
 * The agent console: labels (coloured chips in the lists and the thread header, the label picker, the
 * label filter of the lists) and the close dialog's list of close reasons.
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 *
 * A label's name is put on the page with textContent only; its colour reaches a style only when it is
 * "#" and six hex digits (the server validates it too), so neither can inject markup or CSS (the chip
 * builder is static/shared/thread.js's `labelChip`, shared with the transcript's header).
 */
(function (C) {
  "use strict";

  var $ = C.$, api = C.api, el = C.el, state = C.state, gettext = C.gettext, interpolate = C.interpolate,
    showNotice = C.showNotice;
  state.labels = [];
  state.closeReasons = [];
  state.labelFilter = "";

  // The chips themselves are the transcript's (static/shared/thread.js, loaded before).
  var chip = window.SwitchboardThread.labelChip;
  function chips(summary) {
    return window.SwitchboardThread.labelChips(summary.labels);
  }

  // ---- the lists: chips on each row, and the filter ---------------------------------------------------
  C.itemDecorators.push(function (item, summary) {
    if (summary.labels && summary.labels.length) item.appendChild(chips(summary));
  });
  C.listFilters.push(function (summary) {
    if (!state.labelFilter) return true;
    return (summary.labels || []).some(function (label) {
      return String(label.id) === state.labelFilter;
    });
  });
  var filter = $("con-label-filter");
  function renderFilter() {
    var current = state.labelFilter;
    filter.textContent = "";
    filter.appendChild(el("option", null, gettext("All labels"))).value = "";
    state.labels.forEach(function (label) {
      var option = el("option", null, label.name);
      option.value = String(label.id);
      filter.appendChild(option);
    });
    filter.value = current;
    filter.hidden = !state.labels.length;
  }
  filter.addEventListener("change", function () {
    state.labelFilter = filter.value;
    C.renderMine();
    C.renderQueue();
  });

  // ---- the thread header --------------------------------------------------------------------------
  C.chatHeadDecorators = C.chatHeadDecorators || [];
  C.chatHeadDecorators.push(function (summary) {
    var box = $("con-chat-labels");
    box.textContent = "";
    box.appendChild(chips(summary));
    $("con-labels-open").disabled = summary.status === "closed";
  });

  function labelsChanged(conversationId, labels) {
    var summary = state.conversations.get(conversationId);
    if (summary) summary.labels = labels;
    state.queue.forEach(function (entry) {
      if (entry.id === conversationId) entry.labels = labels;
    });
    C.renderMine();
    C.renderQueue();
    if (state.currentId === conversationId) C.renderChatHead();
  }
  function onLabels(data) {
    labelsChanged(Number(data.conversation_id), data.labels || []);
  }

  // ---- the picker ---------------------------------------------------------------------------------
  var dialog = $("con-labels");
  var choices = $("con-labels-choices");
  function openLabels() {
    var id = state.currentId;
    if (!id) return;
    var summary = state.conversations.get(id) || {};
    var on = new Set(
      (summary.labels || []).map(function (label) {
        return label.id;
      }),
    );
    choices.textContent = "";
    if (!state.labels.length) choices.appendChild(el("p", "muted", gettext("No labels yet: an admin defines them.")));
    // The active labels, and any inactive one still on the conversation (it may be taken off).
    var offered = state.labels.slice();
    (summary.labels || []).forEach(function (label) {
      if (!offered.some((l) => l.id === label.id)) offered.push(label);
    });
    offered.forEach(function (label) {
      var row = el("label", "con-label-choice");
      var box = el("input");
      box.type = "checkbox";
      box.value = String(label.id);
      box.checked = on.has(label.id);
      row.appendChild(box);
      row.appendChild(chip(label));
      if (label.description) row.appendChild(el("span", "muted small", label.description));
      choices.appendChild(row);
    });
    dialog.dataset.conversationId = String(id);
    dialog.showModal();
  }
  dialog.addEventListener("close", function () {
    if (dialog.returnValue !== "ok") return;
    var id = Number(dialog.dataset.conversationId);
    var ids = Array.from(choices.querySelectorAll("input:checked")).map(function (box) {
      return Number(box.value);
    });
    api("conversations/" + id + "/labels", { method: "POST", body: { label_ids: ids } })
      .then(function (data) {
        labelsChanged(id, data.labels || []);
      })
      .catch(function (err) {
        showNotice(interpolate(gettext("Labels not changed: %s"), [err.message]), "error");
      });
  });
  $("con-labels-open").addEventListener("click", openLabels);

  // ---- close reasons ------------------------------------------------------------------------------
  function renderCloseReasons() {
    var select = $("con-close-reason");
    select.textContent = "";
    select.appendChild(el("option", null, gettext("No reason from the list"))).value = "";
    state.closeReasons.forEach(function (reason) {
      var option = el("option", null, reason.name);
      option.value = reason.code;
      select.appendChild(option);
    });
    $("con-close-reason-row").hidden = !state.closeReasons.length;
  }

  function loadLabels() {
    return api("labels")
      .then(function (data) {
        state.labels = data.labels || [];
        state.closeReasons = data.close_reasons || [];
        renderFilter();
        renderCloseReasons();
      })
      .catch(function () {
        /* the console works without labels; the next load tries again */
      });
  }

  loadLabels();

  C.loadLabels = loadLabels;
  C.labelChips = chips;
  C.onLabels = onLabels;
  C.openLabels = openLabels;
})(window.SwitchboardConsole);
