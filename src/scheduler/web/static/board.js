// The day board's convenience: it refreshes itself every 30 seconds while visible, so the
// desk sees check-ins and new bookings without reloading. The page works without this script.
(function () {
  "use strict";

  var PERIOD_MS = 30000;

  function refresh() {
    var region = document.querySelector(".board-scroll");
    if (!region || document.visibilityState !== "visible") { return; }
    // Never pull the page from under someone choosing a date or location.
    var active = document.activeElement;
    if (active && active.closest && active.closest("form")) { return; }
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        // Signed out meanwhile: stop; the next click shows the sign-in page.
        if (!response.ok || response.redirected) { throw new Error("stale"); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".board-scroll");
        if (!fresh) { return; }
        var focused = active && region.contains(active) ? active.getAttribute("data-booking") : null;
        var scroll = region.scrollLeft;
        region.innerHTML = fresh.innerHTML;
        region.scrollLeft = scroll;
        if (focused) {
          var again = region.querySelector('[data-booking="' + focused + '"]');
          if (again) { again.focus(); }
        }
      })
      .catch(function () { window.clearInterval(timer); });
  }

  var timer = window.setInterval(refresh, PERIOD_MS);
})();
