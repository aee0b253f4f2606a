// The patient pages' conveniences; every step works without this script.
(function () {
  "use strict";

  // The held time's countdown ("9 min 41 s left"); at zero the page says the hold has run out.
  function countdown() {
    var node = document.querySelector("[data-countdown]");
    if (!node) { return; }
    var end = Date.now() + parseInt(node.getAttribute("data-countdown"), 10) * 1000;
    function tick() {
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      node.textContent = minutes + " min " + (seconds < 10 ? "0" : "") + seconds + " s";
      if (left === 0) {
        node.textContent = "no time";
        return;
      }
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", countdown);
  } else {
    countdown();
  }
})();
