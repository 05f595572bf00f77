// Unit tests of the shared protocol client (static/shared/protocol.js): `node --test tests/js/`.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const protocol = require("../../static/shared/protocol.js");
const { FakeWebSocket, FakeClock } = require("./fakes.js");

function connection(clock, extra) {
  const events = [];
  const conn = new protocol.Connection(
    Object.assign(
      {
        url: "ws://switchboard.test/ws/v1/agent/",
        WebSocket: FakeWebSocket,
        clock: clock,
        backoffBaseMs: 500,
        backoffMaxMs: 20000,
        onConnecting: (attempts) => events.push(["connecting", attempts]),
        onOpen: () => events.push(["open"]),
        onFrame: (data) => events.push(["frame", data.type]),
        onWait: (delay) => events.push(["wait", delay]),
        onFinalClose: (code) => events.push(["final", code]),
      },
      extra || {},
    ),
  );
  return { conn, events };
}

test.beforeEach(() => FakeWebSocket.reset());

// ---- backoff ---------------------------------------------------------------------------------

test("backoff doubles from the base up to the cap, with the wait between half and all of it", () => {
  const low = () => 0;
  const high = () => 1;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((n) => protocol.backoffDelay(n, 500, 20000, high)),
    [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000],
  );
  assert.deepEqual(
    [0, 1, 2, 6].map((n) => protocol.backoffDelay(n, 500, 20000, low)),
    [250, 500, 1000, 10000],
  );
});

test("a dropped socket is retried with growing waits, and reset once a socket opens", () => {
  const clock = new FakeClock([1, 1, 1, 1]);
  const { conn, events } = connection(clock);
  conn.connect();
  FakeWebSocket.last().open();
  FakeWebSocket.last().serverClose(1006);
  assert.deepEqual(clock.pending(), [500]);
  clock.advance(500);
  assert.equal(FakeWebSocket.opened.length, 2);
  FakeWebSocket.last().serverClose(1006); // never opened: the next wait doubles
  assert.deepEqual(clock.pending(), [1000]);
  clock.advance(1000);
  FakeWebSocket.last().serverClose(1006);
  assert.deepEqual(clock.pending(), [2000]);
  clock.advance(2000);
  FakeWebSocket.last().open();
  assert.equal(conn.attempts, 0);
  assert.deepEqual(
    events.filter((e) => e[0] === "wait"),
    [
      ["wait", 500],
      ["wait", 1000],
      ["wait", 2000],
    ],
  );
  assert.deepEqual(
    events.filter((e) => e[0] === "connecting"),
    [
      ["connecting", 0],
      ["connecting", 1],
      ["connecting", 2],
      ["connecting", 3],
    ],
  );
});

test("the jitter spreads the waits of clients that lost the server at the same instant", () => {
  const waits = [0, 0.25, 0.5, 0.99].map((random) => {
    const clock = new FakeClock([random]);
    const { conn } = connection(clock);
    conn.connect();
    FakeWebSocket.last().serverClose(1012);
    return clock.pending()[0];
  });
  assert.deepEqual(waits, [250, 313, 375, 498]);
});

test("one socket at a time: connect while a socket exists does nothing", () => {
  const { conn } = connection(new FakeClock());
  conn.connect();
  conn.connect();
  assert.equal(FakeWebSocket.opened.length, 1);
});

// ---- close codes -----------------------------------------------------------------------------

for (const code of [4401, 4403]) {
  test(`a socket closed with ${code} is not retried`, () => {
    const clock = new FakeClock();
    const { conn, events } = connection(clock);
    conn.connect();
    FakeWebSocket.last().open();
    FakeWebSocket.last().serverClose(code);
    assert.deepEqual(clock.pending(), []);
    assert.deepEqual(events[events.length - 1], ["final", code]);
    clock.advance(120000);
    assert.equal(FakeWebSocket.opened.length, 1);
  });
}

