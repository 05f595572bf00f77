// Unit tests of the staff pages' formats (static/shared/format.js): `node --test tests/js/`.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { make } = require("../../static/shared/format.js");

const zh = make("zh-hans", "Asia/Shanghai");
const en = make("en", "UTC");
const AT = "2026-12-05T07:04:05Z"; // 15:04:05 in Shanghai

test("Django's language code becomes a BCP 47 tag", () => {
  assert.equal(zh.locale, "zh-Hans");
  assert.equal(make(undefined).locale, undefined);
  assert.equal(make("not a tag!").locale, undefined);
});

test("clock times in the viewer's time zone and the page's language", () => {
  assert.equal(zh.time(AT), "15:04");
  assert.equal(zh.timeSeconds(AT), "15:04:05");
  assert.equal(en.time(AT), "07:04 AM");
});

test("an unknown time zone falls back to the browser's", () => {
  assert.equal(make("en", "Mars/Olympus").timeZone, undefined);
});

test("today shows the time, another day the date in the language's own form", () => {
  assert.equal(zh.when(AT, "2026-12-05T12:00:00Z"), "15:04");
  assert.equal(zh.when(AT, "2026-12-07T12:00:00Z"), "12月5日 15:04");
  assert.equal(zh.when(AT, "2027-01-02T12:00:00Z"), "2026年12月5日 15:04");
  assert.equal(en.when(AT, "2026-12-07T12:00:00Z"), "Dec 5, 07:04 AM");
  assert.equal(zh.when("not a date"), "");
  // The day is the viewer's: 23:30 in Shanghai is still "today" there though it is another day in UTC.
  assert.equal(zh.when("2026-12-05T15:30:00Z", "2026-12-05T01:00:00Z"), "23:30");
});

test("durations in at most two units", () => {
  assert.equal(en.duration(0), "0s");
  assert.equal(en.duration(252), "4m 12s");
  assert.equal(en.duration(3900), "1h 5m");
  assert.equal(zh.duration(59), "59秒");
  assert.equal(zh.duration(252), "4分钟12秒");
  assert.equal(zh.duration(3900), "1小时5分钟");
  assert.equal(zh.duration(null), "–");
});

test("percentages, numbers and sizes", () => {
  assert.equal(zh.percent(0.123), "12.3%");
  assert.equal(en.percent(1), "100%");
  assert.equal(en.percent(null), "–");
  assert.equal(en.number(12345.67), "12,345.7");
  assert.equal(zh.number(2.25, 0), "2");
  assert.equal(en.bytes(512), "512 B");
  assert.equal(en.bytes(14 * 1024), "14 KB");
  assert.equal(en.bytes(2.5 * 1024 * 1024), "2.5 MB");
});
