/* Small SVG charts for the supervisor pages: bars and lines, no library, nothing fetched. Numbers in the
   page's language (static/shared/format.js, when the page loads it); the caller names the series. */
(function () {
  "use strict";
  function defaultFormat(v) {
    // Ticks below 1 (a small maximum split in four) keep two decimals: 0.25, 0.5, 0.75.
    var digits = Math.abs(v) < 1 ? 2 : 1;
    return window.SwitchboardFormat ? window.SwitchboardFormat.number(v, digits) : String(Math.round(v * 100) / 100);
  }
  // The width of a legend label: CJK characters are about twice as wide as Latin ones.
  function textWidth(text) {
    var width = 0;
    for (var i = 0; i < text.length; i++) width += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(text[i]) ? 11 : 6.5;
    return width;
  }
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#1f6feb", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#6e7781"];

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function frame(svg, opts) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var width = opts.width || 560, height = opts.height || 220;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
    return { width: width, height: height, left: 40, right: 10, top: 10, bottom: 42 };
  }

  function axis(svg, box, max, format) {
    var plotH = box.height - box.top - box.bottom;
    for (var i = 0; i <= 4; i++) {
      var value = max * i / 4, y = box.top + plotH - plotH * i / 4;
      svg.appendChild(el("line", { x1: box.left, x2: box.width - box.right, y1: y, y2: y, class: "sv-grid" }));
      svg.appendChild(el("text", { x: box.left - 4, y: y + 4, "text-anchor": "end", class: "sv-tick" }, format(value)));
    }
  }

  function labelsX(svg, box, labels, step) {
    var plotW = box.width - box.left - box.right;
    var every = Math.max(1, Math.ceil(labels.length / 12));
    labels.forEach(function (label, i) {
      if (i % every) return;
      var x = box.left + step * (i + 0.5);
      svg.appendChild(el("text", { x: x, y: box.height - box.bottom + 14, "text-anchor": "middle", class: "sv-tick" }, label));
    });
    return plotW;
  }

  /* bars(svg, {labels: [...], series: [{name, values}], max?, format?}) grouped bars */
  function bars(svg, data) {
    var box = frame(svg, data);
    var format = data.format || defaultFormat;
    var all = [];
    data.series.forEach(function (s) { all = all.concat(s.values.filter(function (v) { return v !== null; })); });
    var max = data.max || Math.max.apply(null, all.concat([1]));
    axis(svg, box, max, format);
    var plotW = box.width - box.left - box.right, plotH = box.height - box.top - box.bottom;
    var step = plotW / Math.max(1, data.labels.length);
    var barW = Math.max(2, (step * 0.8) / Math.max(1, data.series.length));
    data.series.forEach(function (s, si) {
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) return;
        var h = plotH * Math.min(v, max) / max;
        var rect = el("rect", {
          x: box.left + step * i + step * 0.1 + barW * si, y: box.top + plotH - h, width: barW, height: h,
          fill: s.color || PALETTE[si % PALETTE.length]
        });
        rect.appendChild(el("title", {}, s.name + " · " + data.labels[i] + ": " + format(v)));
        svg.appendChild(rect);
      });
    });
    labelsX(svg, box, data.labels, step);
    legend(svg, box, data.series);
  }

  /* lines(svg, {labels, series: [{name, values}], max?, format?}) */
  function lines(svg, data) {
    var box = frame(svg, data);
    var format = data.format || defaultFormat;
    var all = [];
    data.series.forEach(function (s) { all = all.concat(s.values.filter(function (v) { return v !== null; })); });
    var max = data.max || Math.max.apply(null, all.concat([1]));
    axis(svg, box, max, format);
    var plotW = box.width - box.left - box.right, plotH = box.height - box.top - box.bottom;
    var step = plotW / Math.max(1, data.labels.length);
    data.series.forEach(function (s, si) {
      var points = [];
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) return;
        points.push((box.left + step * (i + 0.5)).toFixed(1) + "," + (box.top + plotH - plotH * Math.min(v, max) / max).toFixed(1));
      });
      if (points.length) {
        svg.appendChild(el("polyline", { points: points.join(" "), fill: "none", stroke: s.color || PALETTE[si % PALETTE.length], "stroke-width": 2 }));
      }
    });
    labelsX(svg, box, data.labels, step);
    legend(svg, box, data.series);
  }

  function legend(svg, box, series) {
    var x = box.left;
    series.forEach(function (s, si) {
      svg.appendChild(el("rect", { x: x, y: box.height - 14, width: 10, height: 10, fill: s.color || PALETTE[si % PALETTE.length] }));
      var text = el("text", { x: x + 14, y: box.height - 5, class: "sv-tick" }, s.name);
      svg.appendChild(text);
      x += 24 + textWidth(String(s.name));
    });
  }

  window.SvCharts = { bars: bars, lines: lines, palette: PALETTE };
})();
