/*
 * The agent console: @mentions in an internal note. Typing @ in the composer while "Internal note" is on
 * offers colleagues (the console's transfer targets: GET transfer-targets, by name or username), picked
 * with the arrow keys and Enter or Tab, or the mouse; Escape closes the list. The note keeps "@Name" as
 * text, and the message.send frame names the colleagues still written in it by id (`mentions`); the server
 * checks each one (docs/protocol.md, "Mentions").
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var $ = C.$, api = C.api, el = C.el, config = C.config, gettext = C.gettext, interpolate = C.interpolate;
  var input = $("con-input");
  var composer = $("con-composer");
  var privateToggle = $("con-private");
  var picker = $("con-mention-picker");

  var colleagues = null; // [{id, name, username}] once loaded
  var loading = null;
  var picked = new Map(); // "@Name" written in the composer -> user id
  var items = [];
  var index = 0;
  var query = null; // {start, text}: the "@..." being typed before the caret

  function loadColleagues() {
    if (colleagues) return Promise.resolve(colleagues);
    if (loading) return loading;
    loading = api("transfer-targets")
      .then(function (data) {
        colleagues = (data.agents || []).filter(function (a) {
          return a.id !== config.user.id;
        });
        return colleagues;
      })
      .catch(function () {
        loading = null;
        return [];
      });
    return loading;
  }

  function currentQuery() {
    if (!privateToggle.checked) return null;
    var caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    var before = input.value.slice(0, caret);
    var match = before.match(/(^|\s)@([^\s@]{0,40})$/);
    if (!match) return null;
    return { start: caret - match[2].length - 1, end: caret, text: match[2].toLowerCase() };
  }

  function close() {
    picker.hidden = true;
    picker.textContent = "";
    items = [];
    index = 0;
    query = null;
  }

  function render() {
    picker.textContent = "";
    if (!items.length) {
      picker.appendChild(el("div", "picker-empty muted", interpolate(gettext("No colleague matches %s"), ["@" + query.text])));
    }
    items.forEach(function (item, n) {
      var option = el("div", "picker-item" + (n === index ? " active" : ""));
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", n === index ? "true" : "false");
      option.dataset.userId = String(item.id);
      option.appendChild(el("span", "picker-shortcut", "@" + item.name));
      if (item.username && item.username !== item.name) option.appendChild(el("span", "picker-title muted", item.username));
      if (item.detail) option.appendChild(el("span", "picker-text muted", item.detail));
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();
        choose(n);
      });
      picker.appendChild(option);
    });
    picker.hidden = false;
  }

  function update() {
    var found = currentQuery();
    if (!found) {
      close();
      return;
    }
    loadColleagues().then(function (list) {
      found = currentQuery();
      if (!found) {
        close();
        return;
      }
      query = found;
      items = list
        .filter(function (a) {
          return (
            !found.text ||
            String(a.name || "").toLowerCase().indexOf(found.text) !== -1 ||
            String(a.username || "").toLowerCase().indexOf(found.text) !== -1
          );
        })
        .slice(0, 8);
      index = Math.min(index, Math.max(0, items.length - 1));
      render();
    });
  }

  function choose(n) {
    var item = items[n];
    if (!item || !query) return;
    var token = "@" + item.name;
    var value = input.value;
    input.value = value.slice(0, query.start) + token + " " + value.slice(query.end);
    var caret = query.start + token.length + 1;
    input.setSelectionRange(caret, caret);
    picked.set(token, item.id);
    close();
    input.focus();
  }

  // The ids of the colleagues picked and still named in the text (a name deleted is no mention).
  function mentionsIn(text) {
    var ids = [];
    picked.forEach(function (id, token) {
      var at = text.indexOf(token);
      while (at !== -1) {
        var next = text.charAt(at + token.length);
        if (!next || /[\s.,;:!?)]/.test(next)) {
          if (ids.indexOf(id) === -1) ids.push(id);
          break;
        }
        at = text.indexOf(token, at + 1);
      }
    });
    return ids;
  }

  input.addEventListener("input", update);
  input.addEventListener("click", update);
  input.addEventListener("blur", function () {
    // Closed a moment later (a click on the list lands first), and only if the box is still left: a
    // blur just before the agent came back (e.g. ticking "Internal note" and typing "@") keeps the list.
    setTimeout(function () {
      if (document.activeElement !== input) close();
    }, 150);
  });
  privateToggle.addEventListener("change", function () {
    if (!privateToggle.checked) close();
  });
  // Captured on the form, so the list's keys never reach the composer's own (Enter would send).
  composer.addEventListener(
    "keydown",
    function (event) {
      if (picker.hidden || event.target !== input) return;
      var handled = true;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        var step = event.key === "ArrowDown" ? 1 : -1;
        index = (index + step + items.length) % Math.max(1, items.length);
        render();
      } else if ((event.key === "Enter" || event.key === "Tab") && items.length) {
        choose(index);
      } else if (event.key === "Escape") {
        close();
      } else {
        handled = false;
      }
      if (handled) {
        event.preventDefault();
        event.stopPropagation();
      }
    },
    true,
  );
  C.mentionsIn = mentionsIn;
  C.mentionsClose = close;
})(window.SwitchboardConsole);
