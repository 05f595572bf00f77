(function () {
  "use strict";
  var gettext = window.gettext;
  document.querySelectorAll("section.sv-staffing").forEach(function (section) {
    var data = JSON.parse(section.querySelector('script[type="application/json"]').textContent);
    window.SvCharts.bars(section.querySelector("svg"), {
      labels: data.map(function (s) { return s.start; }),
      series: [
        { name: gettext("agents needed"), values: data.map(function (s) { return s.agents_needed; }) },
        { name: gettext("agents staffed"), values: data.map(function (s) { return s.agents_staffed; }), color: "#1a7f37" }
      ]
    });
  });
})();