for (const code of [1000, 1001, 1006, 1011, 4012]) {
  test(`a socket closed with ${code} is retried`, () => {
    const clock = new FakeClock();
    const { conn, events } = connection(clock);
    conn.connect();
    FakeWebSocket.last().open();
    FakeWebSocket.last().serverClose(code);
    assert.equal(clock.pending().length, 1);
    assert.ok(!events.some((e) => e[0] === "final"));
    clock.advance(clock.pending()[0]);
    assert.equal(FakeWebSocket.opened.length, 2);
  });
}

test("the close of a socket already given up does not schedule a second one", () => {
  const clock = new FakeClock();
  const { conn } = connection(clock);
  conn.connect();
  const first = FakeWebSocket.last();
  first.open();
  conn.restart();
  assert.equal(FakeWebSocket.opened.length, 2);
  first.serverClose(1006);
  assert.deepEqual(clock.pending(), []);
  assert.equal(conn.socket, FakeWebSocket.last());
});

test("canReconnect false stops retrying; beforeConnect false keeps the socket down", () => {
  const clock = new FakeClock();
  let allowed = true;
  const { conn } = connection(clock, { canReconnect: () => allowed, beforeConnect: () => allowed });
  conn.connect();
  allowed = false;
  FakeWebSocket.last().serverClose(1006);
  assert.deepEqual(clock.pending(), []);
  conn.connect();
  assert.equal(FakeWebSocket.opened.length, 1);
});

// ---- sending, ready, heartbeat -----------------------------------------------------------------

test("frames go only on an open socket; with requireReady only after ready, but auth goes before", () => {
  const { conn } = connection(new FakeClock(), { requireReady: true });
  assert.equal(conn.send({ type: "ping" }), false);
  conn.connect();
  const ws = FakeWebSocket.last();
  assert.equal(conn.send({ type: "ping" }), false);
  ws.open();
  assert.equal(conn.send({ type: "typing", active: true }), false);
  assert.equal(conn.sendNow({ type: "auth", token: "t", after_seq: 4 }), true);
  conn.markReady();
  assert.equal(conn.send({ type: "typing", active: true }), true);
  assert.deepEqual(ws.frames(), [
    { type: "auth", token: "t", after_seq: 4 },
    { type: "typing", active: true },
  ]);
});

test("a bad JSON frame is skipped, the next one is read", () => {
  const { conn, events } = connection(new FakeClock());
  conn.connect();
  FakeWebSocket.last().open();
  FakeWebSocket.last().receive("{not json");
  FakeWebSocket.last().receive({ type: "pong" });
  assert.deepEqual(
    events.filter((e) => e[0] === "frame"),
    [["frame", "pong"]],
  );
});

test("a ping every 25 s; a socket silent for 35 s is dropped and reconnected", () => {
  const clock = new FakeClock();
  const { conn } = connection(clock);
  conn.connect();
  const ws = FakeWebSocket.last();
  ws.open();
  ws.receive({ type: "agent.ready" });
  clock.advance(25000);
  assert.deepEqual(ws.frames("ping").length, 1);
  ws.receive({ type: "pong" });
  clock.advance(25000);
  assert.deepEqual(ws.frames("ping").length, 2);
  assert.equal(ws.closed, false);
  // No pong this time: at the next beat the socket has said nothing for 50 s.
  clock.advance(25000);
  assert.equal(ws.closed, true);
  assert.equal(conn.socket, null);
  clock.advance(clock.pending()[0]);
  assert.equal(FakeWebSocket.opened.length, 2);
});

test("offline drops the socket at once; online reconnects at once with the backoff reset", () => {
  const clock = new FakeClock();
  const listeners = {};
  const { conn } = connection(clock);
  conn.watchNetwork({ addEventListener: (name, fn) => (listeners[name] = fn) });
  conn.connect();
  FakeWebSocket.last().open();
  listeners.offline();
  assert.equal(FakeWebSocket.last().closed, true);
  assert.equal(conn.attempts, 1);
  listeners.online();
  assert.equal(FakeWebSocket.opened.length, 2);
  assert.equal(conn.attempts, 0);
});

