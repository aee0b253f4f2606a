// The desk's side panel: a plain click on a link to a booking (a block on the day board, a
// name on Today, a patient's visit...) opens the booking's page in a panel over the right of
// the page instead of leaving it. The panel is the booking page's main content, fetched with
// "X-Panel: 1" (web/booking_actions.py); its forms post to the same endpoints and the answer
// (the server's redirect, or the page with its error) is shown in the panel, then the page
// behind refreshes. Ctrl/Cmd/Shift/middle click, "open in new tab", a narrow screen (a phone)
// and a browser without this script all go to the booking's page as before. While the panel is
// open the address bar shows the booking (a reload or a copied link opens its page) and Back
// closes the panel.
(function () {
  "use strict";

  var BOOKING_PATH = /^\/admin\/bookings\/\d+$/;
  var WIDE_ENOUGH = window.matchMedia("(min-width: 700px)");
  // The page behind the panel, as loaded (the address bar shows the booking while it is open).
  var PAGE_URL = window.location.href;
  var ON_BOOKING_PAGE = BOOKING_PATH.test(window.location.pathname);
  var dialog = null;
  var content = null;
  var fullPage = null;
  var opener = null;   // the link that opened the panel, to give focus back on close
  var openerHref = "";

  function bookingLink(target) {
    var link = target instanceof Element ? target.closest("a[href]") : null;
    if (!link || link.hasAttribute("download") || (link.target && link.target !== "_self")) {
      return null;
    }
    var url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || !BOOKING_PATH.test(url.pathname)) { return null; }
    return link;
  }

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "panel";
    dialog.setAttribute("aria-labelledby", "booking-title");
    var bar = document.createElement("div");
    bar.className = "panel__bar";
    fullPage = document.createElement("a");
    fullPage.className = "panel__full";
    fullPage.textContent = "Open full page";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "button button--quiet panel__close";
    close.innerHTML = 'Close<span class="visually-hidden"> the booking panel</span>';
    close.addEventListener("click", function () { dialog.close(); });
    bar.appendChild(fullPage);
    bar.appendChild(close);
    content = document.createElement("div");
    content.className = "panel__body";
    dialog.appendChild(bar);
    dialog.appendChild(content);
    document.body.appendChild(dialog);

    // A click on the backdrop (the page left of the panel) closes it.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog && event.clientX < dialog.getBoundingClientRect().left) {
        dialog.close();
      }
    });
    dialog.addEventListener("close", function () {
      // Closed by Esc or a button: the history entry of the panel goes too.
      if (inPanelEntry()) { window.history.back(); }
      giveFocusBack();
    });
    dialog.addEventListener("click", followInside);
    dialog.addEventListener("submit", submitInside);
  }

  // Back to the link that opened the panel; the board may have redrawn it meanwhile.
  function giveFocusBack() {
    var target = opener && opener.isConnected ? opener : null;
    if (!target && openerHref) {
      target = document.querySelector('a[href="' + openerHref.replace(/"/g, "") + '"]');
    }
    if (target) { target.focus(); }
  }

  // What the server answered, in the panel. Returns false when the answer is not a panel
  // fragment (signed out, an error page): the caller goes to a full page instead.
  function show(response, html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fragment = doc.querySelector("[data-panel-fragment]");
    if (!fragment) { return false; }
    var path = new URL(response.url).pathname;
    content.replaceChildren(document.importNode(fragment, true));
    if (BOOKING_PATH.test(path)) {
      fullPage.href = path;
      addressBar(path);
    }
    if (!dialog.open) { dialog.showModal(); }
    dialog.scrollTop = 0;
    // Focus the result of an action or the error to fix, else the booking's name.
    var first = content.querySelector("[data-focus-on-load]") ||
      content.querySelector("[data-panel-result]") || content.querySelector("#booking-title");
    if (first) {
      if (!first.hasAttribute("tabindex")) { first.setAttribute("tabindex", "-1"); }
      first.focus();
    }
    return true;
  }

  function inPanelEntry() {
    return Boolean(window.history.state && window.history.state.panel);
  }

  function addressBar(path) {
    var state = { panel: path };
    if (inPanelEntry()) {
      window.history.replaceState(state, "", path);
    } else if (window.location.pathname !== path) {
      window.history.pushState(state, "", path);
    }
  }

  function request(url, init) {
    init.credentials = "same-origin";
    init.cache = "no-store";
    init.headers = { "X-Panel": "1" };
    return fetch(url, init).then(function (response) {
      return response.text().then(function (html) { return { response: response, html: html }; });
    });
  }

  // The booking at url in the panel, else its page.
  function load(url) {
    if (!dialog) { build(); }
    return request(url, { method: "GET" })
      .then(function (answer) {
        if (!show(answer.response, answer.html)) { window.location.assign(url); }
      })
      .catch(function () { window.location.assign(url); });
  }

  function open(link) {
    opener = link;
    openerHref = link.getAttribute("href");
    link.setAttribute("aria-busy", "true");
    load(link.href).then(function () { link.removeAttribute("aria-busy"); });
  }

  // A link to another booking inside the panel (moved from / to) stays in the panel; any
  // other link (move to another time, the day board) leaves the page as usual.
  function followInside(event) {
    if (event.defaultPrevented || !isPlainClick(event)) { return; }
    var link = bookingLink(event.target);
    if (!link || !content.contains(link)) { return; }
    event.preventDefault();
    load(link.href);
  }

  // A form of the booking (check in, cancel...) posts from the panel: the same endpoint, the
  // same fields (a url-encoded body, as the browser would send), the answer shown here.
  function submitInside(event) {
    var form = event.target;
    // getAttribute: form.action and form.method would be the status forms' <input name="action">.
    if (!(form instanceof HTMLFormElement) || (form.getAttribute("method") || "").toLowerCase() !== "post") {
      return;
    }
    var action = new URL(form.getAttribute("action") || "", window.location.href);
    if (action.origin !== window.location.origin || action.pathname.indexOf("/admin/bookings/") !== 0) {
      return;
    }
    // A second press: app.js's guard refuses it.
    if (form.dataset.submitted === "true") { return; }
    event.preventDefault();
    var data;
    try { data = new FormData(form, event.submitter); } catch (e) { data = new FormData(form); }
    request(action.href, { method: "POST", body: new URLSearchParams(data) })
      .then(function (answer) {
        if (!show(answer.response, answer.html)) {
          if (answer.response.redirected) { window.location.assign(answer.response.url); return; }
          content.replaceChildren(notShown());
        }
        document.dispatchEvent(new CustomEvent("scheduler:booking-changed"));
      })
      .catch(function () { content.replaceChildren(notShown()); });
  }

  function notShown() {
    var p = document.createElement("p");
    p.className = "notice--warn";
    p.setAttribute("role", "alert");
    p.textContent = "The answer could not be shown here. Use \u201cOpen full page\u201d to see the booking as it is now.";
    return p;
  }

  function isPlainClick(event) {
    return event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey;
  }

  // Pages other than the board (it has its own refresh, board.js) redraw the parts marked
  // data-refresh (Today's arrivals, a patient's visits) after a change made in the panel.
  function refreshRegions() {
    var regions = document.querySelectorAll("[data-refresh][id]");
    if (!regions.length) { return; }
    fetch(PAGE_URL, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("stale"); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        regions.forEach(function (region) {
          var fresh = doc.getElementById(region.id);
          if (fresh) { region.innerHTML = fresh.innerHTML; }
        });
      })
      .catch(function () { /* the page stays as it was; a reload shows the change */ });
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || !isPlainClick(event) || !WIDE_ENOUGH.matches) { return; }
    if (ON_BOOKING_PAGE) { return; }
    var link = bookingLink(event.target);
    if (!link || (dialog && dialog.contains(link))) { return; }
    event.preventDefault();
    open(link);
  });
  document.addEventListener("scheduler:booking-changed", refreshRegions);
  // Back closes the panel; Forward opens it again.
  window.addEventListener("popstate", function () {
    if (inPanelEntry()) {
      if (!dialog || !dialog.open) { load(window.history.state.panel); }
    } else if (dialog && dialog.open) {
      dialog.close();
    }
  });
})();
