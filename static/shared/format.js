/*
 * Dates, times, durations and numbers for the staff pages (agent console, supervisor dashboard), in the
 * page's language and the viewer's time zone, with the browser's Intl: no text of its own to translate.
 * The language is the page's `<html lang>` (Django's active language: en, zh-hans, ...); the time zone is
 * the browser's unless the page's `<html data-timezone>` names one.
 *
 * In a browser it is `window.SwitchboardFormat` (already made for the page); under node
 * (`node --test tests/js/`) it is a CommonJS module whose `make(locale, timeZone)` gives the same functions.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
    return;
  }
  var html = root.document && root.document.documentElement;
  root.SwitchboardFormat = api.make(html && html.lang, html && html.dataset && html.dataset.timezone);
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  // Django's language codes are lower case ("zh-hans"); Intl takes BCP 47 tags in any case.
  function resolveLocale(locale) {
    if (!locale) return undefined;
    try {
      return Intl.getCanonicalLocales(locale)[0];
    } catch (err) {
      return undefined;
    }
  }

  function make(locale, timeZone) {
    var tag = resolveLocale(locale);
    var zone = timeZone || undefined;
    try {
      new Intl.DateTimeFormat(tag, { timeZone: zone });
    } catch (err) {
      zone = undefined; // an unknown zone name: the browser's own
    }
    var cache = {};
    function dateFormat(key, options) {
      if (!cache[key]) cache[key] = new Intl.DateTimeFormat(tag, Object.assign({ timeZone: zone }, options));
      return cache[key];
    }
    function numberFormat(key, options) {
      if (!cache[key]) cache[key] = new Intl.NumberFormat(tag, options);
      return cache[key];
    }
    var units = new Intl.ListFormat(tag, { type: "unit", style: "narrow" });

    function toDate(value) {
      var date = value instanceof Date ? value : value ? new Date(value) : new Date();
      return isNaN(date.getTime()) ? null : date;
    }
    // The calendar day of `date` in the viewer's zone, as "YYYY-MM-DD" (to compare days).
    function dayOf(date) {
      return dateFormat("day", { year: "numeric", month: "2-digit", day: "2-digit" })
        .formatToParts(date)
        .filter(function (part) {
          return part.type !== "literal";
        })
        .map(function (part) {
          return part.value;
        })
        .join("-");
    }

    // A clock time ("15:04", "03:04 PM").
    function time(value) {
      var date = toDate(value);
      return date ? dateFormat("time", { hour: "2-digit", minute: "2-digit" }).format(date) : "";
    }
    // A clock time with seconds ("15:04:05").
    function timeSeconds(value) {
      var date = toDate(value);
      return date ? dateFormat("times", { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(date) : "";
    }
    // A message's or list item's time: the clock time today, else the date and the time
    // ("12月5日 15:04", "Dec 5, 03:04 PM"); the year when it is not this year's.
    function when(value, now) {
      var date = toDate(value);
      if (!date) return "";
      var today = toDate(now || new Date());
      if (dayOf(date) === dayOf(today)) return time(date);
      var sameYear = dayOf(date).slice(0, 4) === dayOf(today).slice(0, 4);
      var options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
      if (!sameYear) options.year = "numeric";
      return dateFormat(sameYear ? "when" : "whenyear", options).format(date);
    }
    // A whole date and time ("2026年12月5日 15:04").
    function dateTime(value) {
      var date = toDate(value);
      return date ? dateFormat("datetime", { dateStyle: "medium", timeStyle: "short" }).format(date) : "";
    }

    function unit(name, amount) {
      return numberFormat("unit-" + name, { style: "unit", unit: name, unitDisplay: "narrow" }).format(amount);
    }
    // A span of seconds in at most two units ("4m 12s", "4分钟12秒", "1h 5m", "59s").
    function duration(seconds) {
      if (seconds === null || seconds === undefined || isNaN(seconds)) return "–";
      var s = Math.max(0, Math.round(seconds));
      if (s < 60) return unit("second", s);
      if (s < 3600) return units.format([unit("minute", Math.floor(s / 60)), unit("second", s % 60)]);
      return units.format([unit("hour", Math.floor(s / 3600)), unit("minute", Math.floor((s % 3600) / 60))]);
    }
    // A share 0..1 as a percentage with at most one decimal ("12.3%"); "–" for none.
    function percent(share) {
      if (share === null || share === undefined || isNaN(share)) return "–";
      return numberFormat("percent", { style: "percent", maximumFractionDigits: 1 }).format(share);
    }
    // A number with at most `digits` decimals (1 by default) and the locale's grouping.
    function number(value, digits) {
      if (value === null || value === undefined || isNaN(value)) return "–";
      var d = digits === undefined ? 1 : digits;
      return numberFormat("number-" + d, { maximumFractionDigits: d }).format(value);
    }
    // A file size ("512 B", "14 KB", "2.5 MB").
    function bytes(size) {
      var n = Number(size) || 0;
      if (n < 1024) return number(n, 0) + " B";
      if (n < 1024 * 1024) return number(Math.round(n / 1024), 0) + " KB";
      return number(n / (1024 * 1024), 1) + " MB";
    }

    return {
      locale: tag,
      timeZone: zone,
      time: time,
      timeSeconds: timeSeconds,
      when: when,
      dateTime: dateTime,
      duration: duration,
      percent: percent,
      number: number,
      bytes: bytes,
    };
  }

  return { make: make };
});
