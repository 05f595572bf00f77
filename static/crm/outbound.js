// The contact record's "New conversation" form: lists the inboxes this user may start on
// (GET /api/v1/agent/contacts/<id>/conversations), then starts one with text or an approved template
// (POST the same URL). Every text shown is set with textContent: nothing the server sends is parsed as HTML.
// Its words come from the page's language catalog (/jsi18n/, loaded before this file: docs/i18n.md).
(function () {
  "use strict";
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (format, values) {
    return format.replace(/%\(\w+\)s/g, function (match) { return String(values[match.slice(2, -2)]); });
  };
  var ERROR_WORDS = {
    no_identity: gettext("This contact has no address on that inbox's channel."),
    template_required: gettext("The customer has not written in the last 24 hours: start with an approved template."),
    conversation_open: gettext("This contact already has an open conversation in that inbox."),
    forbidden: gettext("You may not start conversations on that inbox."),
    over_capacity: gettext("You already have as many conversations as you can take."),
    unknown_agent: gettext("You are not set up as an agent."),
    rate_limited: gettext("Too many messages: wait a moment."),
  };

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function newKey() {
    return "start-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  function setup(box) {
    var url = box.getAttribute("data-outbound-url");
    var form = box.querySelector("form");
    var inboxSelect = form.elements.inbox;
    var templateSelect = form.elements.template;
    var templateLabel = box.querySelector(".outbound-template");
    var params = box.querySelector(".outbound-params");
    var textLabel = box.querySelector(".outbound-text");
    var note = box.querySelector(".outbound-note");
    var result = box.querySelector(".outbound-result");
    var inboxes = [];
    var key = newKey();

    function current() {
      return inboxes.filter(function (i) { return String(i.id) === inboxSelect.value; })[0];
    }

    function showParams() {
      params.textContent = "";
      var inbox = current();
      var template = inbox && inbox.templates[Number(templateSelect.value)];
      if (!template) return;
      for (var n = 1; n <= template.params; n++) {
        var label = document.createElement("label");
        label.textContent = interpolate(gettext("Parameter %(n)s"), { n: n }, true) + " ";
        var input = document.createElement("input");
        input.name = "param";
        input.required = true;
        label.appendChild(input);
        params.appendChild(label);
      }
    }

    function showInbox() {
      var inbox = current();
      templateSelect.textContent = "";
      params.textContent = "";
      note.hidden = true;
      if (!inbox) return;
      var templates = inbox.templates || [];
      templateLabel.hidden = templates.length === 0;
      if (templates.length) {
        var none = document.createElement("option");
        none.value = "";
        none.textContent = gettext("Free text (only within 24 hours of the customer's last message)");
        templateSelect.appendChild(none);
        templates.forEach(function (t, n) {
          var option = document.createElement("option");
          option.value = String(n);
          option.textContent = t.name + " (" + t.language + ")";
          templateSelect.appendChild(option);
        });
      }
      textLabel.hidden = false;
      if (!inbox.reachable) {
        note.hidden = false;
        note.textContent = inbox.kind === "web"
          ? gettext("This contact has no live widget session on this inbox.")
          : gettext("This contact has no address on this inbox's channel.");
      } else if (inbox.open_conversation_id) {
        note.hidden = false;
        note.textContent = interpolate(
          gettext("An open conversation (#%(id)s) exists: the message goes there."),
          { id: inbox.open_conversation_id },
          true
        );
      }
    }

    templateSelect.addEventListener("change", function () {
      textLabel.hidden = templateSelect.value !== "";
      showParams();
    });
    inboxSelect.addEventListener("change", showInbox);

    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        inboxes = data.inboxes || [];
        inboxes.forEach(function (inbox) {
          var option = document.createElement("option");
          option.value = String(inbox.id);
          option.textContent = inbox.name + " (" + inbox.kind + ")";
          inboxSelect.appendChild(option);
        });
        if (!inboxes.length) result.textContent = gettext("You may not start conversations on any inbox.");
        showInbox();
      });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var inbox = current();
      if (!inbox) return;
      var body = { inbox_id: inbox.id, client_id: key };
      var template = inbox.templates && inbox.templates[Number(templateSelect.value)];
      if (templateSelect.value !== "" && template) {
        var values = Array.prototype.map.call(params.querySelectorAll("input"), function (i) { return i.value; });
        body.template = { name: template.name, language: template.language, params: values };
      } else {
        body.text = form.elements.text.value;
      }
      result.textContent = gettext("Starting…");
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      })
        .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (answer) {
          if (!answer.ok) {
            var error = answer.data.error || {};
            result.textContent = ERROR_WORDS[error.code] || error.detail || gettext("Something went wrong. Try again.");
            return;
          }
          key = newKey();
          form.elements.text.value = "";
          result.textContent = interpolate(
            answer.data.created
              ? gettext("Conversation #%(id)s. Open the console to continue it.")
              : gettext("Added to conversation #%(id)s. Open the console to continue it."),
            { id: answer.data.conversation_id },
            true
          );
        })
        .catch(function () { result.textContent = gettext("The server could not be reached. Try again."); });
    });
  }

  document.querySelectorAll("details.outbound").forEach(setup);
})();
