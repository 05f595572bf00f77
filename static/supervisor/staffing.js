(function () {
  "use strict";
  document.querySelectorAll("section.sv-staffing").forEach(function (section) {
    var data = JSON.parse(section.querySelector('script[type="application/json"]').textContent);
    window.SvCharts.bars(section.querySelector("svg"), {
      labels: data.map(function (s) { return s.start; }),
      series: [
        { name: "agents needed", values: data.map(function (s) { return s.agents_needed; }) },
        { name: "agents staffed", values: data.map(function (s) { return s.agents_staffed; }), color: "#1a7f37" }
      ],
      format: function (v) { return Math.round(v * 10) / 10; }
    });
  });
})();
