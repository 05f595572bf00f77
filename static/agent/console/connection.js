/*
 * The agent console: the socket to /ws/v1/agent/ (the shared protocol client's Connection: backoff with
 * jitter, a heartbeat, no retry after 4401/4403), and what every (re)connect does: resume each thread
 * on screen and send every unacknowledged message again (the shared Outbox).
 * One of the console's scripts, loaded in order by templates/imsubsystem/agent_console.html into the
 * SwitchboardConsole namespace (docs/interface.md, "The console's scripts").
 */
(function (C) {
  "use strict";

  var P = C.protocol;
  var $ = C.$, config = C.config, state = C.state, gettext = C.gettext, interpolate = C.interpolate;
  var BACKOFF_BASE_MS = 500;
  var BACKOFF_MAX_MS = 20000;
  var ACK_TIMEOUT_MS = 8000;
  var linkNode = $("con-link");

  function setLink(stateName, text) {
    linkNode.dataset.state = stateName;
    linkNode.textContent = text;
  }

  var connection = new P.Connection({
    url: function () {
      var url = new URL(config.ws_path, window.location.href);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      return url.href;
    },
    backoffBaseMs: BACKOFF_BASE_MS,
    backoffMaxMs: BACKOFF_MAX_MS,
    onConnecting: function (attempts) {
      setLink("connecting", attempts ? gettext("Reconnecting…") : gettext("Connecting…"));
    },
    onOpen: function () {
      setLink("online", gettext("Connected"));
    },
    onFrame: function (data) {
      C.handleFrame(data);
    },
    onWait: function (delay) {
      setLink("offline", interpolate(gettext("Disconnected. Retrying in %s…"), [C.format.duration(Math.ceil(delay / 1000))]));
    },
    onFinalClose: function () {
      setLink("offline", gettext("Signed out. Reload the page to log in again."));
    },
  });
  connection.watchNetwork(window);

  // Messages sent and not yet acknowledged, by client_id ({conversationId, text, private, attachmentIds}):
  // sent again with the same client_id after every reconnect; no ack within 8 s drops the socket.
  var outbox = new P.Outbox(connection, { ackTimeoutMs: ACK_TIMEOUT_MS });

  function send(payload) {
    return connection.send(payload);
  }

  function onConnected(data) {
    // After any (re)connect: take the server's list, re-read the queue, and ask for every message
    // missed in each thread already on screen.
    if (data && Array.isArray(data.conversations)) C.mergeSummaries(data.conversations, true);
    C.refreshMine();
    C.refreshQueue();
    state.threads.forEach(function (t, id) {
      if (t.loaded && state.conversations.has(id)) {
        send({ type: "resume", conversation_id: id, after_seq: t.seqs.upTo });
        C.catchUp(id);
      }
    });
    outbox.resendAll();
  }

  C.connection = connection;
  C.outbox = outbox;
  C.send = send;
  C.onConnected = onConnected;
})(window.SwitchboardConsole);
