(function () {
  "use strict";
  var node = document.getElementById("sv-report-data");
  if (!node) return;
  var rows = JSON.parse(node.textContent) || [];
  var buckets = [], names = [];
  rows.forEach(function (r) {
    if (buckets.indexOf(r.bucket) < 0) buckets.push(r.bucket);
    if (names.indexOf(r.name) < 0) names.push(r.name);
  });
  function series(field, scale) {
    return names.map(function (name) {
      return {
        name: name,
        values: buckets.map(function (b) {
          var row = rows.find(function (r) { return r.bucket === b && r.name === name; });
          return row && row[field] !== null ? row[field] * (scale || 1) : null;
        })
      };
    });
  }
  var labels = buckets.map(function (b) { return b.slice(5); });
  var gettext = window.gettext, interpolate = window.interpolate, F = window.SwitchboardFormat;
  window.SvCharts.bars(document.getElementById("sv-report-volume"), { labels: labels, series: series("volume") });
  var sl = series("service_level", 100).map(function (s) { return { name: interpolate(gettext("%s service level"), [s.name]), values: s.values }; });
  var ab = series("abandonment", 100).map(function (s) { return { name: interpolate(gettext("%s abandoned"), [s.name]), values: s.values }; });
  window.SvCharts.lines(document.getElementById("sv-report-sl"), {
    labels: labels, series: sl.concat(ab), max: 100, format: function (v) { return F.percent(Math.round(v) / 100); }
  });
})();
