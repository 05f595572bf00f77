/*
 * Switchboard's reconnecting protocol client, shared by the chat widget and the agent console (the
 * frames are in docs/protocol.md, how each client uses this in docs/interface.md). Plain JS, no build
 * step, no DOM: a socket kept open with backoff and jitter, the resume point of a seq stream with its
 * holes, the unacknowledged sends, and the status versions.
 *
 * In a browser it puts itself in the one namespace its script tag names
 * (`<script src=".../shared/protocol.js" data-namespace="SwitchboardConsole">` gives
 * `SwitchboardConsole.protocol`); under node (`node --test tests/js/`) it is a CommonJS module.
 */
(function (root, factory) {
  "use strict";
  var protocol = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = protocol;
    return;
  }
  var tag = root.document && root.document.currentScript;
  var name = (tag && tag.dataset && tag.dataset.namespace) || "Switchboard";
  root[name] = root[name] || {};
  root[name].protocol = protocol;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var OPEN = 1; // WebSocket.OPEN
  // Closes after which reconnecting cannot help: logged out or refused (docs/protocol.md, close codes).
  var FINAL_CLOSE_CODES = [4401, 4403];

  // Timers and randomness come through a clock, so tests can drive them.
  var realClock = {
    setTimeout: function (fn, ms) {
      return setTimeout(fn, ms);
    },
    clearTimeout: function (id) {
      clearTimeout(id);
    },
    now: function () {
      return Date.now();
    },
    random: function () {
      return Math.random();
    },
  };

  /**
   * The wait before reconnect attempt `attempts` (0 for the first): exponential from baseMs up to a cap
   * of maxMs, then a random wait between half and all of it, so a server restart is not answered by
   * every client at the same instant.
   */
  function backoffDelay(attempts, baseMs, maxMs, random) {
    var cap = Math.min(maxMs, baseMs * Math.pow(2, attempts));
    return Math.round(cap / 2 + random() * (cap / 2));
  }

  /**
   * One socket kept open. Options:
   *   url: string or function giving the socket URL;
   *   WebSocket: the constructor (the browser's by default);
   *   clock: {setTimeout, clearTimeout, now, random};
   *   backoffBaseMs, backoffMaxMs, heartbeatMs (25 s), silenceMs (35 s);
   *   requireReady: frames go out only after markReady() (the widget's `auth` → `ready`); the raw first
   *     frame goes with sendNow();
   *   beforeConnect(): false to stay down (no session yet, refused);
   *   canReconnect(): false to stop retrying;
   *   onConnecting(attempts), onOpen(), onFrame(data), onWait(delayMs), onFinalClose(code).
   */
  function Connection(options) {
    this.options = options;
    this.clock = options.clock || realClock;
    this.socket = null;
    this.ready = false;
    this.attempts = 0;
    this.lastFrameAt = 0;
    this.reconnectTimer = null;
    this.heartbeatTimer = null;
    this.connect = this.connect.bind(this);
    this.scheduleReconnect = this.scheduleReconnect.bind(this);
    this.drop = this.drop.bind(this);
    this.online = this.online.bind(this);
  }

  Connection.prototype.connect = function () {
    var self = this;
    var options = this.options;
    this.clock.clearTimeout(this.reconnectTimer);
    if (this.socket) return;
    if (options.beforeConnect && options.beforeConnect() === false) return;
    var Socket = options.WebSocket || WebSocket;
    var url = typeof options.url === "function" ? options.url() : options.url;
    var ws = new Socket(url);
    this.socket = ws;
    this.ready = false;
    if (options.onConnecting) options.onConnecting(this.attempts);
    ws.onopen = function () {
      if (self.socket !== ws) return;
      if (!options.requireReady) {
        self.attempts = 0;
        self.heartbeat();
      }
      if (options.onOpen) options.onOpen();
    };
    ws.onmessage = function (event) {
      self.lastFrameAt = self.clock.now();
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (options.onFrame) options.onFrame(data);
    };
    ws.onclose = function (event) {
      if (self.socket !== ws) return;
      self.socket = null;
      self.ready = false;
      self.clock.clearTimeout(self.heartbeatTimer);
      if (FINAL_CLOSE_CODES.indexOf(event && event.code) !== -1) {
        if (options.onFinalClose) options.onFinalClose(event.code);
        return;
      }
      self.scheduleReconnect();
    };
    ws.onerror = function () {
      /* onclose follows and schedules the retry */
    };
  };

  /** The server accepted this socket (`ready`): frames may go, and the backoff starts again. */
  Connection.prototype.markReady = function () {
    this.ready = true;
    this.attempts = 0;
    this.heartbeat();
  };

  Connection.prototype.scheduleReconnect = function () {
    var options = this.options;
    this.clock.clearTimeout(this.reconnectTimer);
    if (options.canReconnect && !options.canReconnect()) return;
    var clock = this.clock;
    var delay = backoffDelay(this.attempts, options.backoffBaseMs || 500, options.backoffMaxMs || 30000, function () {
      return clock.random();
    });
    this.attempts += 1;
    if (options.onWait) options.onWait(delay);
    this.reconnectTimer = this.clock.setTimeout(this.connect, delay);
  };

  /** Closes the socket without retrying (the caller connects again itself, or not at all). */
  Connection.prototype.discard = function () {
    var ws = this.socket;
    this.socket = null;
    this.ready = false;
    this.clock.clearTimeout(this.heartbeatTimer);
    if (!ws) return null;
    try {
      ws.close();
    } catch (err) {
      /* already closing */
    }
    return ws;
  };

  /** The socket is dead without knowing it (no ack, no pong, the browser went offline): start over. */
  Connection.prototype.drop = function () {
    if (!this.socket) return;
    this.discard();
    this.scheduleReconnect();
  };

  /** A fresh socket now, with the backoff reset (the conversation changed under an open socket). */
  Connection.prototype.restart = function () {
    this.attempts = 0;
    if (!this.socket) return;
    this.discard();
    this.connect();
  };

  /** The network is back: try at once. */
  Connection.prototype.online = function () {
    this.attempts = 0;
    if (!this.socket) this.connect();
  };

  /** The browser knows before the socket does when the network goes and comes back. */
  Connection.prototype.watchNetwork = function (target) {
    target.addEventListener("offline", this.drop);
    target.addEventListener("online", this.online);
  };

  Connection.prototype.heartbeat = function () {
    // A socket whose network vanished can look open for minutes: ping, and drop it when nothing came
    // back, so the reconnect + resume cycle starts.
    var self = this;
    var heartbeatMs = this.options.heartbeatMs || 25000;
    var silenceMs = this.options.silenceMs || 35000;
    this.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = this.clock.setTimeout(function () {
      if (!self.socket || (self.options.requireReady && !self.ready)) return;
      if (self.clock.now() - self.lastFrameAt > silenceMs) {
        self.drop();
        return;
      }
      self.send({ type: "ping" });
      self.heartbeat();
    }, heartbeatMs);
  };

  /** Whether a frame can go now. */
  Connection.prototype.isOpen = function () {
    return !!this.socket && (!this.options.requireReady || this.ready) && this.socket.readyState === OPEN;
  };

  /** Sends a frame if the socket is open (and ready); false otherwise, so the caller can keep it. */
  Connection.prototype.send = function (payload) {
    if (!this.isOpen()) return false;
    this.socket.send(JSON.stringify(payload));
    return true;
  };

  /** Sends on an open socket before it is ready (the widget's `auth`, which makes it ready). */
  Connection.prototype.sendNow = function (payload) {
    if (!this.socket || this.socket.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(payload));
    return true;
  };

  /**
   * The resume point of one seq stream: `upTo` is the highest seq up to which everything is held (shown,
   * or known not to be ours). Seqs seen above a hole wait in `held`, so a frame lost on the fast path is
   * asked for again (resume after `upTo`) instead of being stepped over.
   */
  function SeqTracker(upTo) {
    this.upTo = upTo || 0;
    this.held = new Set();
  }

  /** One seq arrived; true when the resume point moved. */
  SeqTracker.prototype.add = function (seq) {
    if (seq <= this.upTo) return false;
    this.held.add(seq);
    return this.advance();
  };

  /** A finished replay: everything up to seq has been sent. True when the resume point moved. */
  SeqTracker.prototype.addUpTo = function (seq) {
    if (seq <= this.upTo) return false;
    this.upTo = seq;
    var held = this.held;
    held.forEach(function (known) {
      if (known <= seq) held.delete(known);
    });
    this.advance();
    return true;
  };

  SeqTracker.prototype.advance = function () {
    var moved = false;
    while (this.held.has(this.upTo + 1)) {
      this.held.delete(this.upTo + 1);
      this.upTo += 1;
      moved = true;
    }
    return moved;
  };

  /** Whether seqs above the resume point are held: something below them is missing. */
  SeqTracker.prototype.hasHoles = function () {
    return this.held.size > 0;
  };

  /** Starts again (another conversation, a new session, a restored resume point). */
  SeqTracker.prototype.reset = function (upTo) {
    this.upTo = upTo || 0;
    this.held.clear();
  };

  /**
   * Messages sent and not yet acknowledged, by client_id, in the order they were written. A send that
   * gets no ack within ackTimeoutMs means a dead socket: onAckTimeout(clientId, data), then the
   * connection is dropped; after the reconnect resendAll() sends the same client_ids again, which the
   * server answers with the first result (never a second message).
   */
  function Outbox(connection, options) {
    this.connection = connection;
    this.options = options || {};
    this.clock = this.options.clock || connection.clock || realClock;
    this.items = new Map(); // client_id -> {frame, data, timer}
  }

  Object.defineProperty(Outbox.prototype, "size", {
    get: function () {
      return this.items.size;
    },
  });

  /** Keeps a send (not sent yet: transmit() sends it). */
  Outbox.prototype.put = function (clientId, frame, data) {
    this.items.set(clientId, { frame: frame, data: data, timer: null });
  };

  Outbox.prototype.has = function (clientId) {
    return this.items.has(clientId);
  };

  Outbox.prototype.get = function (clientId) {
    var item = this.items.get(clientId);
    return item ? item.data : undefined;
  };

  /** What each waiting send carries, in order (for storing them across a reload). */
  Outbox.prototype.list = function () {
    return Array.from(this.items.values()).map(function (item) {
      return item.data;
    });
  };

  /** Sends one now if the socket is open and starts its ack timer; false if it waits for the socket. */
  Outbox.prototype.transmit = function (clientId) {
    var self = this;
    var item = this.items.get(clientId);
    if (!item) return false;
    if (!this.connection.send(item.frame)) return false; // sent with the same client_id once the socket is back
    this.clock.clearTimeout(item.timer);
    item.timer = this.clock.setTimeout(function () {
      if (self.items.get(clientId) !== item) return;
      if (self.options.onAckTimeout) self.options.onAckTimeout(clientId, item.data);
      self.connection.drop();
    }, this.options.ackTimeoutMs || 8000);
    return true;
  };

  /** Every waiting send again (after `ready`). */
  Outbox.prototype.resendAll = function () {
    var self = this;
    Array.from(this.items.keys()).forEach(function (clientId) {
      self.transmit(clientId);
    });
  };

  /** Sends it again after delayMs (the server said `rate_limited`, retry_after_s). */
  Outbox.prototype.retryLater = function (clientId, delayMs) {
    var self = this;
    var item = this.items.get(clientId);
    if (!item) return;
    this.clock.clearTimeout(item.timer);
    item.timer = this.clock.setTimeout(function () {
      if (self.items.get(clientId) === item) self.transmit(clientId);
    }, delayMs);
  };

  /** Acknowledged, stored, or refused for good: forgotten. Returns what it carried, if it was waiting. */
  Outbox.prototype.remove = function (clientId) {
    var item = this.items.get(clientId);
    if (!item) return undefined;
    this.clock.clearTimeout(item.timer);
    this.items.delete(clientId);
    return item.data;
  };

  /**
   * The version a status frame carries (`conversation.status` `version`, `ready` `status_version`,
   * a summary's `status_version`), or null.
   */
  function statusVersion(frame) {
    if (typeof frame.version === "number") return frame.version;
    if (typeof frame.status_version === "number") return frame.status_version;
    return null;
  }

  /**
   * Frames published by two server processes may arrive out of order: a version lower than the one
   * shown is older than what is on screen. Equal is the same status with news (a new queue position).
   */
  function isStale(version, shownVersion) {
    return typeof version === "number" && typeof shownVersion === "number" && version < shownVersion;
  }

  /** A fresh client_id for a message (the server stores each client_id once). */
  function newClientId(prefix) {
    var cryptoApi = typeof crypto !== "undefined" ? crypto : null;
    if (cryptoApi && cryptoApi.randomUUID) return cryptoApi.randomUUID();
    return (prefix || "c") + "-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  return {
    FINAL_CLOSE_CODES: FINAL_CLOSE_CODES,
    backoffDelay: backoffDelay,
    Connection: Connection,
    SeqTracker: SeqTracker,
    Outbox: Outbox,
    statusVersion: statusVersion,
    isStale: isStale,
    newClientId: newClientId,
  };
});
