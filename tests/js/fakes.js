// Test doubles for static/shared/protocol.js: a WebSocket that the test opens, feeds and closes by hand,
// and a clock whose timers run only when the test moves time forward.
"use strict";

class FakeWebSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0; // CONNECTING
    this.sent = [];
    this.closed = false;
    FakeWebSocket.opened.push(this);
  }

  send(text) {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.closed = true;
    this.readyState = 3;
  }

  // What the server does:
  open() {
    this.readyState = 1;
    this.onopen && this.onopen({});
  }

  receive(frame) {
    this.onmessage && this.onmessage({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  serverClose(code) {
    this.readyState = 3;
    this.onclose && this.onclose({ code: code });
  }

  frames(type) {
    return this.sent.filter((frame) => !type || frame.type === type);
  }

  static reset() {
    FakeWebSocket.opened = [];
  }

  static last() {
    return FakeWebSocket.opened[FakeWebSocket.opened.length - 1];
  }
}
FakeWebSocket.opened = [];

class FakeClock {
  constructor(randomValues) {
    this.time = 1000000;
    this.timers = new Map();
    this.nextId = 1;
    this.randomValues = randomValues || [];
  }

  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimeout(id) {
    this.timers.delete(id);
  }

  now() {
    return this.time;
  }

  random() {
    return this.randomValues.length ? this.randomValues.shift() : 0.5;
  }

  // Runs every timer due within ms, in time order (timers set meanwhile run too if due).
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (!next || timer.at < next[1].at)) next = [id, timer];
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = end;
  }

  // The delays of the timers waiting now, soonest first.
  pending() {
    return Array.from(this.timers.values())
      .map((timer) => timer.at - this.time)
      .sort((a, b) => a - b);
  }
}

module.exports = { FakeWebSocket, FakeClock };
