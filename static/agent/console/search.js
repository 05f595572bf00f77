/*
 * The agent console: the search box. Conversations by their messages' text (any 2-character word in
 * Chinese, Japanese or Korean) and contacts, with filters the server describes (GET search/filters: the
 * controls are built from that list, so a new filter needs no change here), through GET search
 * (interface/api_agent/search.py; docs/interface.md, "Search"). A conversation of my list opens in the
 * thread; any other one I may see opens read-only in the transcript dialog (agent/console/history.js,
 * `openTranscript(id, {seq})`) at the message found. `/` focuses the box, Esc clears it.
 * Everything found is put on the page with textContent; the words found are <mark> elements around text
 * nodes, never markup from the server.
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var $ = C.$, el = C.el, api = C.api, gettext = C.gettext, interpolate = C.interpolate, state = C.state;
  var root = $("con-search");
  if (!root) return;
  var DEBOUNCE_MS = 300;

  // ---- the box and the filters ------------------------------------------------------------------
  var form = el("form", "con-search-form");
  form.setAttribute("role", "search");
  var input = el("input", "con-search-input");
  input.type = "search";
  input.id = "con-search-input";
  input.autocomplete = "off";
  input.maxLength = 200;
  input.placeholder = gettext("Search messages and contacts (/)");
  input.setAttribute("aria-label", gettext("Search messages and contacts"));
  var toggle = el("button", "ghost small con-search-toggle", gettext("Filters"));
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  var bar = el("div", "con-search-bar");
  bar.appendChild(input);
  bar.appendChild(toggle);
  form.appendChild(bar);
  var filtersNode = el("div", "con-search-filters");
  filtersNode.hidden = true;
  form.appendChild(filtersNode);
  root.appendChild(form);

  var results = el("section", "con-search-results");
  results.id = "con-search-results";
  results.setAttribute("aria-label", gettext("Search results"));
  results.setAttribute("aria-live", "polite");
  results.hidden = true;
  root.parentNode.insertBefore(results, root.nextSibling);

  var controls = {}; // filter name -> its control
  var filtersLoaded = null;

  function loadFilters() {
    if (filtersLoaded) return filtersLoaded;
    filtersLoaded = api("search/filters")
      .then(function (data) {
        (data.filters || []).forEach(function (filter) {
          var label = el("label", "con-search-filter");
          label.appendChild(el("span", "small muted", filter.label));
          var control;
          if (filter.kind === "date") {
            control = el("input");
            control.type = "date";
          } else {
            control = el("select");
            var any = el("option", null, gettext("Any"));
            any.value = "";
            control.appendChild(any);
            (filter.options || []).forEach(function (option) {
              var node = el("option", null, option.label);
              node.value = String(option.value);
              control.appendChild(node);
            });
          }
          control.name = filter.name;
          control.dataset.filter = filter.name;
          control.addEventListener("change", function () {
            search(true);
          });
          controls[filter.name] = control;
          label.appendChild(control);
          filtersNode.appendChild(label);
        });
      })
      .catch(function (err) {
        filtersLoaded = null;
        C.showNotice(err.message, "error");
      });
    return filtersLoaded;
  }

  toggle.addEventListener("click", function () {
    var open = filtersNode.hidden;
    filtersNode.hidden = !open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) loadFilters();
  });

  function params(cursor) {
    var query = new URLSearchParams();
    query.set("q", input.value);
    Object.keys(controls).forEach(function (name) {
      if (controls[name].value) query.set(name, controls[name].value);
    });
    if (cursor) query.set("cursor", String(cursor));
    return query;
  }

  // ---- searching --------------------------------------------------------------------------------
  var timer = null;
  var asked = 0; // the newest request: an older answer arriving late is dropped
  var shown = new Map(); // conversation id -> its result row (pages add to it)

  function clear() {
    clearTimeout(timer);
    asked += 1;
    input.value = "";
    shown.clear();
    results.textContent = "";
    results.hidden = true;
    root.parentNode.classList.remove("searching");
  }

  function search(now) {
    clearTimeout(timer);
    if (!input.value.trim()) {
      var keep = input.value;
      clear();
      input.value = keep;
      return;
    }
    timer = setTimeout(run, now ? 0 : DEBOUNCE_MS);
  }

  function run(cursor) {
    var mine = ++asked;
    var first = !cursor;
    if (first) {
      shown.clear();
      results.textContent = "";
      results.appendChild(el("p", "muted small con-search-note", gettext("Searching…")));
    }
    results.hidden = false;
    root.parentNode.classList.add("searching");
    if (first) {
      // Contacts come apart: the conversations do not wait for the scan of the contact records.
      api("search/contacts?" + new URLSearchParams({ q: input.value }).toString())
        .then(function (data) {
          if (mine === asked) renderContacts(data.contacts || []);
        })
        .catch(function () {
          /* the conversations' answer says what was wrong */
        });
    }
    return api("search?" + params(cursor).toString())
      .then(function (data) {
        if (mine !== asked) return;
        render(data, first);
      })
      .catch(function (err) {
        if (mine !== asked) return;
        results.textContent = "";
        var reason = err.data && err.data.error && err.data.error.reason;
        var text = reason === "query_too_short" ? gettext("Type a word of at least 2 characters: single characters are not searched.") : err.message;
        var note = el("p", "con-search-note " + (reason === "query_too_short" ? "muted" : "error"), text);
        note.setAttribute("role", "status");
        results.appendChild(note);
      });
  }

  function hitsLabel(count) {
    return interpolate(window.ngettext("%s message found", "%s messages found", count), [count]);
  }

  function heading(text) {
    return el("h4", "con-search-heading", text);
  }

  function render(data, first) {
    if (first) {
      var keep = results.querySelector(".con-search-contacts-part");
      results.textContent = "";
      if (keep) results.appendChild(keep);
    }
    var more = results.querySelector(".con-search-more");
    if (more) more.remove();
    var list = results.querySelector(".con-search-conversations");
    if (!list) {
      results.appendChild(heading(gettext("Conversations")));
      list = el("ul", "con-search-list con-search-conversations");
      results.appendChild(list);
    }
    (data.conversations || []).forEach(function (found) {
      var row = shown.get(found.id);
      if (row) {
        var hits = row.querySelector(".con-search-hits");
        row.dataset.hits = String(Number(row.dataset.hits) + found.hits);
        hits.textContent = hitsLabel(Number(row.dataset.hits));
        hits.hidden = false;
        return;
      }
      row = conversationRow(found);
      shown.set(found.id, row);
      list.appendChild(row);
    });
    if (!shown.size && !data.next_cursor) {
      list.appendChild(el("li", "muted small con-search-note", gettext("No conversation has these words.")));
    }
    if (data.next_cursor) {
      var button = el("button", "small con-search-more", shown.size ? gettext("More results") : gettext("Search older messages"));
      button.type = "button";
      button.addEventListener("click", function () {
        button.disabled = true;
        run(data.next_cursor);
      });
      results.appendChild(button);
    }
  }

  // Contacts first, above the conversations, whichever answer arrives first.
  function renderContacts(contacts) {
    if (!contacts.length) return;
    var part = el("div", "con-search-contacts-part");
    part.appendChild(heading(gettext("Contacts")));
    var list = el("ul", "con-search-list con-search-contacts");
    contacts.forEach(function (contact) {
      list.appendChild(contactRow(contact));
    });
    part.appendChild(list);
    results.insertBefore(part, results.firstChild);
  }

  // The snippet's text with the words found in <mark>: text nodes only.
  function snippetNode(snippet) {
    var node = el("div", "con-search-snippet");
    var text = Array.from((snippet && snippet.text) || ""); // marks count code points
    var at = 0;
    ((snippet && snippet.marks) || []).forEach(function (mark) {
      var start = Math.max(at, mark[0]), end = Math.min(text.length, mark[1]);
      if (start >= end) return;
      if (start > at) node.appendChild(document.createTextNode(text.slice(at, start).join("")));
      node.appendChild(el("mark", null, text.slice(start, end).join("")));
      at = end;
    });
    if (at < text.length) node.appendChild(document.createTextNode(text.slice(at).join("")));
    return node;
  }

  function conversationRow(found) {
    var row = el("li", "con-search-item");
    row.tabIndex = 0;
    row.dataset.conversationId = String(found.id);
    row.dataset.hits = String(found.hits);
    var top = el("div", "con-item-top");
    top.appendChild(el("span", "con-item-name", C.conversationName(found)));
    var pill = el("span", "status-pill status-" + found.status, C.statusLabel(found.status));
    top.appendChild(pill);
    row.appendChild(top);
    var meta = ["#" + found.id, found.inbox && found.inbox.name, found.assignee ? found.assignee.name : gettext("unassigned")];
    var metaNode = el("div", "muted small con-search-meta", meta.filter(Boolean).join(" · "));
    // Not in my list (another's, or closed a while ago): it opens read-only.
    if (!state.conversations.has(found.id)) metaNode.appendChild(el("span", "con-search-readonly", " · " + gettext("read-only")));
    row.appendChild(metaNode);
    if (found.labels && found.labels.length && C.labelChips) row.appendChild(C.labelChips(found));
    var message = found.message || {};
    var who = el("div", "muted small con-search-who", ((message.sender && message.sender.name) || "") + " · " + C.timeLabel(message.created_at));
    if (message.private) who.appendChild(el("span", "msg-private", " " + gettext("internal note")));
    row.appendChild(who);
    row.appendChild(snippetNode(message.snippet));
    var hits = el("div", "muted small con-search-hits", hitsLabel(found.hits));
    hits.hidden = found.hits < 2;
    row.appendChild(hits);
    function open() {
      openFound(found);
    }
    row.addEventListener("click", open);
    row.addEventListener("keydown", function (event) {
      if (event.key === "Enter") open();
    });
    return row;
  }

  function contactRow(contact) {
    var row = el("li", "con-search-item con-search-contact");
    var href = C.safeUrl(contact.url);
    var link = el("a", "con-item-name", contact.display_name || interpolate(gettext("Contact #%s"), [contact.id]));
    if (href) link.href = href;
    link.target = "_blank";
    link.rel = "noopener";
    row.appendChild(link);
    var details = [].concat(contact.emails || [], contact.phones || [], contact.company ? [contact.company] : []);
    if (details.length) row.appendChild(el("div", "muted small", details.join(" · ")));
    return row;
  }

  // ---- opening a conversation found ----------------------------------------------------------------
  // One of my list opens in the chat pane; any other one in the console's one read-only transcript
  // (agent/console/history.js), scrolled to the message found.
  function openFound(found) {
    if (state.conversations.has(found.id)) {
      C.openConversation(found.id);
      return;
    }
    C.openTranscript(found.id, { seq: found.message && found.message.seq });
  }

  // ---- keys ---------------------------------------------------------------------------------------
  input.addEventListener("input", function () {
    search(false);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    search(true);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      clear();
      input.blur();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable);
    if (typing || document.querySelector("dialog[open]")) return;
    event.preventDefault();
    input.focus();
    input.select();
  });

  C.searchClear = clear;
})(window.SwitchboardConsole);
