/*
 * A conversation's transcript as a chat thread, read-only (docs/interface.md, "Past conversations").
 *
 * The transcript pages (the CRM's and the supervisor's) are drawn by the server from
 * templates/imsubsystem/_thread.html; the agent console draws the same markup here from the JSON of
 * GET /api/v1/agent/conversations/<id>/transcript (`render`). Either way `localize` then writes every time
 * and the day lines in the viewer's time zone and the page's language (static/shared/format.js, loaded
 * before this). Everything people wrote goes on the page with textContent, never as markup.
 *
 * Puts `window.SwitchboardThread` = {render, localize, labelChip, labelChips}; on a page it localizes the
 * threads already there.
 */
(function () {
  "use strict";
  var F = window.SwitchboardFormat;
  // The page's catalog (/jsi18n/) when it loaded one (the console does), else the words as written.
  var gettext = window.gettext || function (text) {
    return text;
  };
  function fill(text, values) {
    if (window.interpolate) return window.interpolate(text, values, true);
    return text.replace(/%\((\w+)\)s/g, function (all, name) {
      return values[name];
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function safeUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (err) {
      return null;
    }
  }
  function timeNode(iso) {
    var node = el("time", "thread-time", iso);
    node.setAttribute("datetime", iso);
    return node;
  }

  // An event of the conversation in words (the names inside are people's and queues' own).
  function eventText(item) {
    if (item.kind === "opened") return fill(gettext("Conversation started on %(inbox)s"), { inbox: item.inbox || "" });
    if (item.kind === "queued") return fill(gettext("Waiting in queue %(queue)s"), { queue: item.queue || "" });
    if (item.kind === "assigned") return fill(gettext("Assigned to %(agent)s"), { agent: item.agent || "" });
    if (item.kind === "overflowed") return fill(gettext("Moved to queue %(queue)s (overflow)"), { queue: item.queue || "" });
    if (item.kind === "closed") return gettext("Conversation closed");
    return item.kind;
  }
  function senderWord(kind) {
    if (kind === "customer") return gettext("Customer");
    if (kind === "bot") return gettext("Bot");
    return gettext("Agent");
  }

  function renderMessage(item) {
    var m = item.message;
    if (m.sender.kind === "system") {
      var system = el("li", "thread-event thread-system" + (m.private ? " thread-note" : ""));
      system.dataset.at = item.at;
      system.dataset.seq = String(m.seq);
      system.appendChild(el("span", "thread-event-text", m.text));
      system.appendChild(timeNode(item.at));
      return system;
    }
    var side = m.sender.kind === "customer" ? "thread-in" : "thread-out";
    var row = el("li", "thread-msg " + side + " thread-from-" + m.sender.kind + (m.private ? " thread-note" : ""));
    row.dataset.at = item.at;
    row.dataset.seq = String(m.seq);
    var bubble = el("div", "thread-bubble");
    var head = el("div", "thread-head");
    head.appendChild(el("span", "thread-sender", m.sender.name || senderWord(m.sender.kind)));
    if (m.private) head.appendChild(el("span", "thread-note-tag", gettext("internal note")));
    bubble.appendChild(head);
    if (m.text) bubble.appendChild(el("div", "thread-text", m.text));
    if (m.attachments && m.attachments.length) {
      var files = el("ul", "thread-files");
      m.attachments.forEach(function (file) {
        var entry = el("li");
        var name = "\ud83d\udcce " + (file.name || gettext("attachment"));
        var href = file.url ? safeUrl(file.url) : null;
        if (href) {
          var link = el("a");
          link.href = href;
          link.target = "_blank";
          link.rel = "noopener";
          var thumb = file.thumbnail_url ? safeUrl(file.thumbnail_url) : null;
          if (thumb) {
            var image = el("img");
            image.src = thumb;
            image.alt = file.name || gettext("attachment");
            link.appendChild(image);
            link.appendChild(el("br"));
          }
          link.appendChild(document.createTextNode(name));
          entry.appendChild(link);
        } else {
          entry.appendChild(el("span", "muted", name + " (" + gettext("no longer available") + ")"));
        }
        files.appendChild(entry);
      });
      bubble.appendChild(files);
    }
    bubble.appendChild(timeNode(item.at));
    row.appendChild(bubble);
    return row;
  }

  function renderEvent(item) {
    var row = el("li", "thread-event thread-event-" + item.kind);
    row.dataset.at = item.at;
    row.appendChild(el("span", "thread-event-text", eventText(item)));
    row.appendChild(timeNode(item.at));
    if (item.kind === "closed" && item.reason) row.appendChild(el("div", "thread-close-reason", gettext("Close reason:") + " " + item.reason));
    if (item.kind === "closed" && item.note) row.appendChild(el("div", "thread-wrapup", gettext("Wrap-up:") + " " + item.note));
    return row;
  }

  // Labels ({"id", "name", "colour"}) as coloured chips: the name as text, the colour only when it is "#"
  // and six hex digits, its text dark on a light chip and white on a dark one. The console's lists and
  // thread header use the same chips (agent/console/labels.js).
  var COLOUR = /^#[0-9a-fA-F]{6}$/;
  function inkFor(colour) {
    var r = parseInt(colour.slice(1, 3), 16), g = parseInt(colour.slice(3, 5), 16), b = parseInt(colour.slice(5, 7), 16);
    return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#111111" : "#ffffff";
  }
  function labelChip(label) {
    var node = el("span", "label-chip", label.name);
    node.dataset.labelId = String(label.id);
    if (COLOUR.test(label.colour || "")) {
      node.style.backgroundColor = label.colour;
      node.style.color = inkFor(label.colour);
    }
    return node;
  }
  function labelChips(labels) {
    var box = el("span", "label-chips");
    (labels || []).forEach(function (label) {
      box.appendChild(labelChip(label));
    });
    return box;
  }

  // The thread of a transcript (the API's JSON) as a list element, localized.
  function render(transcript) {
    var list = el("ol", "thread");
    list.dataset.thread = "";
    (transcript.items || []).forEach(function (item) {
      list.appendChild(item.type === "message" ? renderMessage(item) : renderEvent(item));
    });
    if (!list.children.length) list.appendChild(el("li", "muted", gettext("No messages.")));
    localize(list);
    return list;
  }

  // The calendar day of a time in the viewer's zone ("2026-12-05"), and its words ("Saturday, 5 December 2026").
  var dayKeyFormat = null, dayNameFormat = null;
  function formats() {
    if (dayKeyFormat) return;
    var zone = F && F.timeZone ? F.timeZone : undefined;
    var locale = F && F.locale ? F.locale : undefined;
    dayKeyFormat = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" });
    dayNameFormat = new Intl.DateTimeFormat(locale, { timeZone: zone, dateStyle: "full" });
  }

  // Times as clock times in the viewer's zone, and one day line before the first item of each day.
  function localize(root) {
    var threads = root.matches && root.matches("[data-thread]") ? [root] : Array.from(root.querySelectorAll("[data-thread]"));
    formats();
    threads.forEach(function (thread) {
      thread.querySelectorAll(".thread-day").forEach(function (line) {
        line.remove();
      });
      var lastDay = null;
      Array.from(thread.children).forEach(function (item) {
        var at = item.dataset.at ? new Date(item.dataset.at) : null;
        if (!at || isNaN(at.getTime())) return;
        var time = item.querySelector("time.thread-time");
        if (time && F) time.textContent = F.time(at);
        var day = dayKeyFormat.format(at);
        if (day !== lastDay) {
          var line = el("li", "thread-day");
          line.appendChild(el("span", null, dayNameFormat.format(at)));
          thread.insertBefore(line, item);
          lastDay = day;
        }
      });
    });
  }

  window.SwitchboardThread = { render: render, localize: localize, labelChip: labelChip, labelChips: labelChips };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      localize(document);
    });
  } else {
    localize(document);
  }
})();
