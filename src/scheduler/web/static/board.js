// The day board's conveniences: it refreshes itself every 30 seconds while visible and at once
// after a change made in the booking side panel, so the desk sees check-ins and new bookings
// without reloading, and on a narrow screen it opens the time axis where the visits are. The
// page works without this script.
(function () {
  "use strict";

  var PERIOD_MS = 30000;
  // The board as loaded: the address bar shows a booking while the side panel is open.
  var BOARD_URL = window.location.href;

  function refresh() {
    var region = document.querySelector(".board-scroll");
    if (!region || document.visibilityState !== "visible") { return; }
    // Never pull the page from under someone choosing a date or location.
    var active = document.activeElement;
    if (active && active.closest && active.closest("form")) { return; }
    fetch(BOARD_URL, { credentials: "same-origin", cache: "no-store" })
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

  // On a tablet or a phone the time axis scrolls inside its frame: open it at the booking
  // just made, else at "now", else at the first visit, so the day's visits are in view.
  function reveal() {
    var region = document.querySelector(".board-scroll");
    if (!region || region.scrollWidth <= region.clientWidth) { return; }
    var target = region.querySelector(".is-highlight") || region.querySelector(".board-now") ||
      region.querySelector("[data-booking]");
    if (!target) { return; }
    var left = target.getBoundingClientRect().left - region.getBoundingClientRect().left;
    region.scrollLeft = Math.max(0, region.scrollLeft + left - region.clientWidth * 0.5);
  }

  reveal();
  // A tablet turned, or a window narrowed until the axis scrolls: open it the same way,
  // unless someone has already scrolled it themselves.
  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(function () {
      var region = document.querySelector(".board-scroll");
      if (region && region.scrollLeft === 0) { reveal(); }
    }, 150);
  });
  var timer = window.setInterval(refresh, PERIOD_MS);
  // A booking changed from the side panel (panel.js): show it now, not in 30 seconds.
  document.addEventListener("scheduler:booking-changed", refresh);
})();