// ---- resume point with holes -------------------------------------------------------------------

test("the resume point moves only over seqs with nothing missing below them", () => {
  const seqs = new protocol.SeqTracker(0);
  assert.equal(seqs.add(1), true);
  assert.equal(seqs.add(2), true);
  assert.equal(seqs.add(4), false); // 3 was lost on the fast path
  assert.equal(seqs.add(5), false);
  assert.equal(seqs.upTo, 2);
  assert.equal(seqs.hasHoles(), true);
  assert.equal(seqs.add(2), false); // a replay overlapping
  assert.equal(seqs.add(3), true); // the hole filled: the point jumps over what was held
  assert.equal(seqs.upTo, 5);
  assert.equal(seqs.hasHoles(), false);
});

test("a hole is kept until filled, so a resume asks from below it every time", () => {
  const seqs = new protocol.SeqTracker(10);
  seqs.add(12);
  seqs.add(14);
  assert.equal(seqs.upTo, 10);
  seqs.add(11);
  assert.equal(seqs.upTo, 12); // 13 still missing
  seqs.add(15);
  assert.equal(seqs.upTo, 12);
  seqs.add(13);
  assert.equal(seqs.upTo, 15);
});

test("a finished replay moves the point to its last seq and keeps what was held above it", () => {
  const seqs = new protocol.SeqTracker(3);
  seqs.add(5);
  seqs.add(9);
  seqs.add(10);
  assert.equal(seqs.addUpTo(8), true); // resume.done last_seq 8: seqs 4..8 were notes or lost for good
  assert.equal(seqs.upTo, 10);
  assert.equal(seqs.addUpTo(7), false);
  seqs.reset(0);
  assert.equal(seqs.upTo, 0);
  assert.equal(seqs.hasHoles(), false);
});

// ---- unacknowledged sends ------------------------------------------------------------------------

function readySocket(clock, outboxOptions) {
  const { conn } = connection(clock, { requireReady: true });
  const outbox = new protocol.Outbox(conn, Object.assign({ ackTimeoutMs: 8000 }, outboxOptions || {}));
  conn.connect();
  FakeWebSocket.last().open();
  conn.markReady();
  return { conn, outbox };
}

test("a send without an ack in 8 s drops the socket; after reconnect every unacked client_id is sent again", () => {
  const clock = new FakeClock([0]);
  const timedOut = [];
  const { conn, outbox } = readySocket(clock, { onAckTimeout: (id, data) => timedOut.push([id, data.text]) });
  const first = FakeWebSocket.last();
  outbox.put("c-1", { type: "message.send", client_id: "c-1", text: "one" }, { text: "one" });
  outbox.put("c-2", { type: "message.send", client_id: "c-2", text: "two" }, { text: "two" });
  outbox.transmit("c-1");
  outbox.transmit("c-2");
  first.receive({ type: "message.ack", client_id: "c-1" });
  outbox.remove("c-1");
  clock.advance(8000);
  assert.deepEqual(timedOut, [["c-2", "two"]]);
  assert.equal(first.closed, true);
  assert.equal(conn.socket, null);

  clock.advance(clock.pending()[0]);
  const second = FakeWebSocket.last();
  assert.notEqual(second, first);
  assert.equal(outbox.transmit("c-2"), false); // not ready yet: it waits
  second.open();
  conn.markReady();
  outbox.resendAll();
  assert.deepEqual(second.frames("message.send"), [{ type: "message.send", client_id: "c-2", text: "two" }]);
  assert.deepEqual(outbox.list(), [{ text: "two" }]);
});

