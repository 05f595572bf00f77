/* Tag chips take their colour from data-tag-color: set through the CSSOM, since the Content-Security-Policy
   allows no inline style attributes (docs/deployment.md). */
(function () {
  "use strict";
  function paint(root) {
    root.querySelectorAll("[data-tag-color]").forEach(function (chip) {
      var color = chip.getAttribute("data-tag-color") || "";
      if (/^#[0-9a-fA-F]{6}$/.test(color)) chip.style.setProperty("--tag", color);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { paint(document); });
  } else {
    paint(document);
  }
})();
