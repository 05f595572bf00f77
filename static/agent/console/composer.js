/*
 * The agent console: composing and sending (the shared outbox), file uploads, the canned responses picker.
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var $ = C.$, API = C.API, api = C.api, config = C.config,
    csrfToken = C.csrfToken, el = C.el, newClientId = C.newClientId, safeUrl = C.safeUrl, state = C.state,
    thread = C.thread, send = C.send, buildRow = C.buildRow, renderChatHead = C.renderChatHead,
    scrollToEnd = C.scrollToEnd, gettext = C.gettext, interpolate = C.interpolate;
  var composer = $("con-composer");
  var input = $("con-input");
  var messagesNode = $("con-messages");
  var privateToggle = $("con-private");

  // ---- composing -----------------------------------------------------------------------------
  var typingActive = false;
  var typingTimer = null;
  function noteTyping() {
    if (!state.currentId || privateToggle.checked) return;
    if (!typingActive) {
      typingActive = true;
      send({ type: "typing", conversation_id: state.currentId, active: true });
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  }
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingActive && state.currentId) send({ type: "typing", conversation_id: state.currentId, active: false });
    typingActive = false;
  }

  function submit() {
    var id = state.currentId;
    var text = input.value.trim();
    if (!id) return;
    var staged = stagedFor(id);
    if (staged.some(function (item) {
      return item.state === "uploading";
    })) {
      showUploadError(gettext("Wait for the files to finish uploading."));
      return;
    }
    var ready = staged.filter(function (item) {
      return item.state === "ready";
    });
    if (!text && !ready.length) return;
    var attachments = ready.map(function (item) {
      return item.attachment;
    });
    var clientId = newClientId();
    var isPrivate = privateToggle.checked;
    var attachmentIds = attachments.map(function (a) {
      return a.id;
    });
    var frame = { type: "message.send", conversation_id: id, client_id: clientId, text: text, private: isPrivate };
    if (attachmentIds.length) frame.attachment_ids = attachmentIds;
    // The colleagues picked with @ and still named in the note (mentions.js).
    var mentions = isPrivate && C.mentionsIn ? C.mentionsIn(text) : [];
    if (mentions.length) frame.mentions = mentions;
    // Resent with the same client_id once the socket is back; no ack in time drops the socket.
    C.outbox.put(clientId, frame, { conversationId: id, text: text, private: isPrivate, attachmentIds: attachmentIds });
    var row = buildRow(
      {
        client_id: clientId,
        text: text,
        private: isPrivate,
        attachments: attachments,
        sender: { kind: "agent", name: config.user.name },
        created_at: new Date().toISOString(),
      },
      true,
    );
    thread(id).byClientId.set(clientId, row);
    messagesNode.appendChild(row);
    scrollToEnd();
    input.value = "";
    state.staged.set(id, []);
    renderStaged();
    stopTyping();
    closePicker();
    C.outbox.transmit(clientId);
  }

  // ---- attachments ---------------------------------------------------------------------------
  // Each file is uploaded as soon as it is picked (POST uploads?conversation_id=N), staged as a chip,
  // and sent by id with the next message.send. Uploads belong to the conversation they were made in.
  var stagedNode = $("con-staged");
  var fileInput = $("con-file");
  var uploadErrorNode = $("con-upload-error");

  function stagedFor(id) {
    if (!state.staged.has(id)) state.staged.set(id, []);
    return state.staged.get(id);
  }

  function showUploadError(text) {
    uploadErrorNode.textContent = text || "";
    uploadErrorNode.hidden = !text;
  }

  function sizeLabel(bytes) {
    return C.format.bytes(bytes);
  }

  function renderStaged() {
    var items = state.currentId ? stagedFor(state.currentId) : [];
    stagedNode.textContent = "";
    stagedNode.hidden = items.length === 0;
    items.forEach(function (item) {
      var chip = el("li", "con-chip");
      chip.dataset.state = item.state;
      var attachment = item.attachment;
      var thumb = attachment && safeUrl(attachment.thumbnail_url || (/^image\//.test(attachment.content_type || "") ? attachment.url : ""));
      if (thumb) {
        var image = el("img");
        image.src = thumb;
        image.alt = item.name;
        chip.appendChild(image);
      }
      // Once stored, the name the server kept (it makes unsafe names safe) is the one the customer sees.
      chip.appendChild(el("span", "con-chip-name", attachment ? attachment.name : item.name));
      if (item.state === "uploading") {
        var progress = el("progress", "con-chip-progress");
        progress.max = 100;
        progress.value = item.progress;
        progress.setAttribute("aria-label", interpolate(gettext("Uploading %s"), [item.name]));
        chip.appendChild(progress);
      } else if (item.state === "ready") {
        chip.appendChild(el("span", "muted small", sizeLabel(attachment.size || 0)));
      } else {
        chip.appendChild(el("span", "error small", gettext("failed")));
      }
      var remove = el("button", "con-chip-remove", "\u00d7");
      remove.type = "button";
      remove.title = interpolate(gettext("Remove %s"), [item.name]);
      remove.setAttribute("aria-label", remove.title);
      remove.addEventListener("click", function () {
        if (item.xhr && item.state === "uploading") item.xhr.abort();
        var list = stagedFor(item.conversationId);
        var index = list.indexOf(item);
        if (index >= 0) list.splice(index, 1);
        renderStaged();
      });
      chip.appendChild(remove);
      stagedNode.appendChild(chip);
    });
  }

  function uploadError(xhr) {
    var data = null;
    try {
      data = JSON.parse(xhr.responseText);
    } catch (err) {
      data = null;
    }
    // {"error": {"code", "detail"}}: the detail says what was wrong with the file.
    if (data && data.error && data.error.detail) return data.error.detail;
    if (xhr.status === 413) return gettext("The file is too large.");
    if (xhr.status === 403) return gettext("Refused: reload the page and log in again.");
    if (xhr.status === 0) return gettext("The upload was interrupted. Check the connection and try again.");
    return interpolate(gettext("Upload failed (HTTP %s)."), [xhr.status]);
  }

  function uploadFile(file) {
    var id = state.currentId;
    if (!id) return;
    var item = { conversationId: id, name: file.name || "file", state: "uploading", progress: 0, attachment: null, xhr: null };
    stagedFor(id).push(item);
    var xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", API + "uploads?conversation_id=" + encodeURIComponent(id));
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      item.progress = Math.round((event.loaded / event.total) * 100);
      var bar = item.state === "uploading" && state.currentId === id ? findProgress(item) : null;
      if (bar) bar.value = item.progress;
    });
    xhr.addEventListener("load", function () {
      item.xhr = null;
      if (xhr.status === 201) {
        try {
          item.attachment = JSON.parse(xhr.responseText);
          item.state = "ready";
        } catch (err) {
          item.state = "failed";
        }
      } else {
        item.state = "failed";
        var list = stagedFor(id);
        list.splice(list.indexOf(item), 1);
        showUploadError(item.name + ": " + uploadError(xhr));
      }
      renderStaged();
    });
    xhr.addEventListener("error", function () {
      item.xhr = null;
      var list = stagedFor(id);
      if (list.indexOf(item) >= 0) list.splice(list.indexOf(item), 1);
      showUploadError(item.name + ": " + uploadError(xhr));
      renderStaged();
    });
    var form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
    renderStaged();
  }

  function findProgress(item) {
    var items = stagedFor(item.conversationId);
    var chip = stagedNode.children[items.indexOf(item)];
    return chip ? chip.querySelector("progress") : null;
  }

  function uploadFiles(files) {
    if (!state.currentId || !files) return;
    showUploadError("");
    Array.from(files).forEach(uploadFile);
  }

  $("con-attach").addEventListener("click", function () {
    fileInput.click();
  });
  fileInput.addEventListener("change", function () {
    uploadFiles(fileInput.files);
    fileInput.value = "";
  });
  var dragDepth = 0;
  function hasFiles(event) {
    return event.dataTransfer && Array.from(event.dataTransfer.types || []).indexOf("Files") >= 0;
  }
  composer.addEventListener("dragenter", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    composer.classList.add("dragging");
    $("con-drop-hint").hidden = false;
  });
  composer.addEventListener("dragover", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  function endDrag() {
    dragDepth = 0;
    composer.classList.remove("dragging");
    $("con-drop-hint").hidden = true;
  }
  composer.addEventListener("dragleave", function () {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) endDrag();
  });
  composer.addEventListener("drop", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    endDrag();
    uploadFiles(event.dataTransfer.files);
  });

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  privateToggle.addEventListener("change", function () {
    composer.dataset.private = privateToggle.checked ? "true" : "false";
    if (privateToggle.checked) stopTyping();
    renderChatHead();
  });

  // ---- canned responses picker -----------------------------------------------------------------
  var picker = $("con-picker");
  var pickerIndex = 0;
  var pickerItems = [];

  function loadCanned() {
    return api("canned")
      .then(function (data) {
        state.canned = data.canned_responses || [];
      })
      .catch(function () {
        state.canned = [];
      });
  }
  function pickerQuery() {
    var match = input.value.match(/^\/(\S*)$/);
    return match ? match[1].toLowerCase() : null;
  }
  function updatePicker() {
    var query = pickerQuery();
    if (query === null) {
      closePicker();
      return;
    }
    pickerItems = state.canned.filter(function (item) {
      return (
        !query ||
        String(item.shortcut || "").toLowerCase().indexOf(query) !== -1 ||
        String(item.title || "").toLowerCase().indexOf(query) !== -1
      );
    });
    pickerIndex = Math.min(pickerIndex, Math.max(0, pickerItems.length - 1));
    picker.textContent = "";
    if (!pickerItems.length) picker.appendChild(el("div", "picker-empty muted", interpolate(gettext("No canned response matches %s"), ["/" + query])));
    pickerItems.forEach(function (item, index) {
      var option = el("div", "picker-item" + (index === pickerIndex ? " active" : ""));
      option.setAttribute("role", "option");
      option.appendChild(el("span", "picker-shortcut", "/" + item.shortcut));
      option.appendChild(el("span", "picker-title", item.title || ""));
      option.appendChild(el("span", "picker-text muted", item.text));
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();
        applyCanned(index);
      });
      picker.appendChild(option);
    });
    picker.hidden = false;
  }
  function closePicker() {
    picker.hidden = true;
    pickerIndex = 0;
  }
  // The canned text in the customer's language (its tag, then its base language), else the text itself,
  // written in the inbox's default language (docs/i18n.md, "Customers").
  function cannedText(item, language) {
    var byTag = {};
    Object.keys(item.translations || {}).forEach(function (key) {
      var text = item.translations[key];
      if (typeof text === "string" && text) byTag[key.toLowerCase().replace(/_/g, "-")] = text;
    });
    var tag = String(language || "").toLowerCase();
    while (tag) {
      if (byTag[tag]) return byTag[tag];
      tag = tag.indexOf("-") === -1 ? "" : tag.slice(0, tag.lastIndexOf("-"));
    }
    return item.text;
  }
  function applyCanned(index) {
    var item = pickerItems[index];
    if (!item) return;
    var summary = state.conversations.get(state.currentId);
    var customer = (summary && summary.contact && summary.contact.name) || "";
    input.value = cannedText(item, summary && summary.language).replace(/\{\{\s*contact\.name\s*\}\}/g, customer).replace(/\{\{\s*agent\.name\s*\}\}/g, config.user.name);
    closePicker();
    input.focus();
  }

  input.addEventListener("input", function () {
    updatePicker();
    if (input.value.trim() && pickerQuery() === null) noteTyping();
  });
  input.addEventListener("blur", stopTyping);
  input.addEventListener("keydown", function (event) {
    if (!picker.hidden) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var step = event.key === "ArrowDown" ? 1 : -1;
        pickerIndex = (pickerIndex + step + pickerItems.length) % Math.max(1, pickerItems.length);
        updatePicker();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        applyCanned(pickerIndex);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closePicker();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });


  C.loadCanned = loadCanned;
  C.renderStaged = renderStaged;
  C.showUploadError = showUploadError;
  C.submit = submit;
})(window.SwitchboardConsole);