test("a send made while disconnected waits, and goes in order on the next ready", () => {
  const clock = new FakeClock();
  const { conn } = connection(clock, { requireReady: true });
  const outbox = new protocol.Outbox(conn, {});
  for (const id of ["a", "b", "c"]) {
    outbox.put(id, { type: "message.send", client_id: id }, { id });
    assert.equal(outbox.transmit(id), false);
  }
  conn.connect();
  FakeWebSocket.last().open();
  conn.markReady();
  outbox.resendAll();
  assert.deepEqual(
    FakeWebSocket.last()
      .frames("message.send")
      .map((f) => f.client_id),
    ["a", "b", "c"],
  );
  assert.equal(clock.pending().length, 4); // three ack timers and the heartbeat
});

test("an acknowledged or refused send is forgotten: no timeout, no resend", () => {
  const clock = new FakeClock();
  let timeouts = 0;
  const { outbox } = readySocket(clock, { onAckTimeout: () => (timeouts += 1) });
  const ws = FakeWebSocket.last();
  outbox.put("x", { type: "message.send", client_id: "x" }, { n: 1 });
  outbox.transmit("x");
  assert.deepEqual(outbox.remove("x"), { n: 1 });
  assert.equal(outbox.remove("x"), undefined);
  clock.advance(9000);
  assert.equal(timeouts, 0);
  assert.equal(ws.closed, false);
  outbox.resendAll();
  assert.equal(ws.frames("message.send").length, 1);
});

test("rate_limited: the same client_id goes again after the wait, not before", () => {
  const clock = new FakeClock();
  const { outbox } = readySocket(clock);
  const ws = FakeWebSocket.last();
  outbox.put("r", { type: "message.send", client_id: "r" }, {});
  outbox.transmit("r");
  outbox.retryLater("r", 2500);
  clock.advance(2400);
  assert.equal(ws.frames("message.send").length, 1);
  assert.equal(ws.closed, false); // the ack timer was replaced by the retry
  clock.advance(100);
  assert.deepEqual(
    ws.frames("message.send").map((f) => f.client_id),
    ["r", "r"],
  );
});

// ---- status versions ---------------------------------------------------------------------------

test("a status frame older than the one shown is stale; equal or newer is not", () => {
  assert.equal(protocol.isStale(3, 4), true);
  assert.equal(protocol.isStale(4, 4), false);
  assert.equal(protocol.isStale(5, 4), false);
  assert.equal(protocol.isStale(undefined, 4), false); // a frame without a version is taken
  assert.equal(protocol.isStale(3, null), false); // nothing shown yet
});

test("the version is read from conversation.status, ready and summaries alike", () => {
  assert.equal(protocol.statusVersion({ type: "conversation.status", version: 7 }), 7);
  assert.equal(protocol.statusVersion({ type: "ready", status_version: 2 }), 2);
  assert.equal(protocol.statusVersion({ type: "ready", status: "bot" }), null);
  assert.equal(protocol.statusVersion({ version: 0 }), 0);
});

test("client ids are unique", () => {
  const ids = new Set(Array.from({ length: 100 }, () => protocol.newClientId("t")));
  assert.equal(ids.size, 100);
});

// ---- in a browser: one namespace, no other global -------------------------------------------------

test("in a browser the client goes into the namespace its script tag names, and adds no other global", () => {
  const vm = require("node:vm");
  const fs = require("node:fs");
  const path = require("node:path");
  const source = fs.readFileSync(path.join(__dirname, "../../static/shared/protocol.js"), "utf8");
  const page = { document: { currentScript: { dataset: { namespace: "SwitchboardWidget" } } } };
  page.self = page;
  page.SwitchboardWidget = { open() {} };
  const before = Object.keys(page).sort();
  vm.runInNewContext(source, page);
  assert.deepEqual(Object.keys(page).sort(), before);
  assert.equal(typeof page.SwitchboardWidget.open, "function"); // what was there stays
  assert.equal(typeof page.SwitchboardWidget.protocol.Connection, "function");
  assert.equal(typeof page.SwitchboardWidget.protocol.SeqTracker, "function");
});
