/*
 * The agent console: transfer (with a note for the receiving agent), close with a wrap-up note, and
 * approved templates (WhatsApp).
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var $ = C.$, api = C.api, el = C.el, newClientId = C.newClientId, showNotice = C.showNotice,
    state = C.state, send = C.send, addToThread = C.addToThread, gettext = C.gettext, interpolate = C.interpolate;

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
        $("con-transfer-note").value = "";
        transferDialog.showModal();
      },
      function (err) {
        showNotice(interpolate(gettext("Could not load transfer targets: %s"), [err.message]), "error");
      },
    );
  }
  transferDialog.addEventListener("close", function () {
    if (transferDialog.returnValue !== "ok") return;
    var queueId = $("con-transfer-queue").value;
    var agentId = $("con-transfer-agent").value;
    if (!queueId && !agentId) {
      showNotice(gettext("Choose a queue or an agent to transfer to."), "error");
      return;
    }
    var frame = { type: "conversation.transfer", conversation_id: state.currentId };
    if (agentId) frame.agent_id = Number(agentId);
    else frame.queue_id = Number(queueId);
    // For whoever receives it: shown in their offer and above the thread (an internal note).
    var note = $("con-transfer-note").value.trim();
    if (note) frame.note = note;
    if (!send(frame)) showNotice(gettext("Not connected."), "error");
    else showNotice(gettext("Transfer requested."));
  });
  function openClose() {
    if (!state.currentId) return;
    $("con-close-note").value = "";
    if ($("con-close-reason")) $("con-close-reason").value = "";
    closeDialog.showModal();
  }
  closeDialog.addEventListener("close", function () {
    if (closeDialog.returnValue !== "ok") return;
    var note = $("con-close-note").value.trim();
    var frame = { type: "conversation.close", conversation_id: state.currentId };
    if (note) frame.wrap_up = note;
    var reason = $("con-close-reason");
    if (reason && reason.value) frame.reason_code = reason.value;
    if (!send(frame)) showNotice(gettext("Not connected."), "error");
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
    $("con-template-preview").textContent = template ? fillPreview(template.text, paramValues()) || gettext("(no preview text)") : "";
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
        showNotice(interpolate(gettext("Could not load the templates: %s"), [err.message]), "error");
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
      $("con-template-error").textContent = gettext("Fill in every parameter.");
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
        showNotice(gettext("Template sent."));
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


  C.openClose = openClose;
  C.openTemplates = openTemplates;
  C.openTransfer = openTransfer;
})(window.SwitchboardConsole);
