/* Times the server wrote into a page (`<time datetime="…" data-local>`) shown again in the viewer's time zone
   and the page's language (static/shared/format.js, loaded before this). Without script the server's text
   stays. */
(function () {
  "use strict";
  var F = window.SwitchboardFormat;
  if (!F) return;
  document.querySelectorAll("time[data-local][datetime]").forEach(function (node) {
    var text = F.dateTime(node.getAttribute("datetime"));
    if (text) node.textContent = text;
  });
})();
