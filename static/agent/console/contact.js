/*
 * The agent console: the customer's CRM record beside the chat.
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var $ = C.$, api = C.api, el = C.el, safeUrl = C.safeUrl, showNotice = C.showNotice, state = C.state,
    timeLabel = C.timeLabel, renderMine = C.renderMine, renderChatHead = C.renderChatHead, gettext = C.gettext,
    interpolate = C.interpolate, statusLabel = C.statusLabel;

  // ---- contact record ------------------------------------------------------------------------
  var contactForm = $("con-contact-form");
  var noteForm = $("con-note-form");
  var contactConversationId = null;

  function loadContact(id) {
    contactConversationId = id;
    return api("conversations/" + id + "/contact").then(
      function (data) {
        if (contactConversationId !== id) return;
        renderContact(data.contact || data);
      },
      function (err) {
        $("con-contact-body").hidden = true;
        $("con-contact-empty").hidden = false;
        $("con-contact-empty").textContent = interpolate(gettext("Could not load the record: %s"), [err.message]);
      },
    );
  }
  function renderContact(contact) {
    $("con-contact-empty").hidden = true;
    $("con-contact-body").hidden = false;
    $("con-contact-name").textContent = contact.display_name || contact.name || interpolate(gettext("Contact #%s"), [contact.id]);
    var link = $("con-contact-link");
    var href = safeUrl(contact.url || "");
    link.hidden = !href;
    if (href) link.href = href;
    $("con-contact-verified").hidden = !contact.verified;
    renderVisitor(contact.visitor || null);
    var tags = $("con-contact-tags");
    tags.textContent = "";
    (contact.tags || []).forEach(function (tag) {
      var chip = el("span", "tag", tag.name);
      if (/^#[0-9a-fA-F]{6}$/.test(tag.color || "")) chip.style.setProperty("--tag", tag.color);
      tags.appendChild(chip);
    });
    contactForm.elements.name.value = contact.name || "";
    contactForm.elements.emails.value = (contact.emails || []).join(", ");
    contactForm.elements.phones.value = (contact.phones || []).join(", ");
    contactForm.elements.language.value = contact.language || "";
    contactForm.elements.timezone.value = contact.timezone || "";
    var editable = contact.can_edit !== false;
    Array.from(contactForm.elements).forEach(function (field) {
      field.disabled = !editable;
    });
    $("con-contact-saved").textContent = "";

    var identities = $("con-contact-identities");
    identities.textContent = "";
    (contact.identities || []).forEach(function (identity) {
      var item = el("li");
      item.appendChild(el("span", "chip", KIND_WORDS[identity.kind] || identity.kind_label || identity.kind));
      item.appendChild(document.createTextNode(" " + identity.external_id));
      if (identity.verified) item.appendChild(el("span", "chip verified", gettext("verified")));
      if (identity.display_name) item.appendChild(el("span", "muted", " (" + identity.display_name + ")"));
      identities.appendChild(item);
    });
    if (!identities.children.length) identities.appendChild(el("li", "muted", gettext("No channel identities.")));

    var notes = $("con-contact-notes");
    notes.textContent = "";
    (contact.notes || []).forEach(function (note) {
      var item = el("li");
      item.appendChild(el("div", "note-body", note.body));
      item.appendChild(el("div", "muted small", (note.author || gettext("system")) + " · " + timeLabel(note.created_at)));
      notes.appendChild(item);
    });
    if (!notes.children.length) notes.appendChild(el("li", "muted", gettext("No notes yet.")));

    var history = $("con-contact-history");
    history.textContent = "";
    (contact.conversations || []).forEach(function (conversation) {
      var item = el("li");
      // history.js opens its transcript on a click or Enter.
      item.dataset.conversationId = String(conversation.id);
      item.tabIndex = 0;
      var line = el("div", "history-line");
      line.appendChild(el("b", null, "#" + conversation.id));
      line.appendChild(el("span", "status-pill small status-" + conversation.status, statusLabel(conversation.status)));
      line.appendChild(el("span", "muted small", [conversation.channel, timeLabel(conversation.created_at)].filter(Boolean).join(" · ")));
      item.appendChild(line);
      if (conversation.last_message && conversation.last_message.text) item.appendChild(el("div", "muted small clip", conversation.last_message.text));
      if (conversation.id === state.currentId) item.classList.add("current");
      history.appendChild(item);
    });
    if (!history.children.length) history.appendChild(el("li", "muted", gettext("No other conversations.")));
  }
  // ---- visitor context: what the widget told of the visitor's page and browser ----------------
  // Every value is the visitor's browser's word: put on the page with textContent only.
  function addFact(list, label, value, href) {
    if (value === undefined || value === null || value === "") return;
    list.appendChild(el("dt", null, label));
    var dd = el("dd");
    var url = href ? safeUrl(href) : null;
    if (url) {
      var link = el("a", null, String(value));
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      dd.appendChild(link);
    } else {
      dd.textContent = String(value);
    }
    list.appendChild(dd);
  }
  function renderVisitor(visitor) {
    var section = $("con-visitor");
    section.hidden = !visitor;
    if (!visitor) return;
    var facts = $("con-visitor-facts");
    facts.textContent = "";
    addFact(facts, gettext("Page"), visitor.title || visitor.url, visitor.url);
    addFact(facts, gettext("URL"), visitor.url);
    addFact(facts, gettext("Referrer"), visitor.referrer, visitor.referrer);
    addFact(facts, gettext("Browser"), visitor.browser);
    addFact(facts, gettext("System"), visitor.os);
    addFact(facts, gettext("Language"), visitor.language);
    addFact(facts, gettext("Time zone"), visitor.timezone);
    var attributes = $("con-visitor-attributes");
    attributes.textContent = "";
    var custom = visitor.custom_attributes || {};
    Object.keys(custom).forEach(function (key) {
      var value = custom[key];
      addFact(attributes, key, value === null ? "—" : typeof value === "boolean" ? (value ? gettext("yes") : gettext("no")) : value);
    });
    $("con-visitor-attributes-title").hidden = !attributes.children.length;
    var pages = $("con-visitor-pages");
    pages.textContent = "";
    (visitor.pages || []).forEach(function (page) {
      var item = el("li", null, page.title || page.url);
      if (page.at) item.appendChild(el("span", "muted small", " · " + timeLabel(page.at)));
      item.title = page.url || "";
      pages.appendChild(item);
    });
    $("con-visitor-pages-title").hidden = !pages.children.length;
  }

  // The channel kinds that are not a platform's own name, in words (the others show the platform's name).
  var KIND_WORDS = { web: gettext("Web widget"), api: gettext("API channel"), email: gettext("Email") };
  var FIELD_WORDS = {
    name: gettext("Name"),
    emails: gettext("Emails"),
    phones: gettext("Phones"),
    language: gettext("Language"),
    timezone: gettext("Time zone"),
  };
  function splitList(value) {
    return value
      .split(",")
      .map(function (part) {
        return part.trim();
      })
      .filter(Boolean);
  }
  contactForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var id = contactConversationId;
    var saved = $("con-contact-saved");
    saved.textContent = gettext("Saving…");
    saved.className = "small";
    api("conversations/" + id + "/contact", {
      method: "POST",
      body: {
        name: contactForm.elements.name.value.trim(),
        emails: splitList(contactForm.elements.emails.value),
        phones: splitList(contactForm.elements.phones.value),
        language: contactForm.elements.language.value.trim(),
        timezone: contactForm.elements.timezone.value.trim(),
      },
    }).then(
      function (data) {
        renderContact(data.contact || data);
        saved.textContent = gettext("Saved");
        saved.className = "small ok";
        var summary = state.conversations.get(id);
        if (summary && summary.contact) {
          summary.contact.name = (data.contact || data).display_name;
          renderMine();
          if (state.currentId === id) renderChatHead();
        }
      },
      function (err) {
        var errors = err.data && err.data.error && err.data.error.errors;
        saved.textContent = errors
          ? Object.keys(errors)
              .map((k) => (FIELD_WORDS[k] || k) + ": " + errors[k].join(" "))
              .join("; ")
          : err.message;
        saved.className = "small error";
      },
    );
  });
  noteForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = noteForm.elements.body.value.trim();
    if (!body) return;
    var id = contactConversationId;
    api("conversations/" + id + "/contact/notes", { method: "POST", body: { body: body } }).then(
      function (data) {
        noteForm.elements.body.value = "";
        renderContact(data.contact || data);
      },
      function (err) {
        showNotice(interpolate(gettext("Note not saved: %s"), [err.message]), "error");
      },
    );
  });


  C.loadContact = loadContact;
})(window.SwitchboardConsole);
