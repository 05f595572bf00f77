// The bot flow editor in Django admin: each step shows the fields of its kind, steps move up and down
// (their positions follow), the "next step" boxes suggest the keys of the steps on the page, and a text's
// translation rows grow as the last one is typed in. The form
// works without this script: the server checks every field of every kind (bots/forms.py).
"use strict";
(function () {
  // The admin's page loads its catalog (admin:jsi18n, which holds the project's djangojs translations too).
  const gettext = typeof window.gettext === "function" ? window.gettext : (text) => text;
  // Mirrors bots/forms.py KIND_FIELDS: the fields each kind uses.
  const KIND_FIELDS = {
    message: ["text", "next_step"],
    question: ["text", "options", "invalid_text"],
    capture: ["text", "capture_field", "invalid_text", "next_step"],
    handover: ["text", "queue", "skills"],
    end: ["text"],
  };
  const OPTIONAL = ["text", "options", "capture_field", "invalid_text", "queue", "skills", "next_step"];

  function group() {
    return document.getElementById("steps-group");
  }

  function steps() {
    const found = group() ? group().querySelectorAll(".inline-related:not(.empty-form)") : [];
    return Array.from(found).filter((step) => step.querySelector(".flow-step-kind"));
  }

  function boxes(step, name) {
    const inBox = step.querySelectorAll(".fieldBox.field-" + name);
    return inBox.length ? Array.from(inBox) : Array.from(step.querySelectorAll(".form-row.field-" + name));
  }

  function showKind(step) {
    const kind = step.querySelector(".flow-step-kind").value;
    const used = KIND_FIELDS[kind] || OPTIONAL;
    for (const name of OPTIONAL) {
      for (const box of boxes(step, name)) box.hidden = !used.includes(name);
    }
    for (const row of step.querySelectorAll(".form-row")) {
      const inner = row.querySelectorAll(".fieldBox");
      if (inner.length) row.hidden = Array.from(inner).every((box) => box.hidden);
    }
  }

  function renumber() {
    steps().forEach((step, index) => {
      const position = step.querySelector(".flow-step-position");
      if (position) position.value = index + 1;
    });
  }

  function keysRefresh() {
    const list = document.getElementById("flow-step-keys");
    if (!list) return;
    list.replaceChildren();
    for (const step of steps()) {
      const key = step.querySelector(".flow-step-key");
      if (key && key.value) {
        const option = document.createElement("option");
        option.value = key.value;
        list.append(option);
      }
    }
  }

  function move(step, direction) {
    const all = steps();
    const index = all.indexOf(step);
    const other = all[index + direction];
    if (!other) return;
    if (direction < 0) other.before(step);
    else other.after(step);
    renumber();
  }

  function enhance(step) {
    if (step.dataset.flowEnhanced) return;
    step.dataset.flowEnhanced = "1";
    const kind = step.querySelector(".flow-step-kind");
    kind.addEventListener("change", () => showKind(step));
    step.querySelector(".flow-step-key")?.addEventListener("input", keysRefresh);
    const heading = step.querySelector("h3");
    if (heading) {
      for (const [label, title, direction] of [
        ["↑", gettext("Move up"), -1],
        ["↓", gettext("Move down"), 1],
      ]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "flow-step-move";
        button.textContent = label;
        button.title = title;
        button.setAttribute("aria-label", title);
        button.addEventListener("click", () => move(step, direction));
        heading.append(button);
      }
    }
    showKind(step);
  }

  // A text's translations: typing in the last (empty) row adds another empty row below it.
  function translationsGrow(event) {
    const rows = event.target.closest(".translations");
    if (!rows || !event.target.name) return;
    const all = rows.querySelectorAll(".translation-row");
    const last = all[all.length - 1];
    if (!last.contains(event.target) || !event.target.value) return;
    const copy = last.cloneNode(true);
    for (const field of copy.querySelectorAll("input, textarea")) {
      field.name = field.name.replace(/__(lang|text)_(\d+)$/, (_m, part, n) => `__${part}_${Number(n) + 1}`);
      if (field.id) field.id = field.id.replace(/(__\d+)?$/, "__" + all.length);
      field.value = "";
    }
    last.after(copy);
  }

  function start() {
    document.addEventListener("input", translationsGrow);
    if (!group()) return;
    steps().forEach(enhance);
    keysRefresh();
    document.addEventListener("formset:added", (event) => {
      if (event.detail && event.detail.formsetName !== "steps") return;
      const step = event.target.closest ? event.target.closest(".inline-related") || event.target : event.target;
      if (!step.querySelector(".flow-step-kind")) return;
      enhance(step);
      renumber();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
